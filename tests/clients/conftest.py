"""A live `boothcloud serve` on SQLite with SeaweedFS for the client library's tests.

The client is driven exactly as a booth PC drives it: over real HTTP, uploads going to
presigned URLs of the real S3 server. One server per module; each test makes its own
customer (a booth), so tests do not see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import ADMIN
from tests.live import Served, serve_process
from tests.s3server import S3Server, s3_server  # noqa: F401 - the session fixture


def s3_settings(s3: S3Server) -> dict[str, str]:
    """`serve_process` settings (environment strings) pointing the server at `s3`."""
    return {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in s3.settings().items()
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Served]:  # noqa: F811
    data = tmp_path_factory.mktemp("client") / "data"
    with serve_process(data, **s3_settings(s3_server)) as served:
        yield served


@dataclass(frozen=True)
class Booth:
    url: str
    customer_id: str
    license_key: str


def new_booth(url: str, **fields: str) -> Booth:
    """A customer created by the operator over HTTP: its license key is the booth's."""
    body = {"name": "Client Studio", "email": f"c-{uuid.uuid4().hex}@example.com", **fields}
    response = httpx.post(f"{url}/api/customers", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    customer = response.json()
    return Booth(url, customer["id"], customer["license_key"])


@pytest.fixture
def booth(server: Served) -> Booth:
    return new_booth(server.url)
