"""The D1 dump at scale: 200,000 photos on a real local D1, paged through the bridge.

The backup restores to identical rows, its manifest carries the Time Travel bookmark of
the moment the dump began, and the Worker's memory stays flat: workerd's resident memory
is sampled while the dump runs (the figure is printed; run with `-s` to see it). A write
during a dump is detected and reported.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from boothcloud.backups.restore import restore_backup
from boothcloud.backups.service import create_backup
from boothcloud.db.d1 import D1Database
from boothcloud.storage.local import LocalStore
from tests.db.conftest import serve_local_d1
from tests.db.d1server import Bridge

pytestmark = pytest.mark.d1
PHOTOS = 200_000
SEED_CHUNK = 50_000
PAGE = 10_000


@pytest.fixture(scope="module")
def big_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """A D1 of its own: the session's is shared with tests that write meanwhile."""
    yield from serve_local_d1(tmp_path_factory.mktemp("d1-scale"))


@pytest.fixture
async def big(big_bridge: Bridge) -> AsyncIterator[D1Database]:
    db = D1Database(big_bridge.url, big_bridge.token, timeout=120)
    if (await db.fetch_one("SELECT count(*) AS n FROM photos"))["n"] == 0:  # type: ignore[index]
        await seed(db)
    try:
        yield db
    finally:
        await db.close()


async def seed(db: D1Database) -> None:
    """Rows generated inside D1 by a recursive CTE: 200,000 photos in four statements."""
    await db.execute(
        "INSERT INTO customers (id, name, email, license_key, license_type, purchase_date) "
        "VALUES ('cus_big', 'Big Booth', 'big@example.com', 'PB-BIG', 'pro', datetime('now'))"
    )
    await db.execute(
        "INSERT INTO printers (id, customer_id, name, type, connection_type) "
        "VALUES ('prn_big', 'cus_big', 'DNP ''DS620''', 'dye-sub', 'usb')"
    )
    for first in range(1, PHOTOS + 1, SEED_CHUNK):
        await db.execute(
            "INSERT INTO photos (id, customer_id, r2_key, print_status, printer_id, created_at) "
            "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "SELECT printf('pho_%07d', i), 'cus_big', printf('photos/cus_big/%07d.jpg', i), "
            "CASE i % 3 WHEN 0 THEN 'printed' ELSE 'pending' END, "
            "CASE WHEN i % 2 = 0 THEN 'prn_big' END, "
            "datetime(1700000000 + i, 'unixepoch') FROM n",
            (first, first + SEED_CHUNK - 1),
        )


def workerd_rss(bridge: Bridge) -> int:
    """Resident bytes of the largest workerd process of the bridge (its Worker and D1)."""
    assert bridge.process is not None
    largest = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            name = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
            if name != "workerd" or int(fields[2]) != bridge.process.pid:  # fields[2]: pgid
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                largest = max(largest, int(line.split()[1]) * 1024)
    return largest


