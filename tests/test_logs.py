"""Redaction of log records (`boothcloud.logs`): what `serve`'s handlers write.

End to end (a real `serve`, its access log after presigned uploads) is in test_serve.py;
these cover the record shapes one by one, through a real handler and formatter.
"""

from __future__ import annotations

import io
import logging
import logging.config
from collections.abc import Iterator

import pytest

from boothcloud.logs import RedactSecrets, log_config, redact

SIG = "9f" * 32
KEY = "PB-ABCDE-FGHIJ-KLMNO-PQRST-UVWXY-Z2345"
URL = f"http://h/objects/photos/cus_1/a.jpg?method=PUT&expires=1&signature={SIG}"


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        (f'127.0.0.1:5 - "PUT {URL[8:]} HTTP/1.1" 201', SIG),
        ("GET /objects/x.jpg?expires=1 HTTP/1.1", "expires=1"),
        (f"https://s3/b/k.jpg?X-Amz-Credential=AKIA%2F&X-Amz-Signature={SIG}", SIG),
        ("https://s3/b/k.jpg?X-Amz-Security-Token=tok123&x=1", "tok123"),
        (f"validate?license_key={KEY.lower()}", KEY.lower()),
        (f"customer key {KEY} rotated", KEY),
        ("Authorization: Bearer s3cr3t-admin", "s3cr3t-admin"),
        ("headers={'Authorization': 'Basic eG5kXzEyMzo='}", "eG5kXzEyMzo="),
        ("callback?token=cb-secret&id=1", "cb-secret"),
        (
            '"GET /s/Zk3q9XvB7mN2pL4rT8wY1cD6fH0jK5sA/download.zip HTTP/1.1" 200',
            "Zk3q9XvB7mN2pL4rT8wY1cD6",
        ),
    ],
)
def test_redact_removes_the_secret(text: str, gone: str) -> None:
    assert gone not in redact(text)
    assert "[redacted]" in redact(text)


def test_redact_keeps_ordinary_text() -> None:
    line = (
        '127.0.0.1:5 - "GET /api/photos?limit=5 HTTP/1.1" 200; WWW-Authenticate: Bearer realm="x"'
    )
    assert redact(line) == line


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A handler configured exactly as `serve` configures its handlers."""
    out = io.StringIO()
    config = log_config("debug")
    config["handlers"]["default"]["stream"] = out
    config["handlers"]["access"]["stream"] = out
    del config["root"]
    config["loggers"]["test.redact"] = {"handlers": ["default"], "propagate": False}
    logging.config.dictConfig(config)
    yield out
    for name in ("test.redact", "uvicorn", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers[:]:
            logging.getLogger(name).removeHandler(handler)


def test_uvicorn_access_lines_are_redacted(stream: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "PUT", URL[8:], "1.1", 201
    )
    assert SIG not in stream.getvalue()
    assert '"PUT /objects/photos/cus_1/a.jpg?[redacted] HTTP/1.1" 201' in stream.getvalue()


def test_objects_arguments_messages_and_tracebacks_are_redacted(stream: io.StringIO) -> None:
    log = logging.getLogger("test.redact")

    class Url:
        def __str__(self) -> str:
            return URL

    log.warning("fetching %s", Url())
    log.warning("key %(key)s", {"key": KEY})
    log.warning(f"inline {URL}")
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    assert SIG not in text
    assert KEY not in text
    assert text.count("[redacted]") >= 4
    assert "ValueError: bad key [redacted]" in text


def test_every_handler_of_the_serve_config_redacts() -> None:
    config = log_config("info")
    assert config["root"]["handlers"]
    assert all(h["filters"] == ["redact"] for h in config["handlers"].values())
    assert config["filters"]["redact"]["()"] == f"{RedactSecrets.__module__}.RedactSecrets"
