"""Settings as an operator writes them: environment variables, parsed by the real Settings.

Partial tier maps merge over the defaults (a payment and an activation count prove it
end to end), unknown tiers are refused by name, a stored license type that is no tier gets
the least tier's rules everywhere, and production refuses short secrets.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from boothcloud.app import create_app
from boothcloud.licenses.service import device_limit
from boothcloud.payments.service import policy_of
from boothcloud.sessions.service import gallery_expiry
from boothcloud.settings import TIERS, FeePolicy, Settings, tier_of
from tests.conftest import create_customer, license_auth, make_settings
from tests.fakes.xendit_server import RunningFake
from tests.payments.conftest import create_payment, payment_settings

STRONG = "s" * 32
PRODUCTION_SECRETS = {
    "BOOTHCLOUD_ADMIN_TOKEN": STRONG,
    "BOOTHCLOUD_XENDIT_CALLBACK_TOKEN": STRONG,
    "BOOTHCLOUD_URL_SIGNING_SECRET": STRONG,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets, and no `.env` from the checkout."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("BOOTHCLOUD_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def xendit_server() -> Iterator[RunningFake]:
    server = RunningFake()
    server.start()
    yield server
    server.stop()


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, apply_migrations=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


def test_partial_fee_policy_keeps_the_other_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOTHCLOUD_FEE_POLICY", '{"pro": {"basis_points": 200}}')
    fees = Settings().fee_policy
    assert fees == {
        "starter": FeePolicy(basis_points=500, minimum=500),
        "pro": FeePolicy(basis_points=200, minimum=300),  # the minimum keeps pro's default
        "enterprise": FeePolicy(basis_points=150, minimum=0),
    }


def test_nested_fee_variable_changes_one_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOTHCLOUD_FEE_POLICY__ENTERPRISE__MINIMUM", "100")
    fees = Settings().fee_policy
    assert fees["enterprise"] == FeePolicy(basis_points=150, minimum=100)
    assert fees["starter"] == FeePolicy(basis_points=500, minimum=500)


def test_partial_device_limits_keep_the_other_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOTHCLOUD_TIER_DEVICE_LIMITS", '{"starter": 2}')
    assert Settings().tier_device_limits == {"starter": 2, "pro": 3, "enterprise": None}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BOOTHCLOUD_TIER_DEVICE_LIMITS", '{"premium": 5, "starter": 1, "Pro": 2}'),
        ("BOOTHCLOUD_FEE_POLICY", '{"premium": {"basis_points": 100}, "Pro": {}}'),
    ],
)
def test_unknown_tiers_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert f"{variable} names unknown tier(s) Pro, premium" in message
    assert "the tiers are starter, pro, enterprise" in message


@pytest.mark.parametrize("stored", ["platinum", "", None, "Pro", " pro"])
def test_a_license_type_that_is_no_tier_gets_the_least_tiers_rules(
    tmp_path: Path, stored: str | None
) -> None:
    """The RFC's schema has no CHECK on `license_type` (a hand edit or an imported dump can
    hold anything): the device limit, the fee and the gallery lifetime all answer as for
    starter, never more (the device limit once answered unlimited)."""
    settings = make_settings(
        tmp_path,
        tier_device_limits={"starter": 2, "pro": 5, "enterprise": None},
        gallery_days={"starter": 3, "pro": 30, "enterprise": 90},
        fee_policy={"starter": {"basis_points": 700, "minimum": 900}},
    )
    opened = datetime(2026, 12, 2, 10, tzinfo=UTC)
    assert tier_of(stored) == "starter"
    assert device_limit(settings, stored) == 2
    assert policy_of(settings, stored or "") == FeePolicy(basis_points=700, minimum=900)
    assert gallery_expiry(settings, stored, opened) == opened + timedelta(days=3)
    assert [tier_of(tier) for tier in TIERS] == list(TIERS)


async def test_payment_of_a_tier_left_out_uses_its_default_fee(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xendit_server: RunningFake
) -> None:
    monkeypatch.setenv("BOOTHCLOUD_FEE_POLICY", '{"pro": {"basis_points": 200, "minimum": 0}}')
    xendit_server.fake.reset()
    async with running(payment_settings(tmp_path / "data", xendit_server.fake)) as client:
        starter = await create_customer(client, license_type="starter")
        pro = await create_customer(client, license_type="pro")
        starter_paid = await create_payment(client, license_auth(starter["license_key"]), 25_000)
        pro_paid = await create_payment(client, license_auth(pro["license_key"]), 25_000)
    assert starter_paid["platform_fee"] == 1_250  # the starter default, 5 %
    assert pro_paid["platform_fee"] == 500  # the configured 2 %


async def test_tier_left_out_keeps_its_device_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOOTHCLOUD_TIER_DEVICE_LIMITS", '{"starter": 2}')
    async with running(make_settings(tmp_path / "data")) as client:
        codes: dict[str, list[int]] = {}
        for tier in ("starter", "pro"):
            key = (await create_customer(client, license_type=tier))["license_key"]
            codes[tier] = [
                (
                    await client.post(
                        "/api/licenses/activations",
                        json={"fingerprint": f"booth-pc-{i:04}"},
                        headers=license_auth(key),
                    )
                ).status_code
                for i in range(4)
            ]
    assert codes == {"starter": [201, 201, 409, 409], "pro": [201, 201, 201, 409]}


@pytest.mark.parametrize("variable", sorted(PRODUCTION_SECRETS))
def test_production_refuses_short_secrets(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv("BOOTHCLOUD_ENVIRONMENT", "production")
    for name, value in PRODUCTION_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(variable, "x" * 31)
    with pytest.raises(ValidationError, match=f"{variable} must be at least 32 characters"):
        Settings()
    monkeypatch.setenv(variable, "x" * 32)
    assert Settings().environment == "production"


def test_short_secrets_are_fine_outside_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOTHCLOUD_ADMIN_TOKEN", "short")
    assert Settings().admin_token.get_secret_value() == "short"
