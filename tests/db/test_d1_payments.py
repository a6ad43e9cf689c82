"""The payment route tests, run again with the app on a local D1 (and the local Xendit).

Same approach as test_d1_app.py: the tests written for the embedded backend are collected
here with `settings` pointing the app at D1 through the bridge, each on an empty D1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from boothcloud.settings import Settings
from tests.db.d1server import Bridge
from tests.db.test_d1_app import _route_tests, app_bridge, drop_everything
from tests.fakes.xendit_server import FakeXendit
from tests.payments import (
    test_create,
    test_fees,
    test_guarantee,
    test_idempotency,
    test_qris,
    test_reading,
    test_reconcile,
    test_refund_callbacks,
    test_refunds,
    test_sessions,
    test_webhook,
)
from tests.payments.conftest import payment_settings, xendit, xendit_server
from tests.payments.test_webhook import payment

pytestmark = pytest.mark.d1
__all__ = ["app_bridge", "payment", "xendit", "xendit_server"]  # fixtures used here


@pytest.fixture
async def settings(app_bridge: Bridge, tmp_path: Path, xendit: FakeXendit) -> Settings:
    await drop_everything(app_bridge)
    return payment_settings(
        tmp_path / "data",
        xendit,
        database_backend="d1",
        d1_url=app_bridge.url,
        d1_token=app_bridge.token,
    )


for _module in (
    test_create,
    test_fees,  # the fee the INSERT picks by the tier it reads
    test_qris,
    test_idempotency,
    test_reading,
    test_reconcile,
    test_refunds,
    test_refund_callbacks,
    test_guarantee,
    test_sessions,
    test_webhook,
):
    globals().update(_route_tests(_module))
