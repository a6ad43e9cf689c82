"""A real local D1: wrangler (pinned in d1/package.json) runs the bridge Worker on loopback.

`start_bridge()` installs wrangler with `npm ci` when d1/node_modules is missing, applies
the packaged migrations with `wrangler d1 migrations apply --local` into a fresh persistence folder,
then runs `wrangler dev --local` on a free loopback port with a random bearer token and
waits for it. Nothing here talks to Cloudflare: metrics, error reports and `request.cf`
fetching are off, and everything is `--local`.

Set BOOTHCLOUD_SKIP_D1=1 to skip the D1 tests on a machine without Node.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from boothcloud.settings import PACKAGED_MIGRATIONS

REPO = Path(__file__).resolve().parents[2]
D1_DIR = REPO / "d1"
MIGRATIONS = PACKAGED_MIGRATIONS
DATABASE = "photobooth-db"
WRANGLER = D1_DIR / "node_modules" / ".bin" / "wrangler"
READY_TIMEOUT = 90.0
CLI_TIMEOUT = 120.0


def wrangler_env(debug_log: Path | None = None) -> dict[str, str]:
    """wrangler's environment; `debug_log` (a `.log` path beside the run's other files) is
    where it appends its debug log, ~2.5 KB per D1 call whatever `--log-level`, which by
    default grows without bound under `~/.config/.wrangler/logs` (3.1 GB on this machine)."""
    env = dict(os.environ)
    if debug_log is not None:
        env["WRANGLER_LOG_PATH"] = str(debug_log)
    env.update(
        {
            "CI": "true",
            "WRANGLER_SEND_METRICS": "false",
            "WRANGLER_SEND_ERROR_REPORTS": "false",
            "WRANGLER_HIDE_BANNER": "true",
            "CLOUDFLARE_CF_FETCH_ENABLED": "false",
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
        }
    )
    # Never pick up real credentials: everything here is --local.
    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_ACCOUNT_ID"):
        env.pop(name, None)
    return env


def ensure_wrangler() -> None:
    """`npm ci` in d1/ when wrangler is not installed yet (the setup script normally does)."""
    if WRANGLER.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: the D1 tests need Node 20 and npm")
    command = "ci" if (D1_DIR / "package-lock.json").exists() else "install"
    subprocess.run(
        [npm, command, "--no-audit", "--no-fund"],
        cwd=D1_DIR,
        env=wrangler_env(),
        check=True,
        timeout=600,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wrangler(*args: str, persist_to: Path | None, timeout: float = CLI_TIMEOUT) -> str:
    """Run one wrangler command against the local D1 in `persist_to`; return stdout."""
    ensure_wrangler()
    persist = ["--persist-to", str(persist_to)] if persist_to is not None else []
    done = subprocess.run(
        [str(WRANGLER), *args, *persist],
        cwd=D1_DIR,
        env=wrangler_env(persist_to.parent / "wrangler-cli.log" if persist_to else None),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"wrangler {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def apply_migrations(persist_to: Path) -> str:
    return wrangler("d1", "migrations", "apply", DATABASE, "--local", persist_to=persist_to)


def execute_file(persist_to: Path, path: Path) -> str:
    return wrangler("d1", "execute", DATABASE, "--local", f"--file={path}", persist_to=persist_to)


def query_json(persist_to: Path, *statements: str) -> list[list[dict[str, Any]]]:
    """Rows of each statement, run in one `wrangler d1 execute --command --json`."""
    out = wrangler(
        "d1",
        "execute",
        DATABASE,
        "--local",
        "--json",
        f"--command={'; '.join(statements)}",
        persist_to=persist_to,
    )
    return [result["results"] for result in json.loads(out)]


def export_local(persist_to: Path, output: Path, workdir: Path) -> None:
    """`wrangler d1 export --local` of the D1 in `persist_to` (export has no --persist-to:
    it reads `.wrangler/state` beside its config, so point a throwaway config there)."""
    config = workdir / "wrangler.toml"
    config.write_text(
        'name = "boothcloud-d1-export"\n'
        'compatibility_date = "2025-09-01"\n'
        "[[d1_databases]]\n"
        'binding = "DB"\n'
        f'database_name = "{DATABASE}"\n'
        f'database_id = "{database_id()}"\n'
    )
    (workdir / ".wrangler").mkdir(exist_ok=True)
    (workdir / ".wrangler" / "state").symlink_to(persist_to.resolve(), target_is_directory=True)
    wrangler(
        "d1",
        "export",
        DATABASE,
        "--local",
        f"--output={output}",
        "-c",
        str(config),
        persist_to=None,
    )


def database_id() -> str:
    """The placeholder `database_id` of d1/wrangler.toml (it names the local file too)."""
    text = (D1_DIR / "wrangler.toml").read_text()
    found = re.search(r'^database_id\s*=\s*"([^"]+)"', text, re.MULTILINE)
    assert found, "d1/wrangler.toml has no database_id"
    return found.group(1)


@dataclass
class Bridge:
    """A running `wrangler dev` serving the bridge Worker."""

    url: str
    token: str
    persist_to: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        # wrangler runs workerd as children; they share the group this fixture created.
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def start_bridge(workdir: Path, *, migrate: bool = True, worker_dir: Path = D1_DIR) -> Bridge:
    """Serve a fresh local D1 through the bridge, first migrated by wrangler if `migrate`
    (or through another Worker in `worker_dir` answering `/health`: bench/d1peer)."""
    ensure_wrangler()
    persist_to = workdir / "state"
    persist_to.mkdir(parents=True, exist_ok=True)
    if migrate:
        apply_migrations(persist_to)

    token = secrets.token_urlsafe(32)
    env_file = workdir / "bridge.env"
    env_file.write_text(f"BRIDGE_TOKEN={token}\n")
    env_file.chmod(0o600)
    # A free port can be taken by another process between our probe and wrangler's bind:
    # start again on fresh ports when that is why it exited.
    for attempt in range(1, 4):
        bridge = _launch(worker_dir, persist_to, env_file, token, workdir / "wrangler-dev.log")
        deadline = time.monotonic() + READY_TIMEOUT
        try:
            while True:
                if bridge.process.poll() is not None:
                    if "Address already in use" in bridge.log() and attempt < 3:
                        break
                    raise RuntimeError(
                        f"wrangler dev exited ({bridge.process.returncode}):\n{bridge.log()}"
                    )
                try:
                    if httpx.get(f"{bridge.url}/health", timeout=2).status_code == 200:
                        return bridge
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"wrangler dev not ready in {READY_TIMEOUT}s:\n{bridge.log()}"
                    )
                time.sleep(0.2)
        except BaseException:
            bridge.stop()
            raise
    raise AssertionError("unreachable: the third attempt returns or raises")


def _launch(
    worker_dir: Path, persist_to: Path, env_file: Path, token: str, log_path: Path
) -> Bridge:
    """`wrangler dev` on two fresh free ports (the bridge's and the inspector's)."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(WRANGLER),
                "dev",
                "--local",
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--inspector-port",
                str(free_port()),
                "--persist-to",
                str(persist_to),
                "--env-file",
                str(env_file),
                "--show-interactive-dev-session=false",
                "--log-level",
                "warn",
            ],
            cwd=worker_dir,
            env=wrangler_env(log_path.with_name(f"{log_path.stem}-debug.log")),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Bridge(f"http://127.0.0.1:{port}", token, persist_to, log_path, process)
