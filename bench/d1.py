"""boothcloud on D1 beside its SQLite backend and the RFC's plain JS Worker, in one run.

    .venv/bin/python bench/d1.py [--rounds 3] [--duration 8] [--connections 32]
                                 [--workers 2] [--customers 1000] [--photos 20000]

1. Builds a SQLite database with bench/run.py's builder (boothcloud's migrations, customers
   with real keys, printers with queues, photos), dumps it with boothcloud's own dump and
   imports that into a local D1 (`wrangler d1 execute --local --file`).
2. Rounds, interleaved: per round, (a) `boothcloud serve` (2 workers, logging as shipped)
   on the D1 backend through the bridge (`d1/`, `wrangler dev --local`), (b) the same on a
   copy of the SQLite file, (c) the RFC-007 peer (`bench/d1peer/`, a plain JS Worker whose
   routes call D1 directly, no auth) on the same local D1. Each drives the hot routes with
   wrk (`bench/wrk/d1.lua`) after a warm-up.
3. Prints req/s, p99, bridge round trips per request (the bridge's `/stats` counter around
   the measured run), the Python server's CPU per request (which includes its D1
   client), the Worker side's CPU per request (`wrangler dev`: its node process and both
   workerd processes, for the bridge and for the peer alike), and the ratios D1/peer and
   D1/SQLite, from the same run. On a machine where every core is busy, req/s follow the
   CPU per request of everything on it, so those two columns say what a gap is made of.

With `--split`, the Worker side (`wrangler dev` and its workerd processes, every thread)
runs on core 0 and the client side (`boothcloud serve` and wrk) on the other cores, for
the bridge and the peer alike: in production boothcloud's Python and Cloudflare's Workers
do not share CPUs, so this is the comparison of the two designs with neither taking the
other's core. The default is the shared machine; docs/d1.md gives both.

Only 127.0.0.1; every wrk run is bounded. wrangler runs with metrics and `request.cf`
fetching off. Exits 2 if a run had errors (socket errors or non-2xx answers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "bench")]

from tests.db.d1server import Bridge, query_json, start_bridge  # noqa: E402

import run  # noqa: E402  (bench/run.py: the database builder and server plumbing)
from boothcloud.db.sqlite import SQLiteDatabase  # noqa: E402

LUA = ROOT / "bench" / "wrk" / "d1.lua"
PEER = ROOT / "bench" / "d1peer"
# (route label, boothcloud scenario, peer scenario or None, data file)
ROUTES = [
    ("GET /api/customers/:id", "customers", "peer_customers", "customers"),
    ("POST /api/photos", "photos", "peer_photos", "customers"),
    ("GET /api/printers", "printers", "peer_printers", "printers"),
    ("GET /api/photos", "photos_list", None, "customers"),
    ("POST /api/printers/:id/claim", "claim", None, "printers"),
    ("POST /api/licenses/activations", "activate", None, "customers"),
]


def load_local_d1(state: Path, dump: Path) -> None:
    """The dump into a fresh local D1: wrangler creates the database file, then the dump
    runs into that SQLite file in one transaction (`wrangler d1 execute --file` sends the
    rows one statement at a time: minutes for this size). Nothing is serving it yet."""
    state.mkdir(parents=True)
    query_json(state, "SELECT 1 AS ready")
    (local,) = [
        p
        for p in state.rglob("*.sqlite")
        if "D1DatabaseObject" in str(p) and p.name != "metadata.sqlite"
    ]
    conn = sqlite3.connect(local, isolation_level=None)
    try:
        conn.executescript("BEGIN;\n" + dump.read_text() + "\nCOMMIT;")
    finally:
        conn.close()


def bridge_calls(bridge: Bridge) -> int:
    request = urllib.request.Request(
        f"{bridge.url}/stats", headers={"Authorization": f"Bearer {bridge.token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        calls: int = json.load(answer)["calls"]
        return calls


def learn_keys(url: str, data: str, times: int = 6) -> None:
    """Steady state: every booth authenticated in both workers (a process makes one round
    trip more on a key's first request, docs/d1.md). Each request on a new connection, so
    the kernel spreads them over the workers."""

    def get(key: str) -> None:
        request = urllib.request.Request(
            f"{url}/api/printers", headers={"Authorization": f"License {key}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                answer.read()
        except urllib.error.HTTPError:
            pass  # counted in the measured runs, not here

    keys = [line.split()[1] for line in Path(data).read_text().splitlines() if line]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(get, keys * times))


def idle_calls_per_second(bridge: Bridge, seconds: float = 2.0) -> float:
    """Bridge calls per second with no requests coming in (background jobs)."""
    before = bridge_calls(bridge)
    time.sleep(seconds)
    return (bridge_calls(bridge) - before) / seconds


WORKER_CORES = {0}  # --split: the Worker side's core; the client side gets the others


def pin(pid: int | None, cores: set[int] | None) -> None:
    """Every thread of a process tree onto `cores` (threads started later inherit it);
    nothing when `cores` is None (no `--split`)."""
    if pid is None or cores is None:
        return
    for process in run.process_tree(pid):
        try:
            tasks = [int(task.name) for task in Path(f"/proc/{process}/task").iterdir()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        for task in tasks:
            try:
                os.sched_setaffinity(task, cores)
            except (ProcessLookupError, PermissionError):
                continue  # a thread that ended meanwhile


def wrk(url: str, scenario: str, data: str, seconds: float, args: argparse.Namespace) -> Any:
    cores = args.client_cores  # None unless --split
    taskset = ["taskset", "-c", ",".join(map(str, sorted(cores)))] if cores else []
    argv = [
        *taskset,
        args.wrk, "-t", "2", "-c", str(args.connections), "-d", f"{seconds:g}s",
        "--timeout", "10s", "-s", str(LUA), url, "--", scenario, data, secrets.token_hex(4),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1].removeprefix("BENCH_JSON "))


def worker_cpu(worker: Bridge) -> float:
    """CPU seconds so far of a `wrangler dev` and its workerd processes."""
    return run.process_tree_cpu(worker.process.pid) if worker.process else 0.0


def measure(
    url: str,
    scenario: str,
    data: str,
    args: argparse.Namespace,
    server: run.Server | None,
    bridge: Bridge | None,
    worker: Bridge | None = None,
) -> dict[str, Any]:
    """One route's run; `bridge` when boothcloud's bridge serves it (its calls are counted),
    `worker` the `wrangler dev` whose CPU is counted (the bridge's, or the peer's)."""
    wrk(url, scenario, data, args.warmup, args)
    calls0 = bridge_calls(bridge) if bridge else 0
    cpu0 = server.cpu() if server else 0.0
    worker0 = worker_cpu(worker) if worker else 0.0
    stats = wrk(url, scenario, data, args.duration, args)
    worker1 = worker_cpu(worker) if worker else 0.0
    cpu1 = server.cpu() if server else 0.0
    calls1 = bridge_calls(bridge) if bridge else 0
    requests = max(stats["requests"], 1)
    failed = sum(stats["errors"].values())
    result = {
        "rps": stats["requests"] / (stats["duration_us"] / 1e6),
        "p99_ms": stats["p99_us"] / 1000,
        "failed": failed,
        "requests": stats["requests"],
        # Less the calls boothcloud's background jobs make meanwhile (measured idle).
        "trips": (calls1 - calls0 - args.idle_calls * stats["duration_us"] / 1e6) / requests
        if bridge
        else None,
        "cpu_us": (cpu1 - cpu0) / requests * 1e6 if server else None,
        "worker_cpu_us": (worker1 - worker0) / requests * 1e6 if worker else None,
    }
    print(
        f"  {scenario:15} {result['rps']:8.1f} req/s  p99 {result['p99_ms']:7.1f} ms"
        + (f"  trips {result['trips']:.2f}" if bridge else "")
        + (f"  cpu {result['cpu_us']:.0f} us/req" if server else "")
        + (f"  worker cpu {result['worker_cpu_us']:.0f} us/req" if worker else "")
        + (f"  FAILED {failed}" if failed else ""),
        flush=True,
    )
    return result


def serve_boothcloud(
    work: Path, db: Path, args: argparse.Namespace, bridge: Bridge | None
) -> run.Server:
    server = run.boothcloud_server(work, db, args, secrets.token_urlsafe(32))
    if bridge is not None:
        server.env |= {
            "BOOTHCLOUD_DATABASE_BACKEND": "d1",
            "BOOTHCLOUD_D1_URL": bridge.url,
            "BOOTHCLOUD_D1_TOKEN": bridge.token,
        }
    return server


def one_round(work: Path, sqlite_copy: Path, args: argparse.Namespace) -> dict[str, Any]:
    files = args.files
    out: dict[str, Any] = {"d1": {}, "sqlite": {}, "peer": {}}
    print("boothcloud on D1 (bridge)", flush=True)
    bridge = start_bridge(work / "d1", migrate=False)
    pin(bridge.process and bridge.process.pid, args.worker_cores)
    try:
        with run.serving(serve_boothcloud(work, sqlite_copy, args, bridge)) as server:
            pin(server.process and server.process.pid, args.client_cores)
            learn_keys(server.url, files["customers"])
            args.idle_calls = idle_calls_per_second(bridge, 3.0)  # nothing in flight now
            for _, scenario, _, data in ROUTES:
                out["d1"][scenario] = measure(
                    server.url, scenario, files[data], args, server, bridge, bridge
                )
    finally:
        bridge.stop()
    if args.only_d1:
        return out
    print("boothcloud on SQLite", flush=True)
    with run.serving(serve_boothcloud(work, sqlite_copy, args, None)) as server:
        pin(server.process and server.process.pid, args.client_cores)
        for _, scenario, _, data in ROUTES:
            out["sqlite"][scenario] = measure(server.url, scenario, files[data], args, server, None)
    print("RFC-007 peer (plain JS Worker, same local D1)", flush=True)
    peer = start_bridge(work / "d1", migrate=False, worker_dir=PEER)
    pin(peer.process and peer.process.pid, args.worker_cores)
    try:
        for _, scenario, peer_scenario, data in ROUTES:
            if peer_scenario is not None:
                out["peer"][scenario] = measure(
                    peer.url, peer_scenario, files[data], args, None, None, peer
                )
    finally:
        peer.stop()
    return out


def median(rounds: list[dict[str, Any]], side: str, scenario: str, key: str) -> float | None:
    values = [r[side][scenario][key] for r in rounds if scenario in r[side]]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(rounds: list[dict[str, Any]]) -> str:
    lines = [
        "| route | D1 req/s | D1 p99 ms | round trips | CPU µs/req | Worker CPU µs/req | "
        "SQLite req/s | peer req/s | peer p99 ms | peer Worker CPU µs/req | "
        "D1/peer (per round) | D1/SQLite |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]

    def num(value: float | None, digits: int = 0) -> str:
        return "" if value is None else f"{value:,.{digits}f}"

    for label, scenario, peer_scenario, _ in ROUTES:
        d1 = median(rounds, "d1", scenario, "rps")
        sqlite = median(rounds, "sqlite", scenario, "rps")
        ratios = ""
        if peer_scenario is not None and all(scenario in r["peer"] for r in rounds):
            ratios = ", ".join(
                f"{r['d1'][scenario]['rps'] / r['peer'][scenario]['rps']:.2f}x" for r in rounds
            )
        lines.append(
            f"| `{label}` | {num(d1, 1)} | {num(median(rounds, 'd1', scenario, 'p99_ms'), 1)} "
            f"| {num(median(rounds, 'd1', scenario, 'trips'), 2)} "
            f"| {num(median(rounds, 'd1', scenario, 'cpu_us'))} "
            f"| {num(median(rounds, 'd1', scenario, 'worker_cpu_us'))} | {num(sqlite, 1)} "
            f"| {num(median(rounds, 'peer', scenario, 'rps'), 1)} "
            f"| {num(median(rounds, 'peer', scenario, 'p99_ms'), 1)} "
            f"| {num(median(rounds, 'peer', scenario, 'worker_cpu_us'))} | {ratios} "
            f"| {num(d1 / sqlite if d1 and sqlite else None, 3)}x |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--busy-customers", type=int, default=60)
    parser.add_argument("--pending-per-printer", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--boothcloud-src",
        type=Path,
        default=ROOT / "src",
        help="serve boothcloud from another source tree (A/B a change); the bridge is ours",
    )
    parser.add_argument("--only-d1", action="store_true", help="skip the SQLite and peer runs")
    parser.add_argument(
        "--split",
        action="store_true",
        help="the Worker side on core 0, boothcloud and wrk on the others (as in production, "
        "where they share no CPU); the SQLite runs get the client side's cores",
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    # What run.boothcloud_server reads from run.py's own options.
    args.synchronous = "NORMAL"
    args.wal_max_mb = run.WAL_MAX_DEFAULT / 2**20
    args.wrk = run.ensure_wrk()
    cores = os.sched_getaffinity(0)
    if args.split and not cores > WORKER_CORES:
        parser.error(f"--split needs core {min(WORKER_CORES)} and at least one more")
    args.worker_cores = WORKER_CORES if args.split else None
    args.client_cores = cores - WORKER_CORES if args.split else None
    work = Path(tempfile.mkdtemp(prefix="boothcloud-d1bench-"))
    try:
        source = work / "seed.db"
        dataset = run.build_database(source, work, args)
        args.files = dataset.files
        dump = work / "seed.sql"

        async def write_dump() -> None:
            db = SQLiteDatabase(source)
            try:
                with dump.open("w") as out:
                    async for statement in db.dump():
                        out.write(statement + "\n")
            finally:
                await db.close()

        asyncio.run(write_dump())
        load_local_d1(work / "d1" / "state", dump)
        sqlite_copy = work / "bench.db"
        shutil.copy(source, sqlite_copy)
        print(
            f"dataset: {dataset.customers} customers, {dataset.photos} photos, "
            f"{dataset.printers} printers ({dump.stat().st_size >> 10} KiB of SQL)"
        )
        rounds = []
        for number in range(args.rounds):
            print(f"--- round {number + 1} of {args.rounds} (load {os.getloadavg()[0]:.2f})")
            rounds.append(one_round(work, sqlite_copy, args))
        print()
        print(
            f"{args.rounds} rounds interleaved (medians; D1/peer per round), "
            f"{args.duration:g} s per run, {args.connections} connections, "
            f"{args.workers} uvicorn workers, "
            + (
                f"split: Worker side on core(s) {sorted(args.worker_cores)}, boothcloud and "
                f"wrk on {sorted(args.client_cores)}"
                if args.split
                else "shared machine"
            )
            + f" (load {os.getloadavg()[0]:.2f})"
        )
        print(table(rounds))
        results = run.RESULTS / f"d1-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
        results.parent.mkdir(exist_ok=True)
        results.write_text(json.dumps({"args": str(vars(args)), "rounds": rounds}, indent=1))
        print(f"\nresults: {results}")
        failed = any(m["failed"] for r in rounds for side in r.values() for m in side.values())
        return 2 if failed else 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
