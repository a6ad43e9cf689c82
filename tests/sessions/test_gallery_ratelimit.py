"""Share-page lookups are rate-limited per client (a guessing client is slowed down)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from boothcloud.settings import Settings
from tests.conftest import make_settings
from tests.sessions.helpers import open_session


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", gallery_rate_limit_per_minute=3)


async def test_lookups_are_rate_limited_per_client(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    session = await open_session(client, booth)
    answers = [(await client.get(f"/s/{session['share_code']}")).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    limited = await client.get("/s/some-guess")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
