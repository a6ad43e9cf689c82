"""Per-client token buckets: the public license validation route and failed authentication.

Validation needs no credentials, and a wrong admin token or license key costs nothing to
send, so without limits anyone could test keys in bulk. In-process buckets are enough for
one node (each worker keeps its own, so the effective limit scales with workers; documented
in docs/licenses.md).

The client is the TCP peer's address, which uvicorn replaces with `X-Forwarded-For` only
for the proxies named in `BOOTHCLOUD_FORWARDED_ALLOW_IPS` (none by default), so a client
cannot rotate that header to get a fresh bucket.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from boothcloud.errors import TooManyRequests

MAX_CLIENTS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


def client_address(connection: HTTPConnection) -> str:
    """The address a limit counts against (see the module docstring)."""
    return connection.client.host if connection.client else "unknown"


class RateLimiter:
    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, client: str) -> _Bucket:
        now = time.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_CLIENTS:
                self._buckets.clear()
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def wait(self, client: str) -> float:
        """Seconds until `client` has a token again (0.0: it has one); takes none."""
        if client not in self._buckets:
            return 0.0  # a full bucket: no need to store one for a client that never spent
        bucket = self._refilled(client)
        return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / self.rate

    def allow(self, client: str) -> float:
        """Take a token: 0.0 when the call may go ahead, else the seconds to wait."""
        bucket = self._refilled(client)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def take(self, client: str, detail: str) -> None:
        """Take a token or refuse with 429 and `Retry-After`."""
        _refuse(self.allow(client), detail)

    def refuse_if_spent(self, client: str, detail: str) -> None:
        """429 while `client` has no token left, without taking one."""
        _refuse(self.wait(client), detail)


def _refuse(wait: float, detail: str) -> None:
    if wait > 0:
        raise TooManyRequests(detail, headers={"Retry-After": str(max(1, math.ceil(wait)))})
