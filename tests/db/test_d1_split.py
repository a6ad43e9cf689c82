"""The split rule, venue and export tests, run again with the app on a local D1.

Same approach as test_d1_payments.py; the settings add the platform account (split rules
on) as tests/payments/test_split.py's do. The rule's one-creator lease and its UNIQUE
hash are single conditional statements, so D1 (no interactive transactions) must hold
them exactly as SQLite does: the concurrency test runs here too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from boothcloud.settings import Settings
from tests.db.d1server import Bridge
from tests.db.test_d1_app import _route_tests, app_bridge, drop_everything
from tests.fakes.xendit_server import FakeXendit
from tests.payments import test_export, test_split
from tests.payments.conftest import payment_settings, xendit, xendit_server

pytestmark = pytest.mark.d1
__all__ = ["app_bridge", "xendit", "xendit_server"]  # fixtures used here


@pytest.fixture
async def settings(app_bridge: Bridge, tmp_path: Path, xendit: FakeXendit) -> Settings:
    await drop_everything(app_bridge)
    return payment_settings(
        tmp_path / "data",
        xendit,
        database_backend="d1",
        d1_url=app_bridge.url,
        d1_token=app_bridge.token,
        **test_split.SPLIT,
    )


for _module in (test_split, test_export):
    globals().update(_route_tests(_module))
