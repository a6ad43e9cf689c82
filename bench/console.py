"""Benchmark of the console: time to first byte of each page, one user, on the benchmark
database.

    .venv/bin/python bench/console.py [--requests 200] [--customers 10000] [--photos 120000]
                                      [--payments 60000]

1. Builds bench/run.py's database (10,000 customers, 120,000 photos, printers with pending
   queues), then adds payments over the last 30 days (about 5% flagged), a device per
   customer with printers, and a few prints stuck in `printing`.
2. Serves it with `boothcloud serve` as bench/run.py does (production settings, one
   worker, request log on), signs in to the console as the operator, and as one owner.
3. Requests each page `--requests` times, one after another (single user), after a short
   warm-up, timing the first byte of the answer (headers received; every page but the CSV
   is rendered whole before its first byte); beside each page, the API's JSON for the same
   list is timed in the same way in the same run, as the reference.
4. Prints a markdown table (p50, p99, max, page/API ratio of p50) and writes it with the
   workload to bench/results/console-<UTC time>.json. Any non-2xx answer: INVALID.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402 - bench/run.py: the database and the server, as its benchmark has them
from boothcloud.ids import new_id  # noqa: E402

RESULTS = BENCH / "results"
GOAL_MS = 100.0


def add_payments_and_devices(path: Path, count: int, seed: int) -> dict[str, Any]:
    """Payments over the last 30 days, a device per customer, some stuck prints."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    customers = [r[0] for r in conn.execute("SELECT id FROM customers")]
    now = datetime.now(UTC).replace(microsecond=0)
    payments: list[dict[str, Any]] = []
    for _ in range(count):
        created = now - timedelta(seconds=rng.randint(0, 30 * 86_400))
        status = rng.choices(("completed", "pending", "failed"), (85, 10, 5))[0]
        amount = rng.choice((25_000, 30_000, 35_000, 50_000))
        stamp = created.strftime(run.DB_FORMAT)
        flagged = int(rng.random() < 0.05)
        payments.append(
            {
                "id": new_id("pay"),
                "customer_id": rng.choice(customers),
                "amount": amount,
                "platform_fee": amount // 20,
                "status": status,
                "created_at": stamp,
                "updated_at": stamp,
                "paid_at": stamp if status == "completed" else None,
                "paid_amount": amount if status == "completed" else None,
                "flagged": flagged,
                "review_reason": "paid after expiry" if flagged else None,
                "method": rng.choice(("invoice", "qris")),
            }
        )
    devices = []
    for n, customer in enumerate(customers):
        # Last heard from up to a week ago: nearly all dead (the window is 10 minutes).
        seen = (now - timedelta(minutes=rng.randint(0, 10_000))).strftime(run.DB_FORMAT)
        devices.append(
            {
                "id": new_id("act"),
                "customer_id": customer,
                "fingerprint": f"booth-{n}",
                "name": None,
                "created_at": now.strftime(run.DB_FORMAT),
                "last_validated_at": seen if rng.random() < 0.9 else None,
                "last_seen_at": seen,
            }
        )
    # A CUPS queue on every 20th device, every fourth of them stopped (the booths page).
    queues = [
        {
            "activation_id": device["id"],
            "customer_id": device["customer_id"],
            "name": "DNP_DS620",
            "state": "stopped" if n % 4 == 0 else "idle",
            "reason": "media-empty-error" if n % 4 == 0 else None,
            "markers": '[{"name": "Ribbon", "level": 3, "type": "ribbon"}]',
            "reported_at": device["last_seen_at"],
        }
        for n, device in enumerate(devices[::20])
    ]
    conn.execute("BEGIN")
    run._insert(conn, "payments", payments)
    run._insert(conn, "license_activations", devices)
    run._insert(conn, "device_printers", queues)
    stuck = conn.execute(
        "UPDATE photos SET print_status = 'printing', claimed_at = datetime('now', '-1 day') "
        "WHERE id IN (SELECT id FROM photos WHERE print_status = 'pending' "
        "AND printer_id IS NOT NULL LIMIT 40)"
    ).rowcount
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    busy = conn.execute(
        "SELECT customer_id FROM printers GROUP BY customer_id ORDER BY customer_id LIMIT 1"
    ).fetchone()[0]
    key = conn.execute("SELECT license_key FROM customers WHERE id = ?", (busy,)).fetchone()[0]
    conn.close()
    return {"payments": count, "devices": len(devices), "stuck": stuck, "busy": busy, "key": key}


def _cookie(answer: httpx.Response, name: str) -> str:
    found = re.search(rf"{name}=([^;]+)", answer.headers.get("set-cookie", ""))
    assert found is not None, answer.headers
    return f"{name}={found.group(1)}"


def sign_in(http: httpx.Client, path: str, field: str, credential: str) -> dict[str, str]:
    """The session's Cookie header. The server runs in production (Secure cookies), which
    httpx keeps off plain http; a browser behind TLS would send them, so this does."""
    form = http.get(path)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text[:300]
    answer = http.post(
        path,
        data={"csrf": csrf.group(1), field: credential},
        headers={"Cookie": _cookie(form, "bc_console_pre")},
    )
    assert answer.status_code == 303, answer.text[:300]
    return {"Cookie": _cookie(answer, "bc_console")}


