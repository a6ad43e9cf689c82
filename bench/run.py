"""boothcloud's benchmark: one command, a realistic database, wrk, and an honest baseline.

    .venv/bin/python bench/run.py [--duration 10] [--connections 32] [--workers 2]
                                  [--scenario all|customers|validate|photos|claim] [--rounds 3]

1. Builds a database in a temporary folder: boothcloud's own migrations, then a bulk
   insert (one transaction) of customers with real license keys, photos spread over them
   and printers with pending print queues.
2. Serves boothcloud as users run it (`boothcloud serve`: uvloop, httptools, its logging as
   shipped, request log included, production settings with real secrets) on a free loopback
   port, beside `bench/reference_app.py` (raw ASGI + stdlib sqlite3, same uvicorn, same
   workers) on a fresh copy of the same database file, and FastAPI's floor and ceiling
   (`bench/floor_app.py`).
3. Drives each scenario with wrk (a short warm-up, then the measured run) on each app in
   turn, for `--rounds` rounds; the app that goes first alternates from round to round.
4. Prints a markdown table (each route's median round: req/s, p50, p99, ratio
   boothcloud/reference, PASS/FAIL), every round's ratio and p99s under it, and writes
   everything, with the machine's load during each run, to bench/results/.

A run in which any request failed (socket error or a non-2xx status) is marked INVALID.
Needs `wrk` (Debian package); installs it with apt-get when missing (see bench/setup.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LUA = BENCH / "wrk" / "bench.lua"
DB_FORMAT = "%Y-%m-%d %H:%M:%S"
sys.path.insert(0, str(ROOT / "src"))

from boothcloud.db.migrate import migrate  # noqa: E402
from boothcloud.db.sqlite import SQLiteDatabase  # noqa: E402
from boothcloud.ids import new_id, uuid7  # noqa: E402
from boothcloud.licenses.keys import generate_license_key  # noqa: E402
from boothcloud.settings import PACKAGED_MIGRATIONS, Settings  # noqa: E402

WAL_MAX_DEFAULT = Settings.model_fields["sqlite_wal_max_bytes"].default


@dataclass(frozen=True)
class Scenario:
    name: str
    route: str
    method: str
    openapi_path: str  # how boothcloud's /openapi.json names it (detects unbuilt routes)
    p99_target_ms: float
    data: str  # which data file the wrk script reads
    count_statuses: bool = False
    writes: bool = False  # its WAL must stay under the ceiling (--wal-max-mb)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("customers", "GET /api/customers/:id", "get", "/api/customers/{customer_id}",
                 20.0, "customers"),
        Scenario("validate", "POST /api/licenses/validate", "post", "/api/licenses/validate",
                 20.0, "customers"),
        Scenario("photos", "POST /api/photos", "post", "/api/photos", 20.0, "customers",
                 count_statuses=True, writes=True),
        Scenario("claim", "POST /api/printers/:id/claim", "post",
                 "/api/printers/{printer_id}/claim", 20.0, "printers", count_statuses=True,
                 writes=True),
    )
}  # fmt: skip
RATIO_TARGET = 0.5
CEILING_ROUTES = ("customers", "validate")  # the read routes bench/floor_app.py's work mode serves
# What round_lines reports beside the table: (app, route, what bench/floor_app.py does there).
FASTAPI_BOUNDS = (
    ("floor", "customers", "the reference's bytes; no auth, database or log"),
    *(
        (
            "ceiling", name,
            "the reference's own handler inside a FastAPI route, nothing of FastAPI's on top",
        )
        for name in CEILING_ROUTES
    ),
)  # fmt: skip


# --- the database -------------------------------------------------------------------------
@dataclass
class Dataset:
    customers: int = 0
    active_customers: int = 0
    photos: int = 0
    pending_photos: int = 0
    printers: int = 0
    build_seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)


def _stamp(moment: datetime) -> str:
    return moment.strftime(DB_FORMAT)


def _insert(conn: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dicts into a table, using only the columns the schema has (it evolves)."""
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    present = {r[1] for r in info}
    required = {r[1] for r in info if r[3] and r[4] is None}  # NOT NULL, no default
    columns = [c for c in rows[0] if c in present]
    missing = required - set(columns)
    if missing:
        raise SystemExit(f"bench seeding does not fill {table}.{sorted(missing)}: update run.py")
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    conn.executemany(sql, [tuple(row[c] for c in columns) for row in rows])


