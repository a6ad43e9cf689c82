"""The split rule, venue and export tests, run again with the app on a local D1.

Same approach as test_d1_payments.py; the settings add the platform account (split rules
on) as tests/payments/test_split.py's do. The rule's one-creator lease and its UNIQUE
hash are single conditional statements, so D1 (no interactive transactions) must hold
them exactly as SQLite does: the concurrency test runs here too.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from boothcloud.deps import Services
from boothcloud.settings import Settings
from tests.conftest import license_auth
from tests.db.d1server import Bridge
from tests.db.test_d1_app import _route_tests, app_bridge, drop_everything
from tests.db.test_d1_round_trips import learned_booth, trips
from tests.fakes.xendit_server import FakeXendit
from tests.payments import test_export, test_split
from tests.payments.conftest import create_payment, payment_settings, xendit, xendit_server

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


async def test_split_payments_round_trips(
    client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    """Counted: a payment to a customer with a sub-account takes its split first (the
    batch that tries it without, the rule recorded, the payment, the rule's Xendit id,
    the invoice stored); one without a sub-account takes two, as without split rules."""
    customer = await test_split._sub_account_customer(client, services)
    booth = license_auth(customer["license_key"])
    await create_payment(client, booth, 25_000)  # learns the key, makes the rule at Xendit
    count, paid = await trips(
        services, client, "POST", "/api/payments", json={"amount": 40_000}, headers=booth
    )
    assert (count, paid.status_code) == (5, 201), paid.text
    assert paid.json()["xendit_split_rule_id"] in xendit.split_rules
    plain = await learned_booth(client)
    count, paid = await trips(
        services, client, "POST", "/api/payments", json={"amount": 40_000}, headers=plain
    )
    assert (count, paid.status_code, paid.json()["xendit_split_rule_id"]) == (2, 201, None), (
        paid.text
    )
