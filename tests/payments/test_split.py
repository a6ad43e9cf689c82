"""xenPlatform split rules and venue shares: the arithmetic (hypothesis, checked against
the fake's independent reading of Xendit's documented rounding), rules created once and
reused (also under concurrency), a new version when the policy changes, the headers on
every payment, venues placed per device, and failures that leave no half-made rule."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from boothcloud.deps import Services
from boothcloud.payments.split import VenueShare, split
from boothcloud.settings import FeePolicy, Settings
from tests.conftest import ADMIN, ADMIN_TOKEN, create_customer, license_auth
from tests.console.helpers import sign_in
from tests.fakes.xendit_server import USER_ID, FakeXendit, route_amount
from tests.payments.conftest import create_payment, payment_settings
from tests.sessions.helpers import open_session

SUB_ACCOUNT = "5f0f0f0f0f0f0f0f0f0f0f01"
VENUE_ACCOUNT = "5f0f0f0f0f0f0f0f0f0f0f02"
# Concurrent requests on a shared 2-core machine: room for the fake to answer them all.
SPLIT: dict[str, Any] = {"xendit_platform_account_id": USER_ID, "xendit_timeout_seconds": 5}

policies = st.builds(
    FeePolicy, basis_points=st.integers(0, 10_000), minimum=st.integers(0, 100_000)
)
venues = st.one_of(
    st.none(),
    st.builds(
        VenueShare,
        venue_id=st.just("ven_x"),
        account_id=st.just(VENUE_ACCOUNT),
        basis_points=st.integers(1, 10_000),
        amount=st.none(),
    ),
    st.builds(
        VenueShare,
        venue_id=st.just("ven_x"),
        account_id=st.just(VENUE_ACCOUNT),
        basis_points=st.none(),
        amount=st.integers(1, 10_000_000),
    ),
)


@hypothesis_settings(max_examples=500, deadline=None)
@given(amount=st.integers(1, 50_000_000), policy=policies, venue=venues)
def test_parts_add_up_and_routes_move_exactly_the_parts(
    amount: int, policy: FeePolicy, venue: VenueShare | None
) -> None:
    parts = split(amount, policy, venue, USER_ID)
    assert parts.platform + parts.venue + parts.owner == amount
    assert min(parts.platform, parts.venue, parts.owner) >= 0
    # What Xendit moves for these routes (the fake reads the documented rounding with
    # Decimal, not our integer arithmetic) is exactly what we record.
    moved = {r.reference_id: route_amount(r.to_xendit(), amount) for r in parts.routes}
    assert moved == {k: v for k, v in (("platform", parts.platform), ("venue", parts.venue)) if v}
    for route in parts.routes:
        body = route.to_xendit()
        assert ("percent_amount" in body) != ("flat_amount" in body)


@hypothesis_settings(max_examples=200, deadline=None)
@given(amount=st.integers(1, 50_000_000), policy=policies, venue=venues)
def test_without_a_platform_account_there_is_no_rule_and_no_venue_part(
    amount: int, policy: FeePolicy, venue: VenueShare | None
) -> None:
    parts = split(amount, policy, venue, None)
    assert parts.routes == ()
    assert parts.venue == 0
    assert parts.platform + parts.owner == amount


def test_rounding_examples() -> None:
    """Half up, like Xendit's percent routes: 2.5% of 25,020 is 625.5 -> 626; the
    tier minimum becomes a flat route; a venue share is capped at what is left."""
    starter = FeePolicy(basis_points=250, minimum=500)
    parts = split(25_020, starter, None, USER_ID)
    assert (parts.platform, parts.owner) == (626, 24_394)
    assert parts.routes[0].to_xendit()["percent_amount"] == 2.5
    small = split(10_000, starter, None, USER_ID)  # 2.5% is 250 < 500: the minimum
    assert small.platform == 500
    assert small.routes[0].to_xendit()["flat_amount"] == 500
    greedy = VenueShare("ven_x", VENUE_ACCOUNT, basis_points=None, amount=9_800)
    capped = split(10_000, starter, greedy, USER_ID)
    assert (capped.platform, capped.venue, capped.owner) == (500, 9_500, 0)


@pytest.fixture
def settings(tmp_path: Path, xendit: FakeXendit) -> Settings:
    return payment_settings(tmp_path / "data", xendit, **SPLIT)


async def _sub_account_customer(client: httpx.AsyncClient, services: Services) -> Any:
    customer = await create_customer(client)
    await services.db.execute(
        "UPDATE customers SET xendit_sub_account_id = ? WHERE id = ?",
        (SUB_ACCOUNT, customer["id"]),
    )
    return customer


async def test_rule_is_created_once_reused_and_sent_with_every_payment(
    client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    customer = await _sub_account_customer(client, services)
    booth = license_auth(customer["license_key"])
    first = await create_payment(client, booth, 25_000, method="qris")
    second = await create_payment(client, booth, 40_000)  # an invoice, same percent rule
    assert xendit.split_rule_posts == 1
    (rule,) = xendit.split_rules.values()
    assert rule["id"].startswith("splitru_")
    assert rule["routes"] == [
        {
            "currency": "IDR",
            "destination_account_id": USER_ID,
            "reference_id": "platform",
            "percent_amount": 5,
        }
    ]
    for payment, headers in zip((first, second), xendit.headers, strict=True):
        assert payment["xendit_split_rule_id"] == rule["id"]
        assert headers["with-split-rule"] == rule["id"]
        assert headers["for-user-id"] == SUB_ACCOUNT
        assert xendit.moved[payment["id"]] == {"platform": payment["platform_fee"]}
        assert payment["net_amount"] == payment["amount"] - payment["platform_fee"]
    assert "fees" not in xendit.requests[1]  # the split rule moves the fee, not an invoice fee


async def test_concurrent_first_payments_make_one_rule(
    client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    customer = await _sub_account_customer(client, services)
    booth = license_auth(customer["license_key"])
    made = await asyncio.gather(
        *(create_payment(client, booth, 20_000 + i * 1_000, method="qris") for i in range(6))
    )
    assert xendit.split_rule_posts == 1
    assert len(xendit.split_rules) == 1
    assert {p["xendit_split_rule_id"] for p in made} == set(xendit.split_rules)
    stored = await services.db.fetch_all("SELECT version FROM xendit_split_rules")
    assert [r["version"] for r in stored] == [1]


async def test_a_changed_policy_makes_a_new_version_and_old_payments_keep_theirs(
    tmp_path: Path, xendit: FakeXendit, client: httpx.AsyncClient, services: Services
) -> None:
    from boothcloud.app import create_app

    customer = await _sub_account_customer(client, services)
    booth = license_auth(customer["license_key"])
    before = await create_payment(client, booth, 30_000)
    changed = payment_settings(
        tmp_path / "data",
        xendit,
        fee_policy={"starter": {"basis_points": 400}},
        **SPLIT,
    )
    app = create_app(changed, apply_migrations=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
            after = await create_payment(other, booth, 30_000)
    assert xendit.split_rule_posts == 2
    assert before["xendit_split_rule_id"] != after["xendit_split_rule_id"]
    assert (before["platform_fee"], after["platform_fee"]) == (1_500, 1_200)
    rows = await services.db.fetch_all(
        "SELECT scope, version, xendit_split_rule_id FROM xendit_split_rules ORDER BY version"
    )
    assert [(r["scope"], r["version"]) for r in rows] == [("starter", 1), ("starter", 2)]
    names = sorted(r["name"] for r in xendit.split_rules.values())
    assert names == ["boothcloud starter v1", "boothcloud starter v2"]
    read = await client.get(f"/api/payments/{before['id']}", headers=booth)
    assert read.json()["xendit_split_rule_id"] == before["xendit_split_rule_id"]


async def test_unknown_split_rule_at_xendit_fails_the_payment_clearly(
    client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    customer = await _sub_account_customer(client, services)
    booth = license_auth(customer["license_key"])
    await create_payment(client, booth, 25_000)
    xendit.split_rules.clear()  # Xendit no longer knows the stored id
    failed = await client.post("/api/payments", json={"amount": 25_000}, headers=booth)
    assert failed.status_code == 502
    assert failed.headers["content-type"] == "application/problem+json"
    assert "DATA_NOT_FOUND" in failed.json()["detail"]


async def test_rule_creation_failure_fails_the_payment_and_the_next_one_creates_it(
    client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    customer = await _sub_account_customer(client, services)
    booth = license_auth(customer["license_key"])
    xendit.fail_next(503)
    failed = await client.post("/api/payments", json={"amount": 25_000}, headers=booth)
    assert failed.status_code == 502
    assert xendit.split_rules == {}
    assert xendit.requests == []  # no invoice without its rule
    payment = await create_payment(client, booth, 25_000)
    assert payment["xendit_split_rule_id"] in xendit.split_rules


async def test_customer_without_sub_account_keeps_todays_payment(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await create_payment(client, booth, 25_000)
    assert payment["xendit_split_rule_id"] is None
    assert "with-split-rule" not in xendit.headers[0]
    assert "for-user-id" not in xendit.headers[0]
    assert xendit.split_rule_posts == 0


async def _post_venue(client: httpx.AsyncClient, customer_id: str, share: Any) -> httpx.Response:
    return await client.post(
        "/api/venues",
        json={
            "customer_id": customer_id,
            "name": "Kopi Kita, Blok M",
            "xendit_sub_account_id": VENUE_ACCOUNT,
            "share": share,
        },
        headers=ADMIN,
    )


async def _venue(client: httpx.AsyncClient, customer_id: str, share: Any) -> Any:
    response = await _post_venue(client, customer_id, share)
    assert response.status_code == 201, response.text
    return response.json()


async def test_venue_share_goes_to_the_venue_in_the_same_rule(
    client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    customer = await _sub_account_customer(client, services)
    booth = license_auth(customer["license_key"])
    venue = await _venue(client, customer["id"], {"basis_points": 1_000})
    session = await open_session(client, booth)
    placed = await client.put(
        f"/api/venues/{venue['id']}/activations/{session['activation_id']}", headers=ADMIN
    )
    assert placed.json() == {"activation_id": session["activation_id"], "venue_id": venue["id"]}
    payment = await create_payment(client, booth, 35_000, method="qris", session_id=session["id"])
    assert (payment["platform_fee"], payment["venue_amount"], payment["net_amount"]) == (
        1_750,
        3_500,
        29_750,
    )
    assert payment["venue_id"] == venue["id"]
    assert xendit.moved[payment["id"]] == {"platform": 1_750, "venue": 3_500}
    rule = xendit.split_rules[payment["xendit_split_rule_id"]]
    assert {r["reference_id"]: r["destination_account_id"] for r in rule["routes"]} == {
        "platform": USER_ID,
        "venue": VENUE_ACCOUNT,
    }
    # A payment without the session (no device known) carries no venue share.
    plain = await create_payment(client, booth, 35_000, method="qris")
    assert (plain["venue_amount"], plain["venue_id"]) == (0, None)
    # The booth reads its venue; another booth cannot.
    assert (await client.get(f"/api/venues/{venue['id']}", headers=booth)).status_code == 200
    stranger = license_auth((await create_customer(client))["license_key"])
    assert (await client.get(f"/api/venues/{venue['id']}", headers=stranger)).status_code == 404
    # Taken away from the venue, the device's next payments carry no share.
    gone = await client.delete(
        f"/api/venues/{venue['id']}/activations/{session['activation_id']}", headers=ADMIN
    )
    assert gone.status_code == 204
    later = await open_session(client, booth)
    after = await create_payment(client, booth, 35_000, method="qris", session_id=later["id"])
    assert after["venue_amount"] == 0


async def test_venue_needs_exactly_one_share_and_placement_scopes_devices(
    client: httpx.AsyncClient, services: Services
) -> None:
    customer = await _sub_account_customer(client, services)
    both = await _post_venue(client, customer["id"], {"basis_points": 100, "amount": 1_000})
    assert both.status_code == 422
    for bad in (2_500.5, True, "100", 0, 10_001):
        refused = await _post_venue(client, customer["id"], {"basis_points": bad})
        assert refused.status_code == 422, bad
    integral = await _venue(client, customer["id"], {"basis_points": 2_500.0})
    assert integral["share_basis_points"] == 2_500
    venue = await _venue(client, customer["id"], {"amount": 2_000})
    other = await create_customer(client)
    device = await open_session(client, license_auth(other["license_key"]))
    foreign = await client.put(
        f"/api/venues/{venue['id']}/activations/{device['activation_id']}", headers=ADMIN
    )
    assert foreign.status_code == 404  # another customer's device is never placed here


async def test_the_console_shows_each_payments_parts_and_venue(
    app: FastAPI, client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    customer = await _sub_account_customer(client, services)
    booth = license_auth(customer["license_key"])
    venue = await _venue(client, customer["id"], {"basis_points": 1_000})
    session = await open_session(client, booth)
    await client.put(
        f"/api/venues/{venue['id']}/activations/{session['activation_id']}", headers=ADMIN
    )
    shared = await create_payment(client, booth, 35_000, method="qris", session_id=session["id"])
    plain = await create_payment(client, booth, 20_000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as console:
        assert (await sign_in(console, ADMIN_TOKEN)).status_code == 303
        page = (await console.get("/console/payments")).text
    page_ids = (shared["id"], plain["id"])
    rows = {p: page.split(f'data-id="{p}"')[1].split("<tr data-id=")[0] for p in page_ids}
    assert "Platform: Rp 1.750" in rows[shared["id"]]
    assert f"Venue Kopi Kita, Blok M ({venue['id']}): Rp 3.500" in rows[shared["id"]]
    assert "Owner: Rp 29.750" in rows[shared["id"]]
    assert "Platform: Rp 1.000" in rows[plain["id"]]  # the tier's 5% of 20.000
    assert "Venue" not in rows[plain["id"]]
    assert "Owner: Rp 19.000" in rows[plain["id"]]
