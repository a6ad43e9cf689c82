"""A booth keeps calling through an outage: the call made while boothcloud is down lands
once it is back, once (the client-chosen id makes the retries safe)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import httpx
import pytest
from boothcloud_client import Client, Photo, RetryPolicy

from tests.clients.conftest import new_booth, s3_settings
from tests.live import free_port, serve_process
from tests.s3server import S3Server

pytestmark = pytest.mark.s3
JPEG = b"\xff\xd8\xff\xe0 taken during the outage \xff\xd9"


def test_a_capture_during_an_outage_is_logged_once_when_the_server_returns(
    tmp_path: Path, s3_server: S3Server
) -> None:
    port, data, settings = free_port(), tmp_path / "data", s3_settings(s3_server)
    url = f"http://127.0.0.1:{port}"
    with serve_process(data, port=port, **settings):
        booth = new_booth(url)
        with Client(url, booth.license_key) as client:
            printer = client.create_printer("DNP")

    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/readyz")  # down: the capture below starts against nothing
    photo_id = uuid.uuid4()
    landed: list[Photo] = []
    patient = RetryPolicy(attempts=200, base_delay=0.2, max_delay=1.0)

    def capture() -> None:
        with Client(url, booth.license_key, retry=patient) as client:
            landed.append(client.log_photo(JPEG, photo_id, printer_id=printer.id))

    booth_pc = threading.Thread(target=capture)
    booth_pc.start()
    with serve_process(data, port=port, **settings):
        booth_pc.join(timeout=200)
        assert not booth_pc.is_alive()
        with Client(url, booth.license_key) as client:
            photos = client.list_photos().items
            assert [p.id for p in photos] == [str(photo_id)]
            assert landed[0].uploaded_at is not None
            claimed = client.claim(printer.id)
            assert claimed is not None
            assert claimed.download_url is not None
            assert client.download(claimed.download_url) == JPEG
