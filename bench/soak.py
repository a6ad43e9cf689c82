"""Soak: N minutes of mixed booth traffic at a steady rate against `boothcloud serve`.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 40] [--booths 40] [--workers 2]

Serves boothcloud as users run it (`boothcloud serve --migrate --workers 2`, production
settings with real secrets, its logging as shipped: info level with the request log, to a
file in the work folder), with payments going to the local Xendit server
(tests/fakes/xendit_server.py, in this process). Creates `--booths` customers with one or
two printers each, then sends `--rate` requests a second, open loop (each request leaves
at its scheduled time whether or not earlier ones have answered), drawn from a booth's
day: validate the key, read its customer, log a photo and upload it through the presigned
URL, claim the next print and mark it completed, list photos and printers, take a payment
and receive Xendit's paid callback.

Per minute: requests, errors (a transport error or any status that is not the expected
one), p50 and p99. At start (after `--warmup` seconds of the same traffic) and at the end:
the RSS of the whole process tree (supervisor and workers) and the WAL's size; the WAL is
also sampled every second. Passes when there are no errors, RSS grew less than 10%, and the
WAL stayed under `BOOTHCLOUD_SQLITE_WAL_MAX_BYTES`. Writes the result to
bench/results/soak-<UTC timestamp>.json. Not part of CI: it takes `--minutes`.

The validate rate limit is raised: every booth here shares 127.0.0.1, where real booths
each have their own address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from run import RESULTS, ROOT, WAL_MAX_DEFAULT, Server, free_port, process_tree, serving

sys.path.insert(0, str(ROOT))
from tests.fakes.xendit_server import SECRET_KEY, FakeXendit, RunningFake

RSS_GROWTH_LIMIT = 0.10
MAX_IN_FLIGHT = 256  # beyond this the server is not keeping up: counted as errors


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and its descendants (VmRSS, /proc/<pid>/status)."""
    total = 0
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wal_bytes(database: Path) -> int:
    try:
        return Path(f"{database}-wal").stat().st_size
    except FileNotFoundError:
        return 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


@dataclass
class Minute:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def summary(self, index: int) -> dict[str, Any]:
        return {
            "minute": index + 1,
            "requests": len(self.latencies_ms) + self.errors,
            "errors": self.errors,
            "p50_ms": round(percentile(self.latencies_ms, 0.50), 2),
            "p99_ms": round(percentile(self.latencies_ms, 0.99), 2),
            "error_samples": self.error_samples[:5],
        }


@dataclass
class Booth:
    auth: dict[str, str]
    key: str
    customer: str
    printers: list[str]
    payments: list[str] = field(default_factory=list)  # invoice ids, pending


