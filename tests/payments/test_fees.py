"""The platform fee: property-based over every tier, plus the documented rounding examples."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from boothcloud.payments.fees import platform_fee
from boothcloud.settings import TIERS, FeePolicy, Settings
from tests.conftest import ADMIN, create_customer, license_auth
from tests.payments.conftest import create_payment

policies = st.builds(
    FeePolicy,
    basis_points=st.integers(min_value=0, max_value=10_000),
    minimum=st.integers(min_value=0, max_value=100_000),
)
amounts = st.integers(min_value=1, max_value=10**12)


@given(amount=amounts, policy=policies)
def test_fee_is_rounded_half_up_floored_by_minimum_and_capped(
    amount: int, policy: FeePolicy
) -> None:
    fee = platform_fee(amount, policy)
    exact = Fraction(amount * policy.basis_points, 10_000)
    rounded = int(exact + Fraction(1, 2))  # half up; exact >= 0 so int() floors
    assert 0 <= fee <= amount
    assert fee == min(max(rounded, policy.minimum), amount)
    assert isinstance(fee, int)


@given(amount=amounts, tier=st.sampled_from(TIERS))
def test_default_tier_policies_keep_the_invariant(amount: int, tier: str) -> None:
    policy = Settings().fee_policy[tier]  # type: ignore[index]
    fee = platform_fee(amount, policy)
    assert 0 <= fee <= amount
    assert fee >= min(policy.minimum, amount)


@pytest.mark.parametrize(
    ("amount", "basis_points", "minimum", "expected"),
    [
        (10_000, 500, 500, 500),  # 5 % exactly
        (15_010, 300, 0, 450),  # 450.3 rounds down
        (15_050, 300, 0, 452),  # 451.5 rounds half up
        (1_000, 300, 300, 300),  # 30 is below the minimum
        (200, 500, 500, 200),  # the minimum never exceeds the amount
        (7, 0, 0, 0),
    ],
)
def test_documented_rounding_examples(
    amount: int, basis_points: int, minimum: int, expected: int
) -> None:
    assert platform_fee(amount, FeePolicy(basis_points=basis_points, minimum=minimum)) == expected


@pytest.mark.parametrize("tier", TIERS)
async def test_api_charges_the_tier_fee(
    client: httpx.AsyncClient, settings: Settings, tier: Any
) -> None:
    customer = await create_customer(client, license_type=tier)
    body = await create_payment(client, license_auth(customer["license_key"]), 33_333)
    expected = platform_fee(33_333, settings.fee_policy[tier])
    assert body["platform_fee"] == expected
    assert body["net_amount"] == 33_333 - expected
    assert body["customer_id"] == customer["id"]


async def test_platform_fee_cannot_be_supplied(client: httpx.AsyncClient, customer: Any) -> None:
    response = await client.post(
        "/api/payments",
        json={"amount": 10_000, "platform_fee": 0, "customer_id": customer["id"]},
        headers=ADMIN,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "platform_fee"
