"""Server-generated identifiers: URL-safe and time-sortable, monotonic within a process.

Resources get Stripe-style prefixed ULIDs (`cus_01jq...`): the prefix tells an operator
what an id is, and the ULID sorts by creation time. Photos take UUIDs, since a booth may
choose a photo's id itself (so a retried upload is not logged twice); the server's own
choice is a UUIDv7, time-sortable like the rest.

Lists order by (created_at, id), and created_at has one-second resolution, so ids made in
the same millisecond must still sort in the order they were made: within a millisecond
the ULID's random part is incremented (the ULID spec's monotonic mode) and the UUIDv7's
12-bit `rand_a` is a counter (RFC 9562, method 1). Ids from different processes sort by
millisecond only.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid

import orjson
from ulid import ULID

_ULID_RANDOM_BITS = 80
_COUNTER_BITS = 12


class _Monotonic:
    """(millisecond, sequence) pairs that only ever increase, whatever the clock does."""

    def __init__(self, sequence_bits: int, fresh: int) -> None:
        self._lock = threading.Lock()
        self._limit = 1 << sequence_bits
        self._fresh_bits = fresh  # random start leaves headroom to count up from
        self._millis = 0
        self._sequence = 0

    def next(self) -> tuple[int, int]:
        with self._lock:
            millis = time.time_ns() // 1_000_000
            if millis > self._millis:
                self._millis = millis
                self._sequence = int.from_bytes(os.urandom(16), "big") >> (128 - self._fresh_bits)
            else:
                self._sequence += 1
                if self._sequence >= self._limit:  # exhausted: borrow the next millisecond
                    self._millis += 1
                    self._sequence = 0
            return self._millis, self._sequence


_ulid_clock = _Monotonic(_ULID_RANDOM_BITS, _ULID_RANDOM_BITS - 1)
_uuid_clock = _Monotonic(_COUNTER_BITS, _COUNTER_BITS - 1)


def new_id(prefix: str) -> str:
    millis, randomness = _ulid_clock.next()
    value = (millis & ((1 << 48) - 1)) << _ULID_RANDOM_BITS | randomness
    return f"{prefix}_{str(ULID.from_int(value)).lower()}"


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, version, 12-bit counter, variant, random."""
    millis, counter = _uuid_clock.next()
    random_b = int.from_bytes(os.urandom(8), "big") >> 2  # 62 bits
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0x2 << 62 | random_b
    return uuid.UUID(int=value)


def digest(value: object) -> str:
    """What identifies a request's content (an idempotent create's "same body") or a split
    rule's routes: SHA-256 of the value's JSON, keys sorted. These are stored beside their
    keys and compared with later requests, so the bytes hashed must never change
    (tests/test_ids.py pins them)."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()
