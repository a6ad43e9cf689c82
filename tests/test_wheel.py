"""`pip install boothcloud` as a user gets it: a wheel in a fresh venv, no source tree.

Builds the wheel from a copy of the sources (so no `build/` folder is left in, or reused
from, the checkout), installs it with its dependencies into a new virtualenv, then runs
`boothcloud migrate` and `boothcloud serve` from an unrelated folder: the migrations and
the Swagger UI assets must come from the installed package. `./dev serve` on a fresh
checkout installs only what serving needs and says what it does. Part of the normal suite
(CI): the pip cache keeps the installs short.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import free_port

REPO = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT = 480


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin/` folder of a fresh venv with only the built wheel (and its deps) installed."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    dist = root / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        timeout=INSTALL_TIMEOUT,
    )
    (wheel,) = dist.glob("boothcloud-*.whl")
    shipped = zipfile.ZipFile(wheel).namelist()
    expected = sorted(p.name for p in (REPO / "src/boothcloud/migrations").glob("*.sql"))
    assert sorted(Path(n).name for n in shipped if "/migrations/" in n) == expected
    pages = sorted(p.name for p in (REPO / "src/boothcloud/sessions/templates").glob("*.html"))
    assert sorted(Path(n).name for n in shipped if "/sessions/templates/" in n) == pages
    for folder in ("console/templates", "console/static"):  # the console's pages and assets
        files = sorted(p.name for p in (REPO / "src/boothcloud" / folder).iterdir())
        assert sorted(Path(n).name for n in shipped if f"/{folder}/" in n) == files
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    _run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", str(wheel)],
        timeout=INSTALL_TIMEOUT,
    )
    return venv / "bin"


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOOTHCLOUD_", "PYTHON"))}
    return env | {"BOOTHCLOUD_DATA_DIR": str(home / "data"), "BOOTHCLOUD_BACKUP_ENABLED": "false"}


@dataclass
class Served:
    url: str
    output: str = ""  # everything the process printed, once the block has ended


def _answer(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url)
    except httpx.TransportError:
        return None


@contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[Served]:
    """Run `command --port N` until the block ends, once /readyz answers 200."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    served = Served(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + INSTALL_TIMEOUT
        while (ready := _answer(f"{served.url}/readyz")) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("serve did not start")
            time.sleep(0.2)
        assert ready.status_code == 200, ready.text
        assert ready.json()["migrations"] == "current"
        yield served
    finally:
        process.terminate()
        served.output = process.communicate(timeout=30)[0].decode()
        print(served.output)  # shown by pytest when the test fails


def test_wheel_migrates_and_serves_without_a_source_tree(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "unrelated"
    elsewhere.mkdir()
    env = _clean_env(elsewhere)
    migrated = _run([str(installed / "boothcloud"), "migrate"], cwd=elsewhere, env=env, timeout=120)
    assert "0001_init.sql" in migrated.stdout + migrated.stderr
    with serving([str(installed / "boothcloud"), "serve"], elsewhere, env) as served:
        assert httpx.get(f"{served.url}/docs").status_code == 200
        assert httpx.get(f"{served.url}/docs/assets/swagger-ui-bundle.js").status_code == 200
        assert httpx.get(f"{served.url}/console/login").status_code == 200
        assert httpx.get(f"{served.url}/console/static/console.js").status_code == 200


def test_dev_serve_installs_only_what_serving_needs_and_says_so(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "src", checkout / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md", "dev"):
        shutil.copy2(REPO / name, checkout / name)
    env = _clean_env(checkout)
    with serving(["./dev", "serve"], checkout, env) as first_start:
        pass
    first = first_start.output
    for step in (
        "== creating virtualenv .venv",
        "== installing boothcloud and what serving needs (pip install -e '.')",
        "== applying migrations",
        "applied 0001_init.sql",
        "== serving",
    ):
        assert step in first
    listed = _run([str(checkout / ".venv/bin/python"), "-m", "pip", "list", "--format=json"])
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert {"boothcloud", "uvicorn", "swagger-ui-bundle-v2"} <= installed
    assert not installed & {"pytest", "mypy", "ruff", "hypothesis", "schemathesis"}
    with serving(["./dev", "serve"], checkout, env) as second_start:  # installs nothing
        pass
    second = second_start.output
    assert "== creating" not in second
    assert "== installing" not in second
    assert "no pending migrations" in second
