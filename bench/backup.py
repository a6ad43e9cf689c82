"""Benchmark of backups: `backup create`, `verify` and `restore` beside the reference tools.

    .venv/bin/python bench/backup.py [--rounds 3] [--customers 10000] [--payments 200000]
                                     [--photos 1000000] [--writer-seconds 0]

1. Builds the database once (bench/backup_data.py, cached in bench/results/, gitignored):
   every migration, then customers, payments, printers and photos.
2. Runs `--rounds` rounds; in each, every step runs once as boothcloud (the CLI, as an
   operator runs it) and once as the reference, the order alternating per round:
   - create: `boothcloud backup create` / `sqlite3 db .dump | gzip -6`
   - verify: `boothcloud backup verify` / `sha256sum` + `gzip -t` of the same file
   - restore: `boothcloud backup restore --to` / `sqlite3` importing the reference dump
     (one transaction: `.dump` writes BEGIN/COMMIT), plus `PRAGMA integrity_check` and
     `PRAGMA foreign_key_check` (the checks boothcloud's restore runs).
   Wall time and peak RSS (wait4) of each process tree.
3. Checks every restore: rows per table and per-table content hashes (the sqlite3 shell's
   `.sha3sum`) equal the source, integrity ok.
4. Writer stalls: a writer process commits a row every 10 ms through boothcloud's SQLite
   write path, first alone, then while `backup create` runs in another process, then
   while the backup runs inside the writer's own process (as `serve`'s weekly job does,
   sharing its GIL); it reports its worst and p99 commit and the WAL's peak size.
5. Prints a markdown table and writes it with the workload to bench/results/backup-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"


def timed(command: list[str] | str, env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB of the process tree, stdout) of one command; it must pass."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, shell=isinstance(command, str), env=env, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)  # the tree's peak RSS, which Popen hides
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{command} failed: {err.read().decode()[-2000:]}")
        return elapsed, usage.ru_maxrss // 1024, out.read().decode()


def env_for(data: Path, database: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BOOTHCLOUD_ENVIRONMENT="test",
        BOOTHCLOUD_DATA_DIR=str(data),
        BOOTHCLOUD_DATABASE_PATH=str(database),
        COLUMNS="200",
    )
    return env


def table_facts(path: Path) -> dict[str, tuple[int, str]]:
    """(rows, content hash) per user table, computed by sqlite3 itself."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    names = [
        str(r[0])
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not str(r[0]).startswith(("sqlite_", "bench_"))
    ]
    counts = {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names}
    conn.close()
    facts = {}
    for name in names:
        digest = subprocess.run(
            [SQLITE3, "-readonly", str(path), f".sha3sum {name}"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout.strip()
        facts[name] = (counts[name], digest)
    return facts


def integrity(path: Path) -> str:
    out = subprocess.run(
        [SQLITE3, str(path), "PRAGMA integrity_check;"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def one_round(
    number: int, database: Path, work: Path, source_facts: dict[str, Any]
) -> dict[str, Any]:
    data = work / "data"
    env = env_for(data, database)
    boothcloud = str(BIN / "boothcloud")
    ref_dump = work / "reference.sql.gz"
    results: dict[str, Any] = {}
    ours_first = number % 2 == 1

    def pair(step: str, ours: Any, reference: Any) -> None:
        order = [("boothcloud", ours), ("reference", reference)]
        for who, run in order if ours_first else reversed(order):
            seconds, peak, _ = run()
            results.setdefault(step, {})[who] = {"seconds": seconds, "peak_rss_mb": peak}

    # create
    shutil.rmtree(data, ignore_errors=True)
    pair(
        "create",
        lambda: timed([boothcloud, "backup", "create"], env),
        lambda: timed(f"{SQLITE3} -readonly '{database}' .dump | gzip -6 > '{ref_dump}'"),
    )
    listed = json.loads(timed([boothcloud, "backup", "list", "--json"], env)[2])["items"]
    key = listed[0]["key"]
    ours_file = data / "objects" / key
    results["create"]["size_mb"] = {
        "boothcloud": ours_file.stat().st_size / 1e6,
        "reference": ref_dump.stat().st_size / 1e6,
    }
    # verify
    pair(
        "verify",
        lambda: timed([boothcloud, "backup", "verify", key], env),
        lambda: timed(f"sha256sum '{ours_file}' && gzip -t '{ours_file}'"),
    )
    # restore
    ours_db, ref_db = work / "restored.db", work / "reference-restored.db"
    remove_db(ours_db)
    remove_db(ref_db)

    def reference_restore() -> tuple[float, int, str]:
        imported = timed(f"zcat '{ref_dump}' | {SQLITE3} -bail '{ref_db}'")
        checks = timed([SQLITE3, str(ref_db), "PRAGMA integrity_check; PRAGMA foreign_key_check;"])
        results["restore_import_only"] = {"reference": {"seconds": imported[0]}}
        return imported[0] + checks[0], max(imported[1], checks[1]), checks[2]

    pair(
        "restore",
        lambda: timed([boothcloud, "backup", "restore", key, "--to", str(ours_db)], env),
        reference_restore,
    )
    facts = table_facts(ours_db)
    results["restore"]["correct"] = {
        "tables_equal": facts == source_facts,
        "integrity": integrity(ours_db),
        "reference_tables_equal": table_facts(ref_db) == source_facts,
    }
    remove_db(ours_db)
    remove_db(ref_db)
    return results


# --- writer stalls -----------------------------------------------------------------------


async def _writer(database: Path, stop: Path, objects: Path | None, out: Path) -> None:
    ready = stop.with_suffix(".ready")
    """Commit a row every 10 ms until `stop` exists; with `objects`, run a backup in this
    process meanwhile (its GIL shared with the writes, as in `serve`) and stop after it."""
    from boothcloud.backups import service
    from boothcloud.db.sqlite import SQLiteDatabase
    from boothcloud.storage.local import LocalStore

    db = SQLiteDatabase(database)
    await db.execute(
        "CREATE TABLE IF NOT EXISTS bench_writes (id INTEGER PRIMARY KEY, at REAL, pad TEXT)"
    )
    latencies: list[float] = []
    wal_peak = 0
    wal = Path(f"{database}-wal")
    backup_seconds: float | None = None

    async def backup() -> None:
        nonlocal backup_seconds
        assert objects is not None
        store = LocalStore(objects, "http://127.0.0.1", "x" * 32)
        started = time.perf_counter()
        await service.create_backup(db, store)
        backup_seconds = time.perf_counter() - started

    task = asyncio.create_task(backup()) if objects is not None else None
    ready.touch()
    while not stop.exists() or (task is not None and not task.done()):  # noqa: ASYNC240
        started = time.perf_counter()
        await db.execute("INSERT INTO bench_writes (at, pad) VALUES (?, ?)", (started, "x" * 200))
        latencies.append(time.perf_counter() - started)
        if wal.exists():  # noqa: ASYNC240
            wal_peak = max(wal_peak, wal.stat().st_size)  # noqa: ASYNC240
        await asyncio.sleep(max(0.0, 0.01 - (time.perf_counter() - started)))
    if task is not None:
        await task
    await db.close()
    latencies.sort()
    out.write_text(  # noqa: ASYNC240
        json.dumps(
            {
                "commits": len(latencies),
                "worst_ms": latencies[-1] * 1000,
                "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
                "median_ms": statistics.median(latencies) * 1000,
                "wal_peak_mb": wal_peak / 1e6,
                "backup_seconds": backup_seconds,
            }
        )
    )


def writer_stalls(database: Path, work: Path, seconds: float) -> dict[str, Any]:
    out, stop = work / "writer.json", work / "writer.stop"
    found: dict[str, Any] = {}
    boothcloud = str(BIN / "boothcloud")
    for case in ("alone", "beside backup create", "backup in the writer's process"):
        out.unlink(missing_ok=True)
        stop.unlink(missing_ok=True)
        data = work / "stall-data"
        shutil.rmtree(data, ignore_errors=True)
        args = [sys.executable, __file__, "--writer", str(database), str(stop), str(out)]
        if case.startswith("backup in"):
            args.append(str(data / "objects"))
        ready = stop.with_suffix(".ready")
        ready.unlink(missing_ok=True)
        process = subprocess.Popen(args)
        while not ready.exists() and process.poll() is None:
            time.sleep(0.05)
        time.sleep(seconds)
        if case == "beside backup create":
            timed([boothcloud, "backup", "create"], env_for(data, database))
        stop.touch()
        if process.wait() != 0:
            raise SystemExit(f"writer failed ({case})")
        found[case] = json.loads(out.read_text())
    import sqlite3

    conn = sqlite3.connect(database)
    conn.execute("DROP TABLE IF EXISTS bench_writes")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return found


# --- report ------------------------------------------------------------------------------


def _span(values: list[float], unit: str = " s") -> str:
    low, high = min(values), max(values)
    return f"{low:.1f}{unit}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}{unit}"


def report(rounds: list[dict[str, Any]], stalls: dict[str, Any]) -> str:
    lines = [
        "| step | boothcloud | reference | ratio (reference time / ours) | boothcloud peak RSS |",
        "|---|---|---|---|---|",
    ]
    names = {
        "create": ("`backup create`", "`sqlite3 .dump | gzip -6`"),
        "verify": ("`backup verify`", "`sha256sum` + `gzip -t`"),
        "restore": ("`backup restore`", "`sqlite3` import + integrity/FK checks"),
    }
    for step, (ours_name, ref_name) in names.items():
        ours = [r[step]["boothcloud"]["seconds"] for r in rounds]
        ref = [r[step]["reference"]["seconds"] for r in rounds]
        ratios = [b / a for a, b in zip(ours, ref, strict=True)]
        rss = [r[step]["boothcloud"]["peak_rss_mb"] for r in rounds]
        lines.append(
            f"| {step} | {ours_name} {_span(ours)} | {ref_name} {_span(ref)} | "
            f"{_span(ratios, 'x')} | {_span(rss, ' MB')} |"
        )
    imported = [r["restore_import_only"]["reference"]["seconds"] for r in rounds]
    sizes = rounds[-1]["create"]["size_mb"]
    lines.append("")
    lines.append(
        f"reference import alone {_span(imported)}; dump sizes: boothcloud "
        f"{sizes['boothcloud']:.1f} MB, reference {sizes['reference']:.1f} MB"
    )
    correct = [r["restore"]["correct"] for r in rounds]
    lines.append(f"restores correct (rows and .sha3sum per table equal, integrity ok): {correct}")
    return "\n".join([*lines, "", report_stalls(stalls)] if stalls else lines)


def report_stalls(stalls: dict[str, Any]) -> str:
    lines = ["| writer, a commit every 10 ms | commits | median | p99 | worst | WAL peak |"]
    lines.append("|---|---|---|---|---|---|")
    for case, s in stalls.items():
        lines.append(
            f"| {case} | {s['commits']} | {s['median_ms']:.1f} ms | {s['p99_ms']:.1f} ms | "
            f"{s['worst_ms']:.1f} ms | {s['wal_peak_mb']:.1f} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        database, stop, out = Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
        objects = Path(sys.argv[5]) if len(sys.argv) > 5 else None
        asyncio.run(_writer(database, stop, objects, out))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=200_000)
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--writer-seconds", type=float, default=5.0)
    parser.add_argument("--skip-writer", action="store_true")
    parser.add_argument("--only-writer", action="store_true", help="just the writer stalls")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    name = f"backup-bench-{args.customers}-{args.payments}-{args.photos}.db"
    print(f"building or reusing bench/results/{name} ...", flush=True)
    database = RESULTS / name
    # Built in a child process: building grows this one to ~350 MB, and every child forked
    # from it afterwards would report that as its own peak RSS (wait4 counts the pages a
    # forked child shares with its parent until it execs).
    sizes = (args.customers, args.payments, args.photos)
    subprocess.run([sys.executable, str(HERE / "backup_data.py"), str(database), *map(str, sizes)],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    source_facts = {} if args.only_writer else table_facts(database)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="boothcloud-bench-backup-", dir=RESULTS) as tmp:
        work = Path(tmp)
        for number in range(1, 0 if args.only_writer else args.rounds + 1):
            rounds.append(one_round(number, database, work, source_facts))
            print(f"round {number}: {json.dumps(rounds[-1])}", flush=True)
        stalls = {} if args.skip_writer else writer_stalls(database, work, args.writer_seconds)
    table = report(rounds, stalls) if rounds else report_stalls(stalls)
    print(table)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {
        "workload": {
            "customers": args.customers,
            "payments": args.payments,
            "photos": args.photos,
            "database_mb": database.stat().st_size / 1e6,
            "rounds": args.rounds,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
        },
        "rounds": rounds,
        "writer": stalls,
        "table": table,
    }
    (RESULTS / f"backup-{stamp}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
