"""`serve` keeps `litestream replicate` running beside the workers and restarts it if it dies.

One supervisor per `serve` (in the parent process, whatever the number of workers), on a
thread: it starts Litestream in a session of its own (a Ctrl-C in the terminal reaches
`serve`, which then stops Litestream with SIGTERM so it ships its last transactions),
forwards each line Litestream prints to the `boothcloud.litestream` logger (so the
redaction of every log handler applies), and when Litestream exits unasked, starts it
again after a back-off (1 s doubling to 30 s, back to 1 s once a run lasted a minute).

Its pid is kept in `litestream.pid` beside the database: a Litestream left running by a
`serve` that was killed outright (SIGKILL, no chance to stop its child) is stopped before a
new one starts, so two never replicate one file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from boothcloud.replication.litestream import Litestream

log = logging.getLogger("boothcloud.litestream")
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
HEALTHY_RUN_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0  # Litestream's own shutdown sync gives up after 10 s


class Supervisor:
    def __init__(self, litestream: Litestream) -> None:
        self.litestream = litestream
        self.pid_path = litestream.database.parent / "litestream.pid"
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="litestream", daemon=True)

    def start(self) -> None:
        _stop_stale(self.pid_path, self.litestream.config_path)
        self._thread.start()

    def stop(self) -> None:
        """SIGTERM Litestream (it syncs what is left, then exits) and wait for it."""
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("litestream did not stop in %.0f s; killing it", STOP_TIMEOUT_SECONDS)
                process.kill()
                process.wait()
        self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
        self.pid_path.unlink(missing_ok=True)

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while not self._stopping.is_set():
            began = time.monotonic()
            code = self._run_once()
            if self._stopping.is_set():
                return
            if time.monotonic() - began >= HEALTHY_RUN_SECONDS:
                backoff = FIRST_BACKOFF_SECONDS
            log.error("litestream exited with status %s; restarting in %.0f s", code, backoff)
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _run_once(self) -> int | None:
        try:
            process = subprocess.Popen(  # noqa: S603 - our binary, our arguments
                self.litestream.command("replicate"),
                env=self.litestream.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            log.error("litestream could not start: %s", error)
            return None
        self._process = process
        if self._stopping.is_set():  # stop() ran while this one was starting
            process.terminate()
        self.pid_path.write_text(f"{process.pid}\n")
        log.info("litestream replicating %s (pid %d)", self.litestream.database, process.pid)
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line:
                log.info("%s", line)
        return process.wait()


def _stop_stale(pid_path: Path, config_path: Path) -> None:
    """Stop a Litestream a killed `serve` left behind on this database (same config file)."""
    try:
        pid = int(pid_path.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if b"replicate" not in command or str(config_path).encode() not in command:
        return  # the pid was reused by something else
    log.warning("stopping litestream (pid %d) left running by an earlier serve", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
