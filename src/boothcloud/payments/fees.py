"""The platform fee: basis points of the amount, at least a minimum, never above the amount.

Rounding rule: half up to the whole rupiah, in integer arithmetic (no floats), so
`amount * basis_points / 10_000` of 12.5 rupiah becomes 13 and 12.4999 becomes 12. Then the
tier's minimum applies, and the result is capped at the amount, so `0 <= fee <= amount`
always holds and the customer never owes money on a payment.
"""

from __future__ import annotations

from boothcloud.settings import FeePolicy


def platform_fee(amount: int, policy: FeePolicy) -> int:
    if amount <= 0:
        raise ValueError("amount must be positive")
    proportional = (amount * policy.basis_points + 5_000) // 10_000
    return min(max(proportional, policy.minimum), amount)
