"""Benchmark of the guest gallery: the share page and thumbnail serving at 32 connections.

    .venv/bin/python bench/gallery.py [--photos 24] [--duration 10] [--connections 32]
                                      [--workers 2]

1. Serves boothcloud (`boothcloud serve --migrate`, production settings with real
   secrets, local object store, the gallery's rate limit lifted) on a free loopback port.
2. Through the API: a customer, its device, a session and `--photos` real 1600x1200 JPEGs
   uploaded to their presigned URLs.
3. Times the thumbnail derivation per photo in-process (Pillow, as the page does) and
   reports its size; the first page view derives and stores them all (also timed).
4. Drives `GET /s/{code}` (the page, presigning every thumbnail and original) and
   `GET` of one thumbnail's presigned URL with wrk (`--latency`), a 2 s warm-up first.
5. Prints a markdown table (req/s, p50, p99) and writes it with the workload to
   bench/results/gallery-<UTC time>.json. A run with any socket error or non-2xx answer
   is marked INVALID.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "src"))

from boothcloud.sessions.thumbnails import derive  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def photo(seed: int) -> bytes:
    """A 1600x1200 JPEG with detail (noise), about the weight of a booth's capture."""
    image = Image.frombytes("RGB", (1600, 1200), os.urandom(1600 * 1200 * 3))
    image = image.resize((400, 300)).resize((1600, 1200))  # blocky, compresses like a photo
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def start(work: Path, port: int, workers: int, admin: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOTHCLOUD_")} | {
        "BOOTHCLOUD_ENVIRONMENT": "production",
        "BOOTHCLOUD_ADMIN_TOKEN": admin,
        "BOOTHCLOUD_XENDIT_CALLBACK_TOKEN": secrets.token_urlsafe(32),
        "BOOTHCLOUD_URL_SIGNING_SECRET": secrets.token_urlsafe(32),
        "BOOTHCLOUD_DATA_DIR": str(work / "data"),
        "BOOTHCLOUD_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "BOOTHCLOUD_GALLERY_RATE_LIMIT_PER_MINUTE": "1000000000",
        "BOOTHCLOUD_BACKUP_ENABLED": "false",
        "BOOTHCLOUD_RECONCILE_INTERVAL_SECONDS": "0",
        "BOOTHCLOUD_LOG_LEVEL": "warning",
    }
    binary = Path(sys.executable).parent / "boothcloud"
    argv = [str(binary), "serve", "--migrate", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    server = subprocess.Popen(argv, env=env, cwd=work)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("boothcloud did not start")


def build_gallery(url: str, admin: str, count: int) -> tuple[str, str, list[int]]:
    """(share URL, one thumbnail's presigned URL, upload sizes) of a fresh session."""
    with httpx.Client(base_url=url, timeout=60) as http:
        operator = {"Authorization": f"Bearer {admin}"}
        customer = http.post(
            "/api/customers",
            json={"name": "Bench Studio", "email": "bench@example.com"},
            headers=operator,
        ).json()
        booth = {"Authorization": f"License {customer['license_key']}"}
        device = http.post(
            "/api/licenses/activations", json={"fingerprint": "bench-booth-1"}, headers=booth
        ).json()
        session = http.post(
            "/api/sessions", json={"activation_id": device["id"]}, headers=booth
        ).json()
        sizes = []
        for seed in range(count):
            data = photo(seed)
            sizes.append(len(data))
            created = http.post(
                "/api/photos", json={"session_id": session["id"]}, headers=booth
            ).json()
            put = http.put(
                created["upload_url"], content=data, headers={"Content-Type": "image/jpeg"}
            )
            put.raise_for_status()
        first = time.perf_counter()
        page = http.get(session["share_url"])
        page.raise_for_status()
        first_view = time.perf_counter() - first
        thumb = re.search(r'<img class="thumb" src="([^"]+)"', page.text)
        assert thumb is not None
        print(f"first page view (derives {count} thumbnails): {first_view:.2f} s")
        return session["share_url"], thumb.group(1).replace("&amp;", "&"), sizes


def thumbnail_cost(count: int) -> dict[str, float]:
    originals = [photo(seed) for seed in range(count)]
    times, sizes = [], []
    for data in originals:
        begin = time.perf_counter()
        small = derive(data, 480)
        times.append(time.perf_counter() - begin)
        sizes.append(len(small))
    return {
        "original_bytes_mean": statistics.mean(len(d) for d in originals),
        "thumbnail_bytes_mean": statistics.mean(sizes),
        "derive_ms_mean": statistics.mean(times) * 1000,
        "derive_ms_max": max(times) * 1000,
    }


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, duration: int, connections: int) -> dict[str, Any]:
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is missing: run bench/setup.sh (apt-get install -y wrk)")
    threads = str(min(connections, 2))
    warm = [binary, "-t", threads, "-c", str(connections), "-d", "2s", url]
    subprocess.run(warm, check=True, capture_output=True)
    argv = [binary, "-t", threads, "-c", str(connections), "-d", f"{duration}s", "--latency", url]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    errors = re.search(r"Socket errors: (.*)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _millis(latency["50"]),
        "p99_ms": _millis(latency["99"]),
        "valid": errors is None and non_2xx is None,
        "raw": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    admin = secrets.token_urlsafe(32)
    cost = thumbnail_cost(min(args.photos, 12))
    print(
        f"thumbnail: {cost['derive_ms_mean']:.1f} ms per photo (max {cost['derive_ms_max']:.1f}), "
        f"{cost['thumbnail_bytes_mean'] / 1024:.1f} KiB from "
        f"{cost['original_bytes_mean'] / 1024:.0f} KiB"
    )
    with tempfile.TemporaryDirectory(prefix="boothcloud-gallery-bench-") as folder:
        port = free_port()
        server = start(Path(folder), port, args.workers, admin)
        try:
            share_url, thumb_url, _ = build_gallery(f"http://127.0.0.1:{port}", admin, args.photos)
            runs = {
                "share page": wrk(share_url, args.duration, args.connections),
                "thumbnail": wrk(thumb_url, args.duration, args.connections),
            }
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"\n| scenario ({args.connections} connections, {args.workers} workers) "
        "| req/s | p50 ms | p99 ms | valid |"
    )
    print("|---|---|---|---|---|")
    for name, run in runs.items():
        print(
            f"| {name} ({args.photos} photos) | {run['requests_per_second']:.0f} | "
            f"{run['p50_ms']:.1f} | {run['p99_ms']:.1f} | "
            f"{'yes' if run['valid'] else 'INVALID'} |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {
        "workload": vars(args),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average": os.getloadavg(),
        "thumbnail": cost,
        "runs": runs,
    }
    (RESULTS / f"gallery-{stamp}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
