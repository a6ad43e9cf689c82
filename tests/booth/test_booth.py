"""The booth side end to end, all real: photobooth-app 9.0.0 with boothcloud's plugin, the
agent as its own process, `boothcloud serve` on SQLite with SeaweedFS, CUPS with CUPS-PDF."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from boothcloud_client.agent.outbox import photo_id_for

from tests.booth.conftest import (
    AgentHome,
    PdfPrinter,
    Photobooth,
    activate,
    jpeg,
    photos,
    stop,
    wait_for,
)
from tests.clients.conftest import new_booth, s3_settings
from tests.conftest import ADMIN
from tests.live import Served, free_port, serve_process
from tests.s3server import S3Server

# The first run creates .venv-photobooth (pip, about a minute or two) inside the first test.
pytestmark = [pytest.mark.s3, pytest.mark.timeout(900)]


def test_five_captures_are_logged_uploaded_and_printed_once(
    served: Served,
    agent_home: AgentHome,
    pdf_printer: PdfPrinter,
    photobooth_factory: Callable[[Path], Photobooth],
) -> None:
    booth = new_booth(served.url)
    activate(agent_home, booth, pdf_printer.queue)
    photobooth = photobooth_factory(agent_home.home)
    agent = agent_home.start("print", "--interval", "0.2", "--heartbeat", "5")
    try:
        captured = [photobooth.capture() for _ in range(5)]
        wanted = {photo_id_for(path): path for path in captured}
        wait_for(
            "five completed prints",
            lambda: len(photos(booth, print_status="completed")) == 5,
        )
    finally:
        stop(agent)
    logged = photos(booth)
    assert sorted(p["id"] for p in logged) == sorted(wanted)
    assert {p["print_status"] for p in logged} == {"completed"}
    for photo in logged:
        detail = httpx.get(f"{booth.url}/api/photos/{photo['id']}", headers=ADMIN).json()
        assert httpx.get(detail["download_url"]).content == wanted[photo["id"]].read_bytes()
    pdfs = pdf_printer.pdfs()
    assert len(pdfs) == 5
    assert {pdf.name.split("__")[0] for pdf in pdfs} == set(wanted)  # titled with the id
    # photobooth-app's own share screen points at the session's guest gallery.
    session_id = logged[0]["session_id"]
    assert session_id is not None
    session = httpx.get(f"{booth.url}/api/sessions/{session_id}", headers=ADMIN).json()
    assert photobooth.share_links(captured[0]) == [session["share_url"]]
    assert "/s/" in session["share_url"]
    assert agent_home.waiting() == 0


def test_an_outage_loses_nothing_and_logs_nothing_twice(
    tmp_path: Path,
    s3_server: S3Server,
    agent_home: AgentHome,
    photobooth_factory: Callable[[Path], Photobooth],
) -> None:
    """Ten captures while boothcloud is down are logged once each, in capture order, when it
    is back; then an agent killed with SIGKILL again and again mid-drain still logs ten more
    exactly once (and opens each guest session once)."""
    port, data = free_port(), tmp_path / "data"
    settings = s3_settings(s3_server)
    with serve_process(data, port=port, **settings) as server:
        booth = new_booth(server.url)
        activate(agent_home, booth)
    photobooth = photobooth_factory(agent_home.home)
    agent = agent_home.start("run", "--interval", "0.2", "--heartbeat", "2")
    try:
        captured = [photobooth.capture() for _ in range(10)]  # boothcloud is down
        # A session and ten photos wait, in order (the hook runs just after the file lands).
        wait_for("eleven entries waiting", lambda: agent_home.waiting() == 11)
        with serve_process(data, port=port, **settings):
            wait_for("the drain", lambda: agent_home.waiting() == 0)
            stop(agent)
            logged = photos(booth)
            assert sorted(p["id"] for p in logged) == sorted(photo_id_for(p) for p in captured)
            created = {p["id"]: p["created_at"] for p in logged}
            in_capture_order = [created[photo_id_for(p)] for p in captured]
            assert in_capture_order == sorted(in_capture_order)
            assert len({p["session_id"] for p in logged}) == 1

            # kill -9 in the middle of draining, again and again, until all is drained.
            queued = [jpeg(tmp_path, i) for i in range(10)]
            agent_home.run("close-session")
            agent_home.run("capture", *map(str, queued))
            kills = 0
            while agent_home.waiting():
                before = len(photos(booth))
                drainer = agent_home.start("drain")
                wait_for(
                    "a photo drained (or the drain done)",
                    lambda b=before, d=drainer: len(photos(booth)) > b or d.poll() is not None,
                    every=0.01,
                )
                if drainer.poll() is None:
                    drainer.send_signal(signal.SIGKILL)
                    kills += 1
                drainer.wait()
            everything = photos(booth)
            sessions = httpx.get(
                f"{booth.url}/api/sessions",
                params={"customer_id": booth.customer_id, "limit": "200"},
                headers=ADMIN,
            ).json()["items"]
    finally:
        stop(agent)
    assert kills >= 1
    ids = [p["id"] for p in everything]
    assert len(ids) == len(set(ids)) == 20
    assert set(ids) >= {photo_id_for(p) for p in queued}
    for photo in everything:
        assert photo["uploaded_at"] is not None
    assert len(sessions) == 2  # one per guest visit, however often the agent died


def test_a_stopped_printer_claims_nothing_and_the_operator_sees_it(
    served: Served, agent_home: AgentHome, pdf_printer: PdfPrinter, tmp_path: Path
) -> None:
    booth = new_booth(served.url)
    activate(agent_home, booth, pdf_printer.queue)
    agent_home.run("capture", *(str(jpeg(tmp_path, i)) for i in range(3)))
    agent_home.run("drain")
    agent_home.cups.run("cupsdisable", pdf_printer.queue)
    agent = agent_home.start("print", "--interval", "0.2", "--heartbeat", "0.2")

    def stopped_rows() -> list[dict[str, Any]]:
        rows = httpx.get(
            f"{booth.url}/api/licenses/stopped-printers",
            params={"customer_id": booth.customer_id},
            headers=ADMIN,
        ).json()["items"]
        return [r for r in rows if r["name"] == pdf_printer.queue]

    def seen_at() -> str:
        activations = httpx.get(
            f"{booth.url}/api/licenses/activations",
            params={"customer_id": booth.customer_id},
            headers=ADMIN,
        ).json()["items"]
        return str(activations[0]["last_seen_at"])

    try:
        (row,) = wait_for("the heartbeat to report the stopped printer", stopped_rows)
        # Two more heartbeats: the agent went through whole rounds (claim included) since.
        first = seen_at()
        second = wait_for("a later heartbeat", lambda: (s := seen_at()) != first and s)
        wait_for("yet another heartbeat", lambda: seen_at() not in (first, second))
        assert {p["print_status"] for p in photos(booth)} == {"pending"}
        assert pdf_printer.pdfs() == []
        assert row["state"] == "stopped"
        assert row["reason"]
        agent_home.cups.run("cupsenable", pdf_printer.queue)
        wait_for(
            "the prints once the printer is back",
            lambda: {p["print_status"] for p in photos(booth)} == {"completed"},
        )
    finally:
        stop(agent)
    assert len(pdf_printer.pdfs()) == 3
