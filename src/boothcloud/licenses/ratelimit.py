"""A per-client token bucket for the public license validation route.

Validation needs no credentials, so without a limit it would let anyone test keys in bulk.
In-process buckets are enough for one node (each worker keeps its own, so the effective
limit scales with workers; documented in docs/licenses.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

MAX_CLIENTS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, client: str) -> float:
        """0.0 when the call may go ahead, else the seconds to wait before retrying."""
        now = time.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_CLIENTS:
                self._buckets.clear()
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
