"""The secrets guard itself: an inner pytest session with a leak must fail, one without
must pass, with and without pytest-xdist (the guard is tests/secrets_guard.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LEAKS = """
import logging, subprocess, sys

import httpx

from tests.secrets_guard import remember

SIG = "ab" * 32


def test_logs_a_remembered_token():
    remember("inner-admin-token-0123")
    logging.getLogger("boothcloud.x").warning("auth with %s", "inner-admin-token-0123")


def test_logs_a_signature_seen_in_an_answer():
    url = "http://h/objects/k?method=PUT&expires=1&signature=" + "cd" * 32

    def answer(request):
        return httpx.Response(201, json={"upload_url": url})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        http.post("http://booth/api/photos")
    # No longer in URL form, so redaction misses it; the value seen in the answer does not.
    logging.getLogger("boothcloud.x").warning("signed with %s", "cd" * 32)


def test_a_server_prints_a_signature(tmp_path):
    with (tmp_path / "server.log").open("wb") as out:
        code = f"print('GET /objects/k?method=GET&signature={SIG}')"
        subprocess.Popen([sys.executable, "-c", code], stdout=out).wait()
"""

CLEAN = """
import logging

from tests.secrets_guard import remember


def test_logs_nothing_secret():
    remember("inner-admin-token-0123")
    logging.getLogger("boothcloud.x").warning("GET /objects/k?signature=%s", "ab" * 32)
"""


def run(inner: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Only the plugins the inner session needs (autoload off keeps it quick)."""
    plugins = ["-p", "tests.secrets_guard", "-p", "xdist", "-p", "no:cacheprovider"]
    return inner.runpytest_subprocess(*plugins, *args)


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_leak_fails_the_session(inner: pytest.Pytester, workers: list[str]) -> None:
    inner.makepyfile(test_leaks=LEAKS)
    result = run(inner, *workers)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*secrets in logs*"])
    text = result.stdout.str()
    assert "test_logs_a_remembered_token: log record shows inne… (22 chars)" in text
    assert "test_a_server_prints_a_signature: " in text
    assert "server.log shows abab…" in text
    assert "test_logs_a_signature_seen_in_an_answer: log record shows cdcd… (64 chars)" in text
    assert "inner-admin-token-0123" not in text  # the report names no secret in full
    assert "3 passed" in text  # the tests pass: the session fails


def test_no_leak_passes(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_clean=CLEAN)
    result = run(inner)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "secrets in logs" not in result.stdout.str()