class Soak:
    def __init__(self, http: httpx.AsyncClient, xendit: FakeXendit, callback_token: str) -> None:
        self.http, self.xendit, self.callback_token = http, xendit, callback_token
        self.booths: list[Booth] = []
        self.minutes: list[Minute] = []
        self.measuring = False
        self.started = 0.0

    async def request(self, expect: tuple[int, ...], method: str, url: str, **kw: Any) -> Any:
        """One request, timed into the current minute; None when it failed."""
        sent = time.perf_counter()
        try:
            answer = await self.http.request(method, url, **kw)
        except httpx.HTTPError as error:
            self.record(None, f"{method} {url.split('?')[0]}: {type(error).__name__}")
            return None
        elapsed = (time.perf_counter() - sent) * 1000
        if answer.status_code not in expect:
            self.record(None, f"{method} {url.split('?')[0]}: {answer.status_code}")
            return None
        self.record(elapsed, None)
        if "json" not in answer.headers.get("content-type", ""):
            return {}
        return answer.json()

    def record(self, latency_ms: float | None, error: str | None) -> None:
        if not self.measuring:
            return
        index = int((time.monotonic() - self.started) // 60)
        while len(self.minutes) <= index:
            self.minutes.append(Minute())
        minute = self.minutes[index]
        if error is None and latency_ms is not None:
            minute.latencies_ms.append(latency_ms)
        else:
            minute.errors += 1
            minute.error_samples.append(error or "")

    # -- set-up ---------------------------------------------------------------------------
    async def create_booths(self, count: int, admin: dict[str, str], rng: random.Random) -> None:
        for n in range(count):
            body = {
                "name": f"Soak booth {n}",
                "email": f"soak{n}@booth.example",
                "license_type": rng.choice(("starter", "pro", "enterprise")),
            }
            customer = (await self.http.post("/api/customers", json=body, headers=admin)).json()
            auth = {"Authorization": f"License {customer['license_key']}"}
            printers = []
            for p in range(rng.choice((1, 2))):
                printer = await self.http.post(
                    "/api/printers",
                    json={"name": f"P{p}", "type": "dye-sublimation", "connection_type": "usb"},
                    headers=auth,
                )
                printers.append(printer.json()["id"])
            self.booths.append(Booth(auth, customer["license_key"], customer["id"], printers))

    # -- a booth's day --------------------------------------------------------------------
    async def validate(self, booth: Booth, rng: random.Random) -> None:
        body = {"license_key": booth.key}
        await self.request((200,), "POST", "/api/licenses/validate", json=body)

    async def own_customer(self, booth: Booth, rng: random.Random) -> None:
        await self.request((200,), "GET", f"/api/customers/{booth.customer}", headers=booth.auth)

    async def photo(self, booth: Booth, rng: random.Random) -> None:
        body = {"id": str(uuid.uuid4())}
        row = await self.request((201,), "POST", "/api/photos", json=body, headers=booth.auth)
        if row:
            image = rng.randbytes(rng.randint(20_000, 120_000))
            await self.request((200, 201, 204), "PUT", row["upload_url"], content=image)

    async def print_next(self, booth: Booth, rng: random.Random) -> None:
        printer = rng.choice(booth.printers)
        job = await self.request(
            (200, 204), "POST", f"/api/printers/{printer}/claim", headers=booth.auth
        )
        if job:
            done = {"print_status": "completed"}
            await self.request(
                (200,), "PATCH", f"/api/photos/{job['id']}", json=done, headers=booth.auth
            )

    async def lists(self, booth: Booth, rng: random.Random) -> None:
        url = rng.choice(("/api/photos?limit=50", "/api/printers", "/api/payments?limit=20"))
        await self.request((200,), "GET", url, headers=booth.auth)

    async def payment(self, booth: Booth, rng: random.Random) -> None:
        if booth.payments and rng.random() < 0.7:  # the guest pays: Xendit calls back
            invoice = booth.payments.pop()
            self.xendit.set_status(invoice, "PAID")
            await self.request(
                (200,), "POST", "/api/webhooks/xendit", json=self.xendit.callback(invoice),
                headers={"x-callback-token": self.callback_token},
            )  # fmt: skip
            return
        headers = {**booth.auth, "Idempotency-Key": uuid.uuid4().hex}
        body = {"amount": rng.randrange(15_000, 100_000, 5_000)}
        row = await self.request((201,), "POST", "/api/payments", json=body, headers=headers)
        if row:
            booth.payments.append(row["xendit_payment_id"])

    def mix(self) -> list[tuple[Callable[[Booth, random.Random], Awaitable[None]], int]]:
        return [
            (self.validate, 20), (self.own_customer, 10), (self.photo, 25),
            (self.print_next, 25), (self.lists, 15), (self.payment, 5),
        ]  # fmt: skip

    async def run(self, seconds: float, rate: float, rng: random.Random) -> None:
        """Open loop: one operation every 1/rate s, each booth's operations in sequence."""
        actions, weights = zip(*self.mix(), strict=True)
        in_flight: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while (due := start + n / rate) < start + seconds:
            await asyncio.sleep(max(0.0, due - loop.time()))
            n += 1
            if len(in_flight) >= MAX_IN_FLIGHT:
                self.record(None, "client: too many requests in flight")
                continue
            action = rng.choices(actions, weights)[0]
            task = asyncio.create_task(action(rng.choice(self.booths), rng))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight, timeout=30)


