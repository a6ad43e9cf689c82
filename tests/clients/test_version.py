"""The API version: stated on every answer, checked by the client on every call."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from boothcloud_client import BoothcloudError, Client, IncompatibleServer

from tests.live import Served
from tests.s3server import S3Server

pytestmark = pytest.mark.s3


def test_every_answer_states_the_api_version(server: Served) -> None:
    for path in ("/api/version", "/readyz", "/api/photos", "/no/such/route"):
        assert httpx.get(server.url + path).headers["Boothcloud-Api-Version"] == "1"
    info = httpx.get(server.url + "/api/version").json()
    assert info == {"api_version": 1, "server_version": "0.1.0"}


class _FutureServer(BaseHTTPRequestHandler):
    """A real HTTP server answering like a boothcloud of API version 99 would."""

    def do_GET(self) -> None:
        body = b'{"api_version": 99, "server_version": "9.0.0"}'
        self.send_response(200)
        self.send_header("Boothcloud-Api-Version", "99")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def future_server() -> Iterator[str]:
    http = ThreadingHTTPServer(("127.0.0.1", 0), _FutureServer)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        http.server_close()


def test_a_newer_api_is_refused_with_upgrade_advice(future_server: str) -> None:
    with Client(future_server, "PB-X") as client, pytest.raises(IncompatibleServer) as refused:
        client.printers()
    assert "API version 99" in refused.value.detail
    assert "upgrade the client" in refused.value.detail
    assert isinstance(refused.value, BoothcloudError)
    assert not refused.value.transient


def test_a_server_stating_no_version_is_refused(s3_server: S3Server) -> None:
    """SeaweedFS stands for anything that is not a boothcloud (a wrong URL, a captive
    portal's page): no version header, so the client will not read its answers."""
    with Client(s3_server.endpoint_url) as client, pytest.raises(IncompatibleServer) as refused:
        client.version()
    assert "without Boothcloud-Api-Version" in refused.value.detail