def first_byte_ms(http: httpx.Client, path: str, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    with http.stream("GET", path, headers=headers) as answer:
        elapsed = (time.perf_counter() - started) * 1000
        for _ in answer.iter_bytes():
            pass
        return elapsed, answer.status_code


def measure(
    http: httpx.Client, path: str, count: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    headers = headers or {}
    for _ in range(5):
        first_byte_ms(http, path, headers)
    times, bad = [], 0
    for _ in range(count):
        ms, status = first_byte_ms(http, path, headers)
        times.append(ms)
        bad += not 200 <= status < 300
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
        "max_ms": round(times[-1], 2),
        "non_2xx": bad,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--photos", type=int, default=120_000)
    parser.add_argument("--payments", type=int, default=60_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    # What bench/run.py's database and server read from its own arguments.
    args.busy_customers, args.pending_per_printer, args.seed = 2_000, 25, 7
    args.workers, args.synchronous, args.boothcloud_src = 1, "NORMAL", run.ROOT / "src"
    args.wal_max_mb = run.WAL_MAX_DEFAULT / 2**20
    work = Path(tempfile.mkdtemp(prefix="boothcloud-console-bench-"))
    try:
        db = work / "bench.db"
        dataset = run.build_database(db, work, args)
        extra = add_payments_and_devices(db, args.payments, args.seed)
        print(f"database: {dataset.customers:,} customers, {dataset.photos:,} photos, "
              f"{extra['payments']:,} payments, {extra['devices']:,} devices, "
              f"{extra['stuck']} stuck prints ({db.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
        server = run.boothcloud_server(work, db, args, "console-bench-signing-secret-0123456789")
        admin = {"Authorization": f"Bearer {server.env['BOOTHCLOUD_ADMIN_TOKEN']}"}
        busy = extra["busy"]
        # (page, its API reference or None)
        pairs: list[tuple[str, str | None]] = [
            ("/console/login", None),
            ("/console/customers", "/api/customers?limit=25"),
            ("/console/customers?q=bandung", "/api/customers?q=bandung&limit=25"),
            ("/console/customers?tier=pro&status=active", "/api/customers?license_type=pro"),
            (f"/console/customers/{busy}", f"/api/customers/{busy}"),
            ("/console/payments", "/api/payments?limit=25"),
            ("/console/payments?status=completed&method=qris", "/api/payments?status=completed"),
            ("/console/payments/rows", "/api/payments?limit=25"),
            ("/console/payments/chart", "/api/payments/summary"),
            ("/console/payments.csv?status=failed", None),
            ("/console/print-queues", "/api/photos?print_status=pending&limit=25"),
            (f"/console/print-queues?customer_id={busy}", f"/api/photos?customer_id={busy}"),
            ("/console/booths", "/api/licenses/dead-devices?limit=25"),
            ("/console/backups", "/api/admin/backups"),
        ]
        rows: dict[str, Any] = {}
        with run.serving(server), httpx.Client(base_url=server.url, timeout=30) as http:
            session = sign_in(http, "/console/login", "token", server.env["BOOTHCLOUD_ADMIN_TOKEN"])
            for page, api in pairs:
                rows[page] = {"page": measure(http, page, args.requests, session)}
                if api:
                    rows[page]["api"] = measure(http, api, args.requests, admin)
            owner = sign_in(http, "/console/owner/login", "license_key", extra["key"])
            rows["/console/owner"] = {"page": measure(http, "/console/owner", args.requests, owner)}
        invalid = any(m["non_2xx"] for row in rows.values() for m in row.values())
        print(f"\n{args.requests} sequential requests per page, one user, one worker; "
              f"machine shared (loadavg {os.getloadavg()})\n")  # fmt: skip
        print("| page | p50 ms | p99 ms | max ms | API p50 ms | page/API p50 | p99 < 100 ms |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for page, row in rows.items():
            ours, api = row["page"], row.get("api")
            ratio = f"{ours['p50_ms'] / api['p50_ms']:.2f}" if api else ""
            verdict = "PASS" if ours["p99_ms"] < GOAL_MS else "FAIL"
            print(f"| `{page}` | {ours['p50_ms']} | {ours['p99_ms']} | {ours['max_ms']} | "
                  f"{api['p50_ms'] if api else ''} | {ratio} | {verdict} |")  # fmt: skip
        if invalid:
            print("\nINVALID: some answers were not 2xx")
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS / f"console-{stamp}.json"
        out.write_text(
            json.dumps(
                {
                    "dataset": {"customers": dataset.customers, "photos": dataset.photos, **{
                        k: v for k, v in extra.items() if k not in {"key", "busy"}
                    }},
                    "requests": args.requests,
                    "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                                "loadavg_after": os.getloadavg()},
                    "rows": rows,
                    "invalid": invalid,
                },
                indent=2,
            )
        )  # fmt: skip
        print(f"\nwritten to {out.relative_to(run.ROOT)}")
        return 1 if invalid else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
