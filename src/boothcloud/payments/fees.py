"""The platform fee: basis points of the amount, at least a minimum, never above the amount.

Rounding rule: half up to the whole rupiah, in integer arithmetic (no floats), so
`amount * basis_points / 10_000` of 12.5 rupiah becomes 13 and 12.4999 becomes 12. Then the
tier's minimum applies, and the result is capped at the amount, so `0 <= fee <= amount`
always holds and the customer never owes money on a payment.

Half up is also how Xendit rounds a split rule's `percent_amount` route ("rounded off to
the nearest monetary unit: 0.50 IDR will be rounded to 1 IDR; 0.49 IDR to 0 IDR"), so
`percent_share` is at once our arithmetic and a prediction of what Xendit moves.
"""

from __future__ import annotations

from boothcloud.settings import FeePolicy


def percent_share(amount: int, basis_points: int) -> int:
    """`amount * basis_points / 10_000`, rounded half up to the whole rupiah."""
    return (amount * basis_points + 5_000) // 10_000


def platform_fee(amount: int, policy: FeePolicy) -> int:
    if amount <= 0:
        raise ValueError("amount must be positive")
    return min(max(percent_share(amount, policy.basis_points), policy.minimum), amount)
