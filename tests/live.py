"""Real servers for tests that need real HTTP: the app in a background uvicorn thread
(schemathesis, presigned URL uploads, callbacks from fake providers), or `boothcloud serve`
itself as a subprocess, as a user runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

from boothcloud.cli import uvicorn_options
from tests.conftest import ADMIN_TOKEN


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: ASGIApp, port: int | None = None) -> Iterator[str]:
    """Run `app` (lifespan included) until the block ends; yields its base URL."""
    port = port or free_port()
    options = uvicorn_options("warning", forwarded_allow_ips="")
    # This process's root logger belongs to pytest and the secrets guard: leave it alone.
    del options["log_config"]["root"]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class Served:
    """A running `boothcloud serve`; everything it printed goes to `log` (the secrets
    guard reads every subprocess server's output file at the end of the session)."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> str:
        """Stop the server (gracefully, so every line is flushed) and return its output."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        return self.log.read_text(errors="replace")


@contextmanager
def serve_process(
    data_dir: Path, workers: int = 1, port: int | None = None, **settings: str
) -> Iterator[Served]:
    """`boothcloud serve --migrate` on `port` (default: a free one); `settings` are
    BOOTHCLOUD_* values (lower-case names, e.g. `admin_token=...`) over the tests' defaults."""
    port = port or free_port()
    values = {
        "data_dir": str(data_dir),
        "admin_token": ADMIN_TOKEN,
        "environment": "test",
        "backup_enabled": "false",
        **settings,
    }
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BOOTHCLOUD_")},
        **{f"BOOTHCLOUD_{name.upper()}": value for name, value in values.items()},
    }
    command = [sys.executable, "-m", "boothcloud", "serve", "--migrate", "--port", str(port)]
    command += ["--workers", str(workers)]
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{served.url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not become ready:\n{served.stop()}")
            time.sleep(0.2)
        yield served
    finally:
        served.stop()
