"""Where each payment's money goes: the platform, the venue, the booth owner; and the
xenPlatform split rule routes that move exactly those amounts.

The parts, in whole rupiah, fixed when the payment is created:

- platform: `fees.platform_fee` (the tier's basis points, half up, at least the minimum,
  at most the amount);
- venue: the venue's basis points of the amount (half up) or its flat amount, capped at
  what the platform leaves, so it never goes negative for the owner;
- owner: the rest. `platform + venue + owner == amount`, each `>= 0`, always.

The routes (docs/decisions.md, "Split rules: percent where Xendit computes the same"):
a part becomes a `percent_amount` route when Xendit's own rounding of that percentage
gives exactly the part (the usual case: one rule serves every amount), a `flat_amount`
route when it does not (the tier's minimum, a flat venue share, a cap), and no route when
the part is 0 (Xendit takes positive amounts only). Either way what Xendit moves is what
we record. The owner's part is no route: it stays on the sub-account (`for-user-id`)
that received the payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from boothcloud.ids import digest
from boothcloud.payments.fees import percent_share, platform_fee
from boothcloud.settings import FeePolicy

Part = Literal["platform", "venue"]


@dataclass(frozen=True, slots=True)
class VenueShare:
    venue_id: str
    account_id: str  # the venue's Xendit sub-account
    basis_points: int | None  # exactly one of these two is set
    amount: int | None


@dataclass(frozen=True, slots=True)
class Route:
    """One route of a split rule: `basis_points` (a `percent_amount` of bp/100) or `flat`."""

    reference_id: Part
    destination: str
    basis_points: int | None = None
    flat: int | None = None

    def canonical(self) -> dict[str, Any]:
        return {
            "reference_id": self.reference_id,
            "destination": self.destination,
            "basis_points": self.basis_points,
            "flat": self.flat,
        }

    def to_xendit(self) -> dict[str, Any]:
        """The route as `POST /split_rules` takes it (percent: at most 2 decimals)."""
        route: dict[str, Any] = {
            "currency": "IDR",
            "destination_account_id": self.destination,
            "reference_id": self.reference_id,
        }
        if self.basis_points is not None:
            whole, cents = divmod(self.basis_points, 100)
            route["percent_amount"] = whole if cents == 0 else self.basis_points / 100
        else:
            route["flat_amount"] = self.flat
        return route


@dataclass(frozen=True, slots=True)
class Split:
    platform: int
    venue: int
    owner: int
    routes: tuple[Route, ...] = ()

    @property
    def rule_hash(self) -> str:
        """Identifies the rule these routes make: same routes, same Xendit split rule."""
        canonical = [r.canonical() for r in sorted(self.routes, key=lambda r: r.reference_id)]
        return digest(canonical)


def _route(
    part: Part, destination: str, value: int, basis_points: int | None, amount: int
) -> list[Route]:
    if value == 0:
        return []
    if basis_points and percent_share(amount, basis_points) == value:
        return [Route(part, destination, basis_points=basis_points)]
    return [Route(part, destination, flat=value)]


def split(
    amount: int,
    policy: FeePolicy,
    venue: VenueShare | None = None,
    platform_account: str | None = None,
) -> Split:
    """The parts of `amount` and their routes. Without `platform_account` there is no split
    rule: nothing can move money to a venue, so the venue's part is 0 and there are no
    routes (the payment keeps today's behaviour, docs/payments.md)."""
    platform = platform_fee(amount, policy)
    if platform_account is None:
        return Split(platform, 0, amount - platform)
    venue_part = 0
    routes = _route("platform", platform_account, platform, policy.basis_points, amount)
    if venue is not None:
        wanted = (
            percent_share(amount, venue.basis_points)
            if venue.basis_points is not None
            else int(venue.amount or 0)
        )
        venue_part = min(wanted, amount - platform)
        routes += _route("venue", venue.account_id, venue_part, venue.basis_points, amount)
    return Split(platform, venue_part, amount - platform - venue_part, tuple(routes))
