"""Build (once, cached) the benchmark database of issue 11: customers, payments and photos.

Rows go in through SQLite itself (recursive CTEs, no Python per row) on the real schema
(every migration applied), so the file has today's indexes and the size the issue
measured (about 916 MB for 10,000 / 200,000 / 1,000,000).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from boothcloud.db.migrate import migrate
from boothcloud.db.sqlite import SQLiteDatabase

MIGRATIONS = Path(__file__).resolve().parent.parent / "src" / "boothcloud" / "migrations"

_CUSTOMERS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO customers (id, name, email, phone, license_key, license_type, purchase_date,
                       created_at, updated_at, xendit_sub_account_id)
SELECT printf('cus_%026d', i), printf('Photobooth %d O''Neil "Studio"', i),
       printf('owner%d@example.com', i), printf('+62812%07d', i),
       printf('BOOTH-%08X-%08X', i, i * 2654435761 % 4294967296), 'pro',
       datetime(1785000000 + i * 60, 'unixepoch'), datetime(1785000000 + i * 60, 'unixepoch'),
       datetime(1785000000 + i * 60, 'unixepoch'), printf('xsub_%020d', i)
FROM n
"""
_PRINTERS = """
INSERT INTO printers (id, customer_id, name, type, connection_type, is_default, created_at)
SELECT printf('prn_%026d', rowid), id, 'DNP DS620 #1', 'dye-sub', 'usb', 1, created_at
FROM customers
"""
_PAYMENTS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO payments (id, customer_id, xendit_payment_id, amount, platform_fee, status,
                      paid_at, created_at, currency, description, payer_email, paid_amount,
                      payment_method, payment_channel, updated_at)
SELECT printf('pay_%026d', i), printf('cus_%026d', 1 + i % ?), printf('xnd_%024x', i),
       25000 + i % 5000, 750, 'completed',
       datetime(1785000000 + i * 7, 'unixepoch'), datetime(1785000000 + i * 7, 'unixepoch'),
       'IDR', printf('Photo session %d; prints x2', i), printf('guest%d@example.com', i),
       25000 + i % 5000, 'QRIS', 'QRIS', datetime(1785000000 + i * 7, 'unixepoch')
FROM n
"""
_PHOTOS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
INSERT INTO photos (id, customer_id, r2_key, print_status, printer_id, created_at, updated_at,
                    request_hash, uploaded_at, object_size, content_type)
SELECT printf('pho_%026d', i), printf('cus_%026d', 1 + i % ?),
       printf('photos/cus_%026d/2026/11/%026d.jpg', 1 + i % ?, i),
       CASE i % 3 WHEN 0 THEN 'printed' ELSE 'pending' END,
       printf('prn_%026d', 1 + i % ?),
       datetime(1785000000 + i, 'unixepoch'), datetime(1785000000 + i, 'unixepoch'),
       lower(hex(randomblob(32))), datetime(1785000000 + i, 'unixepoch'),
       1500000 + i % 700000, 'image/jpeg'
FROM n
"""


def build(path: Path, customers: int, payments: int, photos: int) -> Path:
    """The database at `path`, built when missing (a finished build is renamed into place)."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".building")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)

    async def schema() -> None:
        db = SQLiteDatabase(partial)
        try:
            await migrate(db, MIGRATIONS)
        finally:
            await db.close()

    asyncio.run(schema())
    conn = sqlite3.connect(partial, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    conn.execute("BEGIN")
    conn.execute(_CUSTOMERS, (customers,))
    conn.execute(_PRINTERS)
    conn.execute(_PAYMENTS, (payments, customers))
    conn.execute(_PHOTOS, (photos, customers, customers, customers))
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    partial.replace(path)
    Path(f"{partial}.write-lock").unlink(missing_ok=True)
    return path


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1])
    sizes = [int(a) for a in sys.argv[2:5]] if len(sys.argv) > 2 else [10_000, 200_000, 1_000_000]
    print(build(target, *sizes), target.stat().st_size)
