"""`customers.repository.tier_case`: a per-tier rule as SQL decides exactly as the rule.

Activation's device limit and a payment's fee are picked inside their INSERT by the tier
the statement reads; the rule is evaluated in Python for every tier, for the empty text
and for a tier the settings do not know, on both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from boothcloud.customers.repository import tier_case
from boothcloud.db.base import Database
from boothcloud.licenses.service import device_limit
from boothcloud.payments.fees import platform_fee
from boothcloud.payments.service import policy_of
from boothcloud.settings import Settings
from tests.conftest import make_settings

TYPES = ("starter", "pro", "enterprise", "", "platinum")


@pytest.fixture
def rules(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        tier_device_limits={"starter": 2, "pro": None, "enterprise": 7},
        fee_policy={"pro": {"basis_points": 250, "minimum": 900}},
    )


@pytest.mark.parametrize("license_type", TYPES)
async def test_the_case_picks_what_the_rule_answers(
    db: Database, rules: Settings, license_type: str
) -> None:
    for rule in (
        lambda tier: device_limit(rules, tier),
        lambda tier: platform_fee(12_345, policy_of(rules, tier)),
    ):
        sql, params = tier_case("t.license_type", rule)
        row = await db.fetch_one(
            f"SELECT {sql} AS picked FROM (SELECT ? AS license_type) t", [*params, license_type]
        )
        assert row == {"picked": rule(license_type)}
