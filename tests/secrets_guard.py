"""A pytest plugin: the session fails if a secret reaches any log the suite produces.

What is read:
- every record logged in the test process, through a root handler (the root logger is set
  to INFO, the production default, if it was quieter), formatted and passed through
  `boothcloud.logs.redact` exactly as `serve`'s handlers would write it;
- the raw output of every server a test starts as a subprocess whose output goes to a file
  named `*.log` (`boothcloud serve` in tests/live.py, SeaweedFS, wrangler), read at the end
  through a descriptor opened at start, so a folder removed at teardown is still read.

What counts as a secret: the settings' tokens and keys (`remember`, called by
`make_settings`), every credential a test or the app sends over httpx (`Authorization`,
`x-callback-token`), every license key and URL signature that appears in an HTTP answer,
and, in subprocess output, anything shaped like a license key or a `signature=`.

Under pytest-xdist each worker checks its own logs with the secrets it saw and hands its
findings to the controller (`workeroutput`), which fails the session.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import logging
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from boothcloud.logs import redact
from boothcloud.settings import PLACEHOLDERS

LICENSE_KEY = re.compile(r"(?i)PB(?:-[A-Z2-7]{5}){6}")
SIGNATURE = re.compile(r"(?i)signature=([0-9a-f]{16,})")
SHARE_CODE = re.compile(r"/s/([A-Za-z0-9_-]{16,})")  # a gallery's share URL
MIN_SECRET = 8  # shorter strings (a test's "x") would match ordinary text
FINDINGS = "secret_leaks"


@dataclass
class _State:
    secrets: set[str] = field(default_factory=set)
    records: list[tuple[str, str]] = field(default_factory=list)  # (test id, line)
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (test, path, fd)
    test: str = "session"
    findings: list[str] = field(default_factory=list)


_state = _State()


def remember(*values: object) -> None:
    """Secrets to look for (SecretStr, str or None; placeholders and short ones skipped)."""
    for value in values:
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        if isinstance(text, str) and len(text) >= MIN_SECRET and text not in PLACEHOLDERS:
            _state.secrets.add(text)


def watch_file(path: str | os.PathLike[str]) -> None:
    """Read this file at the end of the session (opened now: it may be deleted later)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    _state.files.append((_state.test, os.fspath(path), fd))


class _Collector(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _state.records.append((_state.test, redact(self.format(record))))
        except Exception:  # a record that cannot be formatted is the app's bug to report
            self.handleError(record)


def _credentials(request: httpx.Request) -> None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            credential = base64.b64decode(credential).decode().partition(":")[0]
    remember(credential, request.headers.get("x-callback-token"))


def _answers(response: httpx.Response) -> None:
    try:
        text = response.text
    except httpx.ResponseNotRead:
        return
    remember(*LICENSE_KEY.findall(text), *SIGNATURE.findall(text), *SHARE_CODE.findall(text))


def _observe(send: Any, *, is_async: bool) -> Any:
    """Wrap httpx's `send`: note what goes out and what comes back, change nothing."""
    if is_async:

        @functools.wraps(send)
        async def send_async(self: Any, request: httpx.Request, **kwargs: Any) -> Any:
            _credentials(request)
            response = await send(self, request, **kwargs)
            _answers(response)
            return response

        return send_async

    @functools.wraps(send)
    def send_sync(self: Any, request: httpx.Request, **kwargs: Any) -> Any:
        _credentials(request)
        response = send(self, request, **kwargs)
        _answers(response)
        return response

    return send_sync


def _watch_popen(init: Any) -> Any:
    @functools.wraps(init)
    def popen_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        for stream in (kwargs.get("stdout"), kwargs.get("stderr")):
            name = getattr(stream, "name", None)
            if isinstance(name, str) and name.endswith(".log"):
                watch_file(name)

    return popen_init


def _leaks(text: str, raw: bool) -> set[str]:
    found = {secret for secret in _state.secrets if secret in text}
    if raw:
        found |= set(LICENSE_KEY.findall(text)) | set(SIGNATURE.findall(text))
    return found


def _check() -> list[str]:
    findings = []
    for test, line in _state.records:
        for secret in _leaks(line, raw=False):
            findings.append(f"{test}: log record shows {secret[:4]}… ({len(secret)} chars)")
    for test, path, fd in _state.files:
        with os.fdopen(fd, "rb") as handle:
            text = handle.read().decode(errors="replace")
        for secret in _leaks(text, raw=True):
            findings.append(f"{test}: {path} shows {secret[:4]}… ({len(secret)} chars)")
    return findings


def pytest_configure(config: pytest.Config) -> None:
    handler = _Collector()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    httpx.Client.send = _observe(httpx.Client.send, is_async=False)  # type: ignore[method-assign]
    httpx.AsyncClient.send = _observe(httpx.AsyncClient.send, is_async=True)  # type: ignore[method-assign]
    subprocess.Popen.__init__ = _watch_popen(subprocess.Popen.__init__)  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Any:
    _state.test = item.nodeid
    try:
        return (yield)
    finally:
        _state.test = "session"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every fixture's teardown (servers stopped, their output flushed)."""
    _state.findings += _check()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller decides
        workeroutput[FINDINGS] = _state.findings
    elif _state.findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _state.findings += node.workeroutput.get(FINDINGS, [])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _state.findings:
        terminalreporter.section("secrets in logs", red=True)
        for finding in _state.findings:
            terminalreporter.line(finding)