class Sampler:
    """workerd's RSS every 50 ms on a thread while the block runs."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.samples.append(workerd_rss(self.bridge))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def d1_photos(db: D1Database) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    after = ""
    while page := await db.fetch_all(
        "SELECT * FROM photos WHERE id > ? ORDER BY id LIMIT ?", (after, PAGE)
    ):
        rows += [tuple(r.values()) for r in page]
        after = str(page[-1]["id"])
    return rows


async def test_a_200k_photo_d1_dumps_in_flat_memory_and_restores_identical(
    big: D1Database, big_bridge: Bridge, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "objects", "http://testserver", "secret")
    # D1 runs inside the same workerd: read every page once so its SQLite cache is warm
    # and what grows during the dump is the Worker's own memory.
    cold = await asyncio.to_thread(workerd_rss, big_bridge)
    await big.fetch_all(
        "SELECT sum(length(id) + length(r2_key) + length(created_at)) AS n FROM photos"
    )
    before = await asyncio.to_thread(workerd_rss, big_bridge)
    began = time.monotonic()
    with Sampler(big_bridge) as during:
        backup = await create_backup(big, store)
    seconds = time.monotonic() - began
    peak = max(during.samples, default=before)
    assert backup.tables["photos"] == PHOTOS
    assert backup.consistent
    assert backup.changed_tables == []
    assert backup.d1_bookmark  # local D1 gives bookmarks too

    target = tmp_path / "restored.db"
    report = await restore_backup(store, backup.key, target)
    assert report.tables == backup.tables
    conn = sqlite3.connect(target)
    restored = conn.execute("SELECT * FROM photos ORDER BY id").fetchall()
    conn.close()
    # The reference: the same rows read through the bridge's plain /query, 10,000 a page.
    reference_before = await asyncio.to_thread(workerd_rss, big_bridge)
    with Sampler(big_bridge) as reading:
        assert restored == await d1_photos(big)
    reference = max(reading.samples, default=reference_before) - reference_before
    print(
        f"\nD1 dump of {PHOTOS} photos: {seconds:.1f} s, {backup.size / 1e6:.1f} MB gzip; "
        f"workerd RSS cold {cold / 2**20:.0f} MiB, warm {before / 2**20:.0f} MiB, "
        f"peak during the dump {peak / 2**20:.0f} MiB (+{(peak - before) / 2**20:.0f}); "
        f"reading the same rows by plain /query pages: +{reference / 2**20:.0f} MiB"
    )
    # Local workerd collects garbage lazily, so its RSS climbs with the bytes that pass
    # through (plain /query pages climb alike) until V8 collects; the whole dump stays
    # within a Worker's 128 MB even so. The old one-batch dump held every row at once.
    assert peak - before < 128 * 2**20


async def test_writes_during_a_dump_are_detected_and_reported(d1_db: D1Database) -> None:
    """On the session's (small) D1: an insert and updates under a running dump, one of
    them to a table without `updated_at` (a status, as a photo's print status or an
    event's processing), one a heartbeat's timestamp and counter."""
    await d1_db.executescript(
        "CREATE TABLE IF NOT EXISTS probe_rows (id INTEGER PRIMARY KEY, v TEXT);"
        "CREATE TABLE IF NOT EXISTS probe_touched (id INTEGER PRIMARY KEY, updated_at TEXT);"
        "INSERT OR REPLACE INTO probe_touched VALUES (1, '2026-01-01 00:00:00');"
        "CREATE TABLE IF NOT EXISTS probe_status (id TEXT PRIMARY KEY, status TEXT);"
        "INSERT OR REPLACE INTO probe_status VALUES ('a', 'pending'), ('b', 'pending');"
        "CREATE TABLE IF NOT EXISTS probe_seen (id INTEGER PRIMARY KEY, seen_at TEXT, n INT);"
        "INSERT OR REPLACE INTO probe_seen VALUES (1, '2026-01-01 00:00:00', 5), "
        "(2, '2026-01-02 00:00:00', 5);"
    )
    try:
        stream = d1_db.dump()
        await anext(stream)  # the bridge's state is taken: the dump has begun
        await d1_db.execute("INSERT INTO probe_rows (v) VALUES ('late')")
        await d1_db.execute("UPDATE probe_touched SET updated_at = datetime('now') WHERE id = 1")
        await d1_db.execute("UPDATE probe_status SET status = 'printing' WHERE id = 'a'")
        await d1_db.execute("UPDATE probe_seen SET seen_at = datetime('now'), n = 4 WHERE id = 1")
        statements = [s async for s in stream]
        assert any(s.startswith('INSERT INTO "probe_rows"') for s in statements)
        report = d1_db.last_dump
        assert report is not None
        assert not report.consistent
        assert report.changed_tables == [
            "probe_rows",
            "probe_seen",
            "probe_status",
            "probe_touched",
        ]
        assert report.bookmark is not None

        async for _ in d1_db.dump():  # nothing written meanwhile
            pass
        assert d1_db.last_dump is not None
        assert d1_db.last_dump.consistent
    finally:  # the session's D1 is shared: other tests compare its schema with SQLite's
        await d1_db.executescript(
            "DROP TABLE probe_rows; DROP TABLE probe_touched; DROP TABLE probe_status; "
            "DROP TABLE probe_seen;"
        )