def build_database(path: Path, work: Path, args: argparse.Namespace) -> Dataset:
    started = time.perf_counter()
    rng = random.Random(args.seed)

    async def apply_migrations() -> list[str]:
        database = SQLiteDatabase(path)
        try:
            return await migrate(database, PACKAGED_MIGRATIONS)
        finally:
            await database.close()

    applied = asyncio.run(apply_migrations())
    now = datetime.now(UTC).replace(microsecond=0)
    tiers = ["starter"] * 6 + ["pro"] * 3 + ["enterprise"]
    towns = ["Jakarta", "Bandung", "Surabaya", "Yogyakarta", "Medan", "Denpasar", "Makassar"]
    names = ["Photobox", "Studio Foto", "Fotobooth", "Snap & Smile", "Kilat Foto", "Ceria"]
    customers: list[dict[str, Any]] = []
    for i in range(args.customers):
        created = now - timedelta(days=rng.uniform(1, 730), seconds=rng.randint(0, 86_399))
        status, expires = "active", None
        roll = rng.random()
        if roll < 0.02:
            status = "suspended"
        elif roll < 0.03:
            expires = _stamp(now - timedelta(days=rng.randint(1, 90)))  # expired
        elif roll < 0.15:
            expires = _stamp(now + timedelta(days=rng.randint(30, 365)))
        customers.append(
            {
                "id": new_id("cus"),
                "name": f"{rng.choice(names)} {rng.choice(towns)} {i}",
                "email": f"owner{i}@studio{i}.example",
                "phone": f"+62812{rng.randint(10_000_000, 99_999_999)}",
                "license_key": generate_license_key(),
                "license_type": rng.choice(tiers),
                "purchase_date": _stamp(created),
                "created_at": _stamp(created),
                "updated_at": _stamp(created + timedelta(days=rng.uniform(0, 30))),
                "license_status": status,
                "license_expires_at": expires,
            }
        )
    cutoff = _stamp(now + timedelta(days=1))  # still valid while the benchmark runs
    usable = [
        c
        for c in customers
        if c["license_status"] == "active"
        and (c["license_expires_at"] is None or c["license_expires_at"] > cutoff)
    ]

    # Printers: a "busy" subset of usable customers has one or two, the first the default,
    # and a queue of pending photos; these are the claim scenario's booths.
    busy = rng.sample(usable, min(args.busy_customers, len(usable)))
    printers: list[dict[str, Any]] = []
    claim_rows: list[str] = []
    printers_of: dict[str, list[str]] = {}
    for customer in busy:
        for n in range(rng.choice((1, 1, 2))):
            printer_id = new_id("prn")
            created = _stamp(now - timedelta(days=rng.uniform(1, 300)))
            printers.append(
                {
                    "id": printer_id,
                    "customer_id": customer["id"],
                    "name": f"Printer {n + 1}",
                    "type": rng.choice(("dye-sublimation", "thermal", "inkjet")),
                    "connection_type": rng.choice(("usb", "network")),
                    "is_default": int(n == 0),
                    "created_at": created,
                    "updated_at": created,
                }
            )
            printers_of.setdefault(customer["id"], []).append(printer_id)
            claim_rows.append(f"{customer['id']} {customer['license_key']} {printer_id}")

    # Photos: history for everyone (mostly printed), plus pending queues on busy booths.
    photos: list[dict[str, Any]] = []

    def photo(customer: dict[str, Any], status: str, printer: str | None, age_days: float) -> None:
        created = now - timedelta(days=age_days)
        photo_id = str(uuid7())
        key = f"photos/{customer['id']}/{created:%Y/%m/%d}/{photo_id}.jpg"
        stamp = _stamp(created)
        photos.append(
            {
                "id": photo_id,
                "customer_id": customer["id"],
                "r2_key": key,
                "print_status": status,
                "printer_id": printer,
                "created_at": stamp,
                "updated_at": stamp,
                "claimed_at": stamp if status != "pending" and printer else None,
                # Booths upload right after logging: every photo here has its object.
                "uploaded_at": stamp,
                "object_size": 180_000,
                "content_type": "image/jpeg",
                "request_hash": hashlib.sha256(key.encode()).hexdigest(),
            }
        )

    pending_total = args.pending_per_printer * len(printers)
    history = max(args.photos - pending_total, 0)
    for _ in range(history):
        customer = rng.choice(customers)
        own = printers_of.get(customer["id"])
        status = rng.choices(("completed", "failed", "pending"), (90, 3, 7))[0]
        printer = rng.choice(own) if own and status != "pending" else None
        photo(customer, status, printer, rng.uniform(0.01, 365))
    by_id = {c["id"]: c for c in busy}
    for customer_id, own in printers_of.items():
        for printer in own:
            for _ in range(args.pending_per_printer):
                assigned = printer if rng.random() < 0.5 else None
                photo(by_id[customer_id], "pending", assigned, rng.uniform(0, 2))

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    _insert(conn, "customers", customers)
    if printers:
        _insert(conn, "printers", printers)
    photos.sort(key=lambda p: p["created_at"])
    _insert(conn, "photos", photos)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()

    files = {
        "customers": work / "customers.txt",
        "printers": work / "printers.txt",
    }
    files["customers"].write_text("".join(f"{c['id']} {c['license_key']}\n" for c in usable))
    files["printers"].write_text("".join(f"{row}\n" for row in claim_rows))
    return Dataset(
        customers=len(customers),
        active_customers=len(usable),
        photos=len(photos),
        pending_photos=sum(p["print_status"] == "pending" for p in photos),
        printers=len(printers),
        build_seconds=round(time.perf_counter() - started, 2),
        files={k: str(v) for k, v in files.items()} | {"migrations": ",".join(applied)},
    )


