"""Is Litestream replicating right now? Asked of Litestream itself, over its control socket.

Any process can ask (each `serve` worker for `/readyz`, the CLI), because the answer comes
from the running Litestream, not from the supervisor's memory: `GET /list` names each
database's status and the last time its replica sync succeeded. Litestream attempts a
sync every `sync-interval` whether or not anything was written, so an old `last_sync_at`
means uploads are failing (the store unreachable, credentials refused), not a quiet
database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx

from boothcloud.replication.litestream import socket_path
from boothcloud.settings import Settings
from boothcloud.timeutil import from_db, utcnow

State = Literal["off", "ok", "lagging", "down"]
LAG_FACTOR = 10  # lagging once no sync succeeded for this many sync intervals...
MIN_LAG_SECONDS = 15.0  # ...and at least this long (a restart, one slow upload)
SOCKET_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ReplicationStatus:
    state: State
    detail: str
    last_sync_at: datetime | None = None


def lag_limit_seconds(settings: Settings) -> float:
    return max(MIN_LAG_SECONDS, LAG_FACTOR * settings.litestream_sync_interval_seconds)


async def replication_status(settings: Settings) -> ReplicationStatus:
    if not settings.litestream_enabled:
        return ReplicationStatus("off", "BOOTHCLOUD_LITESTREAM_ENABLED is false")
    database = str(settings.sqlite_path.resolve())
    sock = socket_path(settings.sqlite_path.resolve().parent)
    transport = httpx.AsyncHTTPTransport(uds=str(sock))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://litestream", timeout=SOCKET_TIMEOUT_SECONDS
        ) as client:
            response = await client.get("/list")
            response.raise_for_status()
            listed = response.json()["databases"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
        return ReplicationStatus("down", f"litestream not answering on {sock}: {error!r}")
    entry = next((d for d in listed if d.get("path") == database), None)
    if entry is None:
        return ReplicationStatus("down", f"litestream is not replicating {database}")
    if entry.get("status") != "replicating":
        return ReplicationStatus("down", f"litestream reports {entry.get('status')!r}")
    raw = entry.get("last_sync_at")
    if not raw:
        return ReplicationStatus("lagging", "no replica sync has succeeded yet")
    last = from_db(str(raw)).astimezone(UTC)
    age = (utcnow() - last).total_seconds()
    if age > lag_limit_seconds(settings):
        return ReplicationStatus("lagging", f"last replica sync {age:.0f} s ago", last)
    return ReplicationStatus("ok", f"last replica sync {max(age, 0):.0f} s ago", last)
