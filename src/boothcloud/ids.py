"""Server-generated identifiers: URL-safe and time-sortable.

Resources get Stripe-style prefixed ULIDs (`cus_01jq...`): the prefix tells an operator
what an id is, and the ULID sorts by creation time. Photos take UUIDs, since a booth may
choose a photo's id itself (so a retried upload is not logged twice); the server's own
choice is a UUIDv7, time-sortable like the rest.
"""

from __future__ import annotations

import os
import time
import uuid

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}_{str(ULID()).lower()}"


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value &= ~(0xF << 76)
    value |= 0x7 << 76  # version
    value &= ~(0x3 << 62)
    value |= 0x2 << 62  # variant
    return uuid.UUID(int=value)