# --- machine load -------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def cpu_times() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return (total - idle) / TICK, total / TICK


def process_tree(pid: int) -> Iterator[int]:
    """A process and all its live descendants (uvicorn's supervisor and its workers)."""
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        yield current


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants."""
    total = 0.0
    for current in process_tree(pid):
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parts = stat[stat.rindex(")") + 2 :].split()
        total += (int(parts[11]) + int(parts[12])) / TICK
    return total


def sample_idle_load(seconds: float) -> float:
    """Cores busy with other work while nothing of ours runs."""
    busy0, total0 = cpu_times()
    time.sleep(seconds)
    busy1, total1 = cpu_times()
    cores = os.cpu_count() or 1
    return round((busy1 - busy0) / max(total1 - total0, 1e-9) * cores, 2)


# --- servers ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WalSampler:
    """The size of a database's WAL file, sampled every 50 ms while a run goes on."""

    def __init__(self, database: Path) -> None:
        self.wal = Path(f"{database}-wal")
        self.max_bytes = self.end_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def size(self) -> int:
        try:
            return self.wal.stat().st_size
        except FileNotFoundError:
            return 0

    def _sample(self) -> None:
        while True:
            self.max_bytes = max(self.max_bytes, self.size())
            if self._stop.wait(0.05):
                return

    def __enter__(self) -> WalSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.end_bytes = self.size()


class Server:
    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int, db: Path
    ) -> None:
        self.name, self.argv, self.env, self.cwd, self.port = name, argv, env, cwd, port
        self.db = db
        self.log = cwd / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        time.sleep(1.0)  # let every worker finish its start-up
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"{self.name} did not become ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # our own session: uvicorn + workers
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def cpu(self) -> float:
        return process_tree_cpu(self.process.pid) if self.process else 0.0