async def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    running = RunningFake()
    xendit = running.start()
    callback_token = secrets.token_urlsafe(32)
    xendit.callback_token = callback_token
    admin_token = secrets.token_urlsafe(32)
    port = free_port()
    data = work / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOTHCLOUD_")} | {
        "PYTHONPATH": str(ROOT / "src"),
        "BOOTHCLOUD_ENVIRONMENT": "production",
        "BOOTHCLOUD_DATA_DIR": str(data),
        "BOOTHCLOUD_ADMIN_TOKEN": admin_token,
        "BOOTHCLOUD_URL_SIGNING_SECRET": secrets.token_urlsafe(32),
        "BOOTHCLOUD_XENDIT_CALLBACK_TOKEN": callback_token,
        "BOOTHCLOUD_XENDIT_SECRET_KEY": SECRET_KEY,
        "BOOTHCLOUD_XENDIT_BASE_URL": xendit.url,
        "BOOTHCLOUD_VALIDATE_RATE_LIMIT_PER_MINUTE": "1000000000",
        "BOOTHCLOUD_BACKUP_ENABLED": "false",
    }
    argv = [sys.executable, "-m", "boothcloud", "serve", "--migrate", "--port", str(port),
            "--workers", str(args.workers)]  # fmt: skip
    server = Server("boothcloud", argv, env, work, port, data / "boothcloud.db")
    rng = random.Random(args.seed)
    wal_samples: list[int] = []
    try:
        with serving(server):
            assert server.process is not None
            pid = server.process.pid
            limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=64)
            async with httpx.AsyncClient(base_url=server.url, timeout=10, limits=limits) as http:
                runner = Soak(http, xendit, callback_token)
                admin = {"Authorization": f"Bearer {admin_token}"}
                await runner.create_booths(args.booths, admin, rng)
                print(f"{args.booths} booths; warming up for {args.warmup:g}s", flush=True)
                await runner.run(args.warmup, args.rate, rng)
                rss_start, wal_start = tree_rss_bytes(pid), wal_bytes(server.db)
                cpu_start = server.cpu(), client_cpu()

                async def sample_wal() -> None:
                    while True:
                        wal_samples.append(wal_bytes(server.db))
                        await asyncio.sleep(1.0)

                sampler = asyncio.create_task(sample_wal())
                runner.measuring, runner.started = True, time.monotonic()
                reporter = asyncio.create_task(report_minutes(runner))
                await runner.run(args.minutes * 60, args.rate, rng)
                sampler.cancel()
                reporter.cancel()
                rss_end, wal_end = tree_rss_bytes(pid), wal_bytes(server.db)
                cpu_end = server.cpu(), client_cpu()
    finally:
        running.stop()
    minutes = [m.summary(i) for i, m in enumerate(runner.minutes[: int(args.minutes)])]
    errors = sum(m.errors for m in runner.minutes)
    growth = (rss_end - rss_start) / rss_start
    wal_max = max(wal_samples, default=0)
    return {
        "minutes": minutes,
        "requests": sum(m["requests"] for m in minutes),
        "errors": errors,
        "rss_start_mb": round(rss_start / 2**20, 1),
        "rss_end_mb": round(rss_end / 2**20, 1),
        "rss_growth": round(growth, 4),
        "wal_start_mb": round(wal_start / 2**20, 2),
        "wal_end_mb": round(wal_end / 2**20, 2),
        "wal_max_mb": round(wal_max / 2**20, 2),
        "wal_ceiling_mb": round(WAL_MAX_DEFAULT / 2**20, 2),
        # Cores used: the load this soak put on the machine, and what else was running.
        "server_cores": round((cpu_end[0] - cpu_start[0]) / (args.minutes * 60), 2),
        "client_cores": round((cpu_end[1] - cpu_start[1]) / (args.minutes * 60), 2),
        "loadavg_end": os.getloadavg(),
        "pass": {
            "no_errors": errors == 0,
            "rss_growth_under_10pct": growth < RSS_GROWTH_LIMIT,
            "wal_bounded": wal_max < WAL_MAX_DEFAULT,
        },
    }


async def report_minutes(runner: Soak) -> None:
    """Print each minute's figures as soon as it is over."""
    printed = 0
    while True:
        await asyncio.sleep(5)
        done = int((time.monotonic() - runner.started) // 60)
        while printed < min(done, len(runner.minutes)):
            m = runner.minutes[printed].summary(printed)
            print(f"  minute {m['minute']:>2}: {m['requests']:>6} requests, {m['errors']} errors, "
                  f"p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms", flush=True)  # fmt: skip
            printed += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=40.0, help="operations per second")
    parser.add_argument("--booths", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before measuring")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (and log)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="boothcloud-soak-"))
    print(f"work folder {work}; {args.minutes:g} min at {args.rate:g} operations/s", flush=True)
    try:
        result = asyncio.run(soak(args, work))
        result |= {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": vars(args),
            "log_bytes": (work / "boothcloud.log").stat().st_size,
        }
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{result['requests']} requests, {result['errors']} errors; RSS "
        f"{result['rss_start_mb']} -> {result['rss_end_mb']} MB ({result['rss_growth']:+.1%}); "
        f"WAL {result['wal_start_mb']} -> {result['wal_end_mb']} MB, max {result['wal_max_mb']} "
        f"MB (ceiling {result['wal_ceiling_mb']} MB)\nresults: {out.relative_to(ROOT)}"
    )
    passed = all(result["pass"].values())
    print("SOAK PASS" if passed else f"SOAK FAIL: {result['pass']}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
