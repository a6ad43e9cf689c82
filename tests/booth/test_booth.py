"""The booth side end to end, all real: photobooth-app 9.0.0 with boothcloud's plugin, the
agent as its own process, `boothcloud serve` on SQLite with SeaweedFS, CUPS with CUPS-PDF."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from boothcloud_client.agent.outbox import photo_id_for

from tests.booth.conftest import AgentHome, PdfPrinter, Photobooth, stop, wait_for
from tests.clients.conftest import Booth, new_booth, s3_settings
from tests.conftest import ADMIN
from tests.live import Served, serve_process
from tests.s3server import S3Server, s3_server  # noqa: F401 - the session fixture

pytestmark = pytest.mark.s3


@pytest.fixture
def served(tmp_path: Path, s3_server: S3Server) -> Iterator[Served]:  # noqa: F811
    with serve_process(tmp_path / "data", **s3_settings(s3_server)) as server:
        yield server


def photos(booth: Booth, **filters: str) -> list[dict[str, Any]]:
    """Every photo of the booth's customer, as the operator lists them."""
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {"customer_id": booth.customer_id, "limit": "200", **filters}
    while True:
        page = httpx.get(f"{booth.url}/api/photos", params=params, headers=ADMIN).json()
        found += page["items"]
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


def activate(agent: AgentHome, booth: Booth, *queues: str) -> None:
    printers = [arg for queue in queues for arg in ("--printer", queue)]
    agent.run("activate", "--server", booth.url, "--license-key", booth.license_key, *printers)


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
