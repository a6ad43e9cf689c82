"""Instructions per request as served: a figure that holds still where req/s does not.

    .venv/bin/python bench/instructions.py [--requests 1000] [--boothcloud-src DIR]

This VM's speed drifts by 15-30% within minutes, so two wrk runs minutes apart cannot tell
a 5% change in a route's cost, and even interleaved rounds (bench/run.py) leave about
+-0.04 on a ratio. The number of machine instructions a server executes per request
barely moves: counted by valgrind (cachegrind without its cache simulation), repeated
runs agree to within about 1.5%. This counts them for the read routes the 0.5x target is about,
on every app bench/run.py serves, each as bench/run.py starts it but with one worker:

- boothcloud as users run it (`boothcloud serve`, its logging as shipped, to a file);
- the reference (bench/reference_app.py: raw ASGI and sqlite3);
- FastAPI's floor (bench/floor_app.py, bytes: fixed bytes at the customer GET's path);
- FastAPI's ceiling (bench/floor_app.py, work: the reference's own handlers inside
  FastAPI routes, nothing of FastAPI's on top).

Each app is started under valgrind on a copy of bench/run.py's database, sent a warm-up
of every route, then `--requests` more of one route over one keep-alive connection, and
stopped; the same start with the warm-up alone is the base. (count - base) / requests is
the instructions per request, uvicorn's HTTP handling included. Where every core is busy,
req/s go as 1 / (CPU per request), so reference / app is the ratio wrk would show if
every instruction cost the same time (it does not quite: cache misses under load differ).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import run as bench

WARMUP = 200  # requests of every route before the counted ones (both runs send them)
ROUTES = ("customers", "validate")
APPS = {"boothcloud": ROUTES, "reference": ROUTES, "floor": ("customers",), "ceiling": ROUTES}
VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def server(
    app: str, work: Path, seed_db: Path, args: argparse.Namespace, secret: str
) -> bench.Server:
    """The app as bench/run.py serves it, on its own copy of the database, one worker."""
    home = work / "copies" / secrets.token_hex(4)
    home.mkdir(parents=True)
    db = home / f"{app}.db"
    shutil.copyfile(seed_db, db)
    if app == "boothcloud":
        return bench.boothcloud_server(home, db, args, secret)
    if app == "reference":
        return bench.reference_server(home, db, args, secret)
    return bench.floor_server(home, db, 1, b'{"note": "fixed bytes"}' if app == "floor" else None)


def counted(
    app: str,
    plan: list[tuple[str, int]],
    build: Callable[[str], bench.Server],
    asks: dict[str, bench.SampleRequest],
) -> int:
    """Instructions the app's server process executed while sent `plan` ((route, count)
    in order), start-up and shut-down included."""
    target = build(app)
    log = target.cwd / "valgrind.log"
    target.argv = [*VALGRIND, f"--log-file={log}", *target.argv]
    target.start(timeout=600)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=120)
        for route, count in plan:
            method, path, headers, body = asks[route]
            for _ in range(count):
                connection.request(method, path, body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                if answer.status != 200:
                    raise SystemExit(f"{app} {route}: status {answer.status}")
        connection.close()
    finally:
        assert target.process is not None
        os.killpg(target.process.pid, signal.SIGTERM)
        target.process.wait(timeout=600)  # valgrind writes its count as the process ends
    found = REFS.search(log.read_text())
    if found is None:
        raise SystemExit(f"{app}: no instruction count in {log}:\n{log.read_text()[-2000:]}")
    return int(found.group(1).replace(",", ""))


def parse_args() -> argparse.Namespace:
    """This tool's options; any other is bench/run.py's (`--boothcloud-src`, `--customers`,
    ...), so the apps are served exactly as there, with one worker."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], epilog="Other options: bench/run.py's."
    )
    parser.add_argument("--requests", type=int, default=1000, help="counted requests per route")
    parser.add_argument(
        "--apps", default=",".join(APPS), help="which apps to count (comma-separated)"
    )
    own, rest = parser.parse_known_args()
    apps = [app.strip() for app in own.apps.split(",") if app.strip()]
    unknown = sorted(set(apps) - set(APPS))
    if unknown or not apps:
        parser.error(f"--apps takes some of {', '.join(APPS)}, not {', '.join(unknown)}")
    args = bench.parse_args([*rest, "--workers", "1", "--rounds", "1"])
    args.requests, args.apps = own.requests, apps
    return args


def main() -> int:
    args = parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (Debian package `valgrind`; bench/setup.sh installs it)")
    work = Path(tempfile.mkdtemp(prefix="boothcloud-instructions-"))
    try:
        seed_db = work / "seed.db"
        dataset = bench.build_database(seed_db, work, args)
        asks = bench.sample_requests(dataset.files)
        secret = secrets.token_urlsafe(32)
        jobs: dict[tuple[str, str], list[tuple[str, int]]] = {}
        apps = {app: routes for app, routes in APPS.items() if app in args.apps}
        for app, routes in apps.items():
            warmup = [(route, WARMUP) for route in routes]
            jobs[app, "base"] = warmup
            for route in routes:
                jobs[app, route] = [*warmup, (route, args.requests)]
        print(f"{len(jobs)} runs under valgrind, {os.cpu_count()} at a time", flush=True)

        def one(key: tuple[str, str]) -> int:
            count = counted(
                key[0], jobs[key], lambda a: server(a, work, seed_db, args, secret), asks
            )
            print(f"  {key[0]} {key[1]}: {count:,} instructions", flush=True)
            return count

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            totals = dict(zip(jobs, pool.map(one, jobs), strict=True))
        per_request = {
            (app, route): (totals[app, route] - totals[app, "base"]) / args.requests
            for app, routes in apps.items()
            for route in routes
        }
        print()
        print(table(per_request))
        results = {
            "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
            "settings": {"requests": args.requests, "warmup": WARMUP, "workers": 1},
            "instructions_per_request": {f"{a} {r}": round(v) for (a, r), v in per_request.items()},
        }
        bench.RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = bench.RESULTS / f"instructions-{stamp}.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results: {out.relative_to(bench.ROOT)}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table(per_request: dict[tuple[str, str], float]) -> str:
    """Per route: each app's instructions per request and the reference's share of it."""
    lines = [
        "| Route | app | instructions / request | reference / app |",
        "|---|---|---:|---:|",
    ]
    for route in ROUTES:
        reference = per_request.get(("reference", route))
        for app in APPS:
            if (app, route) in per_request:
                mine = per_request[app, route]
                share = f"{reference / mine:.2f}x" if reference else "-"
                lines.append(
                    f"| `{bench.SCENARIOS[route].route}` | {app} | {mine:,.0f} | {share} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