@contextmanager
def serving(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def uvicorn_argv(target: list[str], port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", *target,
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def boothcloud_server(work: Path, db: Path, args: argparse.Namespace, secret: str) -> Server:
    port = free_port()
    home = work / "boothcloud"
    home.mkdir(exist_ok=True)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("BOOTHCLOUD_")
    } | {
        "PYTHONPATH": str(args.boothcloud_src),
        "BOOTHCLOUD_ENVIRONMENT": "production",
        "BOOTHCLOUD_ADMIN_TOKEN": secrets.token_urlsafe(32),
        "BOOTHCLOUD_XENDIT_CALLBACK_TOKEN": secrets.token_urlsafe(32),
        "BOOTHCLOUD_URL_SIGNING_SECRET": secret,
        "BOOTHCLOUD_DATA_DIR": str(home / "data"),
        "BOOTHCLOUD_DATABASE_PATH": str(db),
        "BOOTHCLOUD_MIGRATIONS_DIR": str(PACKAGED_MIGRATIONS),
        "BOOTHCLOUD_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BOOTHCLOUD_VALIDATE_RATE_LIMIT_PER_MINUTE": "1000000000",
        "BOOTHCLOUD_BACKUP_ENABLED": "false",
        "BOOTHCLOUD_RECONCILE_INTERVAL_SECONDS": "0",
        "BOOTHCLOUD_SQLITE_SYNCHRONOUS": args.synchronous,
        "BOOTHCLOUD_SQLITE_WAL_MAX_BYTES": str(int(args.wal_max_mb * 1024 * 1024)),
    }  # fmt: skip
    # As users run it: `boothcloud serve`, with its logging as shipped (info level, one
    # request line per request, redacted, written in batches), to a file.
    argv = [
        sys.executable, "-m", "boothcloud", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
    ]  # fmt: skip
    return Server("boothcloud", argv, env, home, port, db)


def reference_server(work: Path, db: Path, args: argparse.Namespace, secret: str) -> Server:
    port = free_port()
    home = work / "reference"
    home.mkdir(exist_ok=True)
    env = os.environ | {
        "REFERENCE_DATABASE_PATH": str(db),
        "REFERENCE_URL_SIGNING_SECRET": secret,
        "REFERENCE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "REFERENCE_VALIDATE_RATE_LIMIT_PER_MINUTE": "1000000000",
        "REFERENCE_SQLITE": args.reference_sqlite,
        "REFERENCE_SQLITE_SYNCHRONOUS": args.synchronous,
    }
    argv = uvicorn_argv(["--app-dir", str(BENCH), "reference_app:app"], port, args.workers)
    return Server("reference", argv, env, home, port, db)


def floor_server(work: Path, db: Path, workers: int, body: bytes | None) -> Server:
    """bench/floor_app.py: FastAPI answering `body`, the reference's bytes ("floor"), or,
    with no body, running the reference's own handlers on `db` ("ceiling")."""
    port = free_port()
    name = "floor" if body is not None else "ceiling"
    home = work / name
    home.mkdir(exist_ok=True)
    if body is not None:
        (home / "body.json").write_bytes(body)
        env = os.environ | {"FLOOR_MODE": "bytes", "FLOOR_BODY_FILE": str(home / "body.json")}
    else:
        env = os.environ | {
            "FLOOR_MODE": "work",
            "REFERENCE_DATABASE_PATH": str(db),
            "REFERENCE_VALIDATE_RATE_LIMIT_PER_MINUTE": "1000000000",
        }
    argv = uvicorn_argv(["--app-dir", str(BENCH), "floor_app:app"], port, workers)
    return Server(name, argv, env, home, port, db)


# --- requests outside the load: route detection and same-answer checks ---------------------
def call(url: str, method: str, headers: dict[str, str], body: bytes | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def gone(server: Server, error: Exception) -> SystemExit:
    code = server.process.poll() if server.process else None
    tail = server.log.read_text()[-3000:] if server.log.exists() else ""
    return SystemExit(f"{server.name} stopped answering ({error}; exit code {code}):\n{tail}")


def available_routes(server: Server) -> set[str]:
    try:
        status, spec = call(server.url + "/openapi.json", "GET", {})
    except urllib.error.URLError as error:
        raise gone(server, error) from error
    if status != 200:
        return set()
    return {f"{m} {p}" for p, ops in spec.get("paths", {}).items() for m in ops}


def sample_answers(server: Server, files: dict[str, str], wanted: list[Scenario]) -> dict[str, Any]:
    """One request per scenario before the load, to compare the two apps' answers."""
    try:
        return _sample_answers(server, files, wanted)
    except urllib.error.URLError as error:
        raise gone(server, error) from error


# One request of a route: method, path, headers, body (None: no body).
SampleRequest = tuple[str, str, dict[str, str], bytes | None]


def sample_requests(files: dict[str, str]) -> dict[str, SampleRequest]:
    """One request per scenario, from the data files' first booth and printer (a photo with
    a fresh id each call), with the headers bench/wrk/bench.lua sends: the answer check's
    requests, and bench/instructions.py's."""
    customer_id, key = Path(files["customers"]).read_text().split("\n")[0].split()
    _, printer_key, printer = Path(files["printers"]).read_text().split("\n")[0].split()
    auth = {"Authorization": f"License {key}"}
    json_body = {"Content-Type": "application/json"}
    body_headers = {**auth, **json_body}
    return {
        "customers": ("GET", f"/api/customers/{customer_id}", auth, None),
        "validate": (
            "POST", "/api/licenses/validate", json_body,
            json.dumps({"license_key": key}).encode(),
        ),
        "photos": (
            "POST", "/api/photos", body_headers, json.dumps({"id": str(uuid.uuid4())}).encode()
        ),
        "claim": (
            "POST", f"/api/printers/{printer}/claim", {"Authorization": f"License {printer_key}"},
            None,
        ),
    }  # fmt: skip


def _sample_answers(
    server: Server, files: dict[str, str], wanted: list[Scenario]
) -> dict[str, Any]:
    asks = sample_requests(files)
    answers: dict[str, Any] = {}
    for scenario in wanted:
        method, path, headers, body = asks[scenario.name]
        answers[scenario.name] = call(server.url + path, method, headers, body)
    return answers


def compare_answers(ours: dict[str, Any], reference: dict[str, Any]) -> dict[str, str]:
    """Same status and the same fields; values must match where they are deterministic."""
    verdicts: dict[str, str] = {}
    # Ids, keys, times and signed URLs differ run to run; URLs must agree up to the key.
    volatile = {"id", "r2_key", "created_at", "updated_at", "claimed_at", "uploaded_at"}
    for name, (status, body) in ours.items():
        ref_status, ref_body = reference.get(name, (None, None))
        if status != ref_status:
            verdicts[name] = f"status {status} vs reference {ref_status}"
        elif isinstance(body, dict) and isinstance(ref_body, dict):
            if list(body) != list(ref_body):
                verdicts[name] = f"fields {list(body)} vs reference {list(ref_body)}"
            elif name in ("customers", "validate") and body != ref_body:
                verdicts[name] = "same fields, different values"
            else:
                diffs = [
                    k
                    for k in body
                    if k not in volatile
                    and (
                        body[k] != ref_body[k]
                        if not k.endswith("_url") or body[k] is None or ref_body[k] is None
                        else urlsplit(body[k]).path.split("/")[:3]
                        != urlsplit(ref_body[k]).path.split("/")[:3]
                    )
                ]
                verdicts[name] = "same" if not diffs else f"values differ: {diffs}"
        else:
            verdicts[name] = "same" if body == ref_body else "different bodies"
    return verdicts


# --- wrk ----------------------------------------------------------------------------------
def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing the Debian package (apt-get install -y wrk)")
    apt = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(apt, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(apt, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed; run bench/setup.sh")
    return found


def wrk_run(
    server: Server, scenario: Scenario, files: dict[str, str], seconds: float,
    args: argparse.Namespace, work: Path,
) -> dict[str, Any]:  # fmt: skip
    script = work / f"{scenario.name}.lua"
    prefix = "COUNT_STATUSES = true\n" if scenario.count_statuses else ""
    script.write_text(prefix + LUA.read_text())
    nonce = secrets.token_hex(4)
    argv = [
        args.wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds:g}s",
        "--timeout", "5s", "-s", str(script), server.url, "--",
        scenario.name, files[scenario.data], nonce,
    ]  # fmt: skip
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, total0 = cpu_times()
    server0 = server.cpu()
    started = time.monotonic()
    with WalSampler(server.db) as wal:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    wall = time.monotonic() - started
    busy1, total1 = cpu_times()
    server1 = server.cpu()
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    stats: dict[str, Any] = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    cores = os.cpu_count() or 1
    machine = (busy1 - busy0) / max(total1 - total0, 1e-9) * cores
    server_cores = (server1 - server0) / wall
    wrk_cores = (usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime) / wall
    errors = stats["errors"]
    failed = sum(errors.values())
    stats.update(
        rps=round(stats["requests"] / (stats["duration_us"] / 1e6), 1),
        p50_ms=round(stats["p50_us"] / 1000, 2),
        p99_ms=round(stats["p99_us"] / 1000, 2),
        # Server CPU per request: steadier than req/s when other processes share the CPU.
        cpu_us_per_request=round((server1 - server0) / max(stats["requests"], 1) * 1e6, 1),
        valid=failed == 0 and stats["requests"] > 0,
        failed=failed,
        wal_max_mb=round(wal.max_bytes / 2**20, 1),
        wal_end_mb=round(wal.end_bytes / 2**20, 1),
        load={
            "machine_cores_busy": round(machine, 2),
            "server_cores": round(server_cores, 2),
            "wrk_cores": round(wrk_cores, 2),
            "other_cores": round(max(machine - server_cores - wrk_cores, 0.0), 2),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        },
    )
    return stats


def drive(
    server: Server, wanted: list[Scenario], files: dict[str, str], args: argparse.Namespace,
    work: Path,
) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    for scenario in wanted:
        if args.warmup > 0:
            wrk_run(server, scenario, files, args.warmup, args, work)
        stats = wrk_run(server, scenario, files, args.duration, args, work)
        if server.process is not None and server.process.poll() is not None:
            raise SystemExit(
                f"{server.name} exited during the {scenario.name} run "
                f"(code {server.process.returncode}):\n{server.log.read_text()[-3000:]}"
            )
        out[scenario.name] = stats
        flag = "" if stats["valid"] else f"  INVALID: {stats['failed']} failed requests"
        if stats["counted"]["204"]:  # claims that found the queue empty are cheaper
            flag += f"  [{stats['counted']['204'] / stats['requests']:.1%} answered 204]"
        print(
            f"  {server.name:10} {scenario.name:9} {stats['rps']:>9.1f} req/s  "
            f"p50 {stats['p50_ms']:>6.2f} ms  p99 {stats['p99_ms']:>6.2f} ms  "
            f"{stats['cpu_us_per_request']:>6.0f} us CPU/req  WAL max {stats['wal_max_mb']} MB  "
            f"(cores: server {stats['load']['server_cores']}, wrk {stats['load']['wrk_cores']},"
            f" other {stats['load']['other_cores']}){flag}",
            flush=True,
        )
    return out


# --- report -------------------------------------------------------------------------------
def round_ratio(measured: dict[str, Any], name: str) -> float | None:
    ours, ref = measured["boothcloud"].get(name), measured["reference"].get(name)
    return ours["rps"] / ref["rps"] if ours and ref and ref["rps"] else None


def median_round(rounds: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The round whose figures the table shows for route `name`: the one with the median
    ratio to the reference (the lower middle of an even count), so every figure in a row,
    the floor's included, comes from one real set of runs; with one side measured
    (`--only`), the one with that side's median req/s."""

    def order(measured: dict[str, Any]) -> float:
        ratio = round_ratio(measured, name)
        if ratio is not None:
            return ratio
        return float(next(runs[name]["rps"] for runs in measured.values() if name in runs))

    ranked = sorted(rounds, key=order)
    return ranked[(len(ranked) - 1) // 2]


def round_lines(results: dict[str, Any]) -> list[str]:
    """Every round's ratio and p99s per route, and the floor's and ceiling's, under the
    table."""
    lines = []
    rounds = results["rounds"]
    for name in results["verdicts"]:
        ratios = [round_ratio(r, name) for r in rounds]
        p99s = [
            "/".join(f"{r[app][name]['p99_ms']:.1f}" for r in rounds)
            for app in ("boothcloud", "reference")
        ]
        lines.append(
            f"- `{SCENARIOS[name].route}`: ratio by round "
            + ", ".join(f"{x:.2f}x" for x in ratios if x is not None)
            + f"; p99 ms boothcloud {p99s[0]}, reference {p99s[1]}"
        )
    for app, name, what in FASTAPI_BOUNDS:
        both = [r for r in rounds if name in r.get(app, {}) and name in r["reference"]]
        if not both:
            continue
        against_ref = [r[app][name]["rps"] / r["reference"][name]["rps"] for r in both]
        ours = [r["boothcloud"][name]["rps"] / r[app][name]["rps"] for r in both]
        lines.append(
            f"- FastAPI's {app} on `{SCENARIOS[name].route}` (bench/floor_app.py: {what}) "
            "against the reference by round: "
            + ", ".join(f"{x:.2f}x" for x in against_ref)
            + f"; boothcloud against that {app}: "
            + ", ".join(f"{x:.2f}x" for x in ours)
        )
    return lines


def verdicts(
    ours: dict[str, Any], ref: dict[str, Any], scenario: Scenario, wal_max_mb: float
) -> dict[str, Any]:
    ratio = ours["rps"] / ref["rps"] if ref["rps"] else 0.0
    valid = ours["valid"] and ref["valid"]
    return {
        "ratio": round(ratio, 2),
        "ratio_pass": valid and ratio >= RATIO_TARGET,
        "p99_pass": valid and ours["p99_ms"] < scenario.p99_target_ms,
        # Only boothcloud's WAL has a ceiling; the reference's is shown for comparison.
        "wal_pass": not scenario.writes or ours["wal_max_mb"] < wal_max_mb,
        "valid": valid,
    }


def markdown(results: dict[str, Any]) -> str:
    rows = [
        "| Route | boothcloud req/s | p50 ms | p99 ms | CPU/req | reference req/s | p50 ms "
        "| p99 ms | CPU/req | ratio (>= 0.5) | p99 target | WAL max MB (ours / ref) | result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for name, verdict in results["verdicts"].items():
        scenario = SCENARIOS[name]
        ours = results["boothcloud"][name]
        ref = results["reference"][name]
        if not verdict["valid"]:
            result = "INVALID (failed requests)"
        else:
            ratio_word = "PASS" if verdict["ratio_pass"] else "FAIL"
            p99_word = "PASS" if verdict["p99_pass"] else "FAIL"
            result = f"ratio {ratio_word}, p99 {p99_word}"
            if scenario.writes:
                result += f", WAL {'PASS' if verdict['wal_pass'] else 'FAIL'}"
        # A read's WAL is whatever the writes of earlier rounds left: not its own figure.
        wal = f"{ours['wal_max_mb']:g} / {ref['wal_max_mb']:g}" if scenario.writes else "-"
        rows.append(
            f"| `{scenario.route}` | {ours['rps']:,.0f} | {ours['p50_ms']:.2f} | "
            f"{ours['p99_ms']:.2f} | {ours['cpu_us_per_request']:.0f} µs | {ref['rps']:,.0f} | "
            f"{ref['p50_ms']:.2f} | {ref['p99_ms']:.2f} | {ref['cpu_us_per_request']:.0f} µs | "
            f"{verdict['ratio']:.2f}x | < {scenario.p99_target_ms:g} ms | "
            f"{wal} | {result} |"
        )
    for name in results["skipped"]:
        rows.append(f"| `{SCENARIOS[name].route}` | not built yet |{' |' * 11} skipped |")
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """bench/run.py's options (`argv`, or the command line's); bench/instructions.py
    passes its own on to serve the apps the same way."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (both apps)")
    parser.add_argument(
        "--scenario", default="all", choices=["all", *SCENARIOS], help="what to drive"
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--photos", type=int, default=120_000)
    parser.add_argument("--busy-customers", type=int, default=2_000, help="with printers")
    parser.add_argument(
        "--rounds", type=int, default=3,
        help="rounds of every route on each app, interleaved (the table shows the median)",
    )  # fmt: skip
    parser.add_argument(
        "--pending-per-printer", type=int, default=None,
        help="print jobs queued per printer (default 25 per round: claims never run dry)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reference-sqlite", choices=["inline", "thread"], default="inline",
        help="reference runs its queries on the event loop (floor) or in one thread hop",
    )  # fmt: skip
    parser.add_argument(
        "--synchronous", choices=["NORMAL", "FULL"], default="NORMAL",
        help="SQLite synchronous mode of both apps (BOOTHCLOUD_SQLITE_SYNCHRONOUS)",
    )  # fmt: skip
    parser.add_argument(
        "--wal-max-mb", type=float, default=WAL_MAX_DEFAULT / 2**20,
        help="boothcloud WAL ceiling (BOOTHCLOUD_SQLITE_WAL_MAX_BYTES); write runs stay under it",
    )  # fmt: skip
    parser.add_argument("--only", choices=["both", "boothcloud", "reference"], default="both")
    parser.add_argument(
        "--boothcloud-src", type=Path, default=ROOT / "src",
        help="serve boothcloud from another source tree (A/B-test a fix without editing src/)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.pending_per_printer is None:
        args.pending_per_printer = 25 * args.rounds
    return args


def main() -> int:
    args = parse_args()
    args.wrk = ensure_wrk()
    wanted = list(SCENARIOS.values()) if args.scenario == "all" else [SCENARIOS[args.scenario]]
    work = Path(tempfile.mkdtemp(prefix="boothcloud-bench-"))
    print(f"work folder {work}")
    try:
        idle = sample_idle_load(2.0)
        print(f"machine: {os.cpu_count()} cores, {idle} busy before start, "
              f"loadavg {os.getloadavg()}")  # fmt: skip
        seed_db = work / "seed.db"
        dataset = build_database(seed_db, work, args)
        print(
            f"database: {dataset.customers:,} customers ({dataset.active_customers:,} usable), "
            f"{dataset.photos:,} photos ({dataset.pending_photos:,} pending), "
            f"{dataset.printers:,} printers, built in {dataset.build_seconds}s "
            f"({seed_db.stat().st_size / 1e6:.1f} MB)"
        )
        secret = secrets.token_urlsafe(32)
        results: dict[str, Any] = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "git": subprocess.run(
                ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip(),
            "machine": {
                "cores": os.cpu_count(),
                "cpu": platform.processor() or platform.machine(),
                "python": platform.python_version(),
                "other_cores_busy_before": idle,
                "loadavg_before": os.getloadavg(),
            },
            "settings": {k: v for k, v in vars(args).items() if k not in {"wrk", "keep", "only"}},
            "dataset": asdict(dataset),
            "skipped": [],
            "boothcloud": {},
            "reference": {},
            "answers": {},
            "verdicts": {},
        }

        ours_db, ref_db = work / "boothcloud.db", work / "reference.db"
        shutil.copyfile(seed_db, ours_db)
        shutil.copyfile(seed_db, ref_db)
        customers = SCENARIOS["customers"]
        # Every server stays up for the whole run (an idle one costs nothing), so the
        # rounds can alternate between them: drift in the machine's speed over minutes (this
        # VM's varies by 15-30%) then lands on both sides of every ratio.
        with ExitStack() as up:
            ours = up.enter_context(serving(boothcloud_server(work, ours_db, args, secret)))
            routes = available_routes(ours)
            present = [s for s in wanted if f"{s.method} {s.openapi_path}" in routes]
            results["skipped"] = [s.name for s in wanted if s not in present]
            for name in results["skipped"]:
                print(f"  skipped {name}: boothcloud has no {SCENARIOS[name].route} yet")
            answers_ours = sample_answers(ours, dataset.files, present)
            reference = up.enter_context(serving(reference_server(work, ref_db, args, secret)))
            answers_ref = sample_answers(reference, dataset.files, present)
            floor = ceiling = None
            if args.only == "both" and customers in present:
                body = json.dumps(answers_ref["customers"][1], separators=(",", ":")).encode()
                floor = up.enter_context(serving(floor_server(work, ref_db, args.workers, body)))
            if args.only == "both" and any(s.name in CEILING_ROUTES for s in present):
                ceiling = up.enter_context(serving(floor_server(work, ref_db, args.workers, None)))
            sides = [app for app, skip in ((ours, "reference"), (reference, "boothcloud"))
                     if args.only != skip]  # fmt: skip
            results["rounds"] = []
            for number in range(args.rounds):
                print(f"round {number + 1} of {args.rounds}", flush=True)
                measured: dict[str, dict[str, Any]] = {"boothcloud": {}, "reference": {}}
                for scenario in present:
                    # Odd rounds start with the reference: neither side always goes first.
                    for app in sides if number % 2 == 0 else sides[::-1]:
                        measured[app.name] |= drive(app, [scenario], dataset.files, args, work)
                    if floor is not None and scenario is customers:
                        measured["floor"] = drive(floor, [customers], dataset.files, args, work)
                    if ceiling is not None and scenario.name in CEILING_ROUTES:
                        measured.setdefault("ceiling", {})
                        measured["ceiling"] |= drive(ceiling, [scenario], dataset.files, args, work)
                results["rounds"].append(measured)
        for scenario in present:
            for app, runs in median_round(results["rounds"], scenario.name).items():
                if scenario.name in runs:
                    results.setdefault(app, {})[scenario.name] = runs[scenario.name]

        results["answers"] = compare_answers(answers_ours, answers_ref)
        results["sample_answers"] = {"boothcloud": answers_ours, "reference": answers_ref}
        for name, verdict in results["answers"].items():
            if verdict != "same":
                print(f"  WARNING {name}: answers differ between the apps: {verdict}")
        if args.only == "both":
            for scenario in present:
                results["verdicts"][scenario.name] = verdicts(
                    results["boothcloud"][scenario.name], results["reference"][scenario.name],
                    scenario, args.wal_max_mb,
                )  # fmt: skip
        results["machine"]["loadavg_after"] = os.getloadavg()

        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS / f"{stamp}.json"
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print()
        if results["verdicts"]:
            print(markdown(results))
            print()
            other = [
                run["load"]["other_cores"]
                for measured in results["rounds"]
                for runs in measured.values()
                for run in runs.values()
            ]
            print(
                f"{args.connections} connections, {args.workers} uvicorn workers, wrk "
                f"{args.threads} threads, {args.duration:g}s per run after {args.warmup:g}s "
                f"warm-up, {os.cpu_count()} cores; other processes used up to "
                f"{max(other, default=0):.2f} cores during the runs. Reference SQLite: "
                f"{args.reference_sqlite}; synchronous={args.synchronous}; boothcloud's WAL "
                f"ceiling {args.wal_max_mb:g} MB."
            )
            print(
                f"By round ({args.rounds}; the first app alternates; each row of the table is "
                "its route's median round):"
            )
            print("\n".join(round_lines(results)))
        print(f"results: {out.relative_to(ROOT)}")
        invalid = [n for n, v in results["verdicts"].items() if not v["valid"]]
        if invalid:
            print(f"INVALID RUN: failed requests in {', '.join(invalid)}")
            return 2
        if not results["verdicts"]:  # --only: one side measured, no ratio to judge
            print("no targets checked: the targets compare both apps (run without --only)")
            return 0
        passed = all(
            v["ratio_pass"] and v["p99_pass"] and v["wal_pass"]
            for v in results["verdicts"].values()
        )
        print("ALL TARGETS PASS" if passed else "SOME TARGETS FAIL")
        return 0 if passed else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
