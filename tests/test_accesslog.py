"""The request log (`boothcloud.accesslog`): one structured, redacted line per request.

Through the real app and a handler configured exactly as `serve` configures it (text and
JSON). `test_serve.py` reads the lines a real `serve` process printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import logging.config
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from boothcloud.accesslog import access_log
from boothcloud.logs import (
    BatchedLines,
    JsonFormatter,
    RequestLineFormatter,
    log_config,
    request_record,
    request_sink,
)
from boothcloud.settings import LogFormat
from tests.conftest import ADMIN

SIG = "9f" * 32
SHARE = "Zk3q9XvB7mN2pL4rT8wY1cD6fH0jK5sA"


def configured(level: str, log_format: LogFormat = "text") -> Iterator[io.StringIO]:
    """`serve`'s logging configuration writing into a buffer (the root logger left to
    pytest and the secrets guard), undone afterwards."""
    out = io.StringIO()
    config = log_config(level, log_format)
    for handler in config["handlers"].values():
        handler["stream"] = out
    del config["root"]
    logging.config.dictConfig(config)
    yield out
    for name in config["loggers"]:
        logger = logging.getLogger(name)
        for handler in logger.handlers[:]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


@pytest.fixture
def text_log() -> Iterator[io.StringIO]:
    yield from configured("info")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    yield from configured("info", "json")


@pytest.fixture
def quiet_log() -> Iterator[io.StringIO]:
    yield from configured("warning")


def lines(out: io.StringIO) -> list[str]:
    """What the request log wrote, once its batch is flushed."""
    for handler in logging.getLogger("boothcloud.access").handlers:
        handler.flush()
    return out.getvalue().splitlines()


def logfmt(line: str) -> dict[str, str]:
    """The `key=value` pairs of a text request line (values here hold no spaces)."""
    return dict(pair.split("=", 1) for pair in line.split() if "=" in pair)


async def test_one_line_per_request_with_its_fields(
    client: httpx.AsyncClient, customer: dict[str, Any], text_log: io.StringIO
) -> None:
    booth = {"Authorization": f"License {customer['license_key']}"}
    answer = await client.get(f"/api/customers/{customer['id']}", headers=booth)
    missing = await client.get("/api/customers/cus_nope", headers=ADMIN)
    written = lines(text_log)
    assert len(written) == 2
    first, second = logfmt(written[0]), logfmt(written[1])
    assert first["method"] == "GET"
    assert first["path"] == f"/api/customers/{customer['id']}"
    assert first["status"] == "200"
    assert int(first["bytes"]) == len(answer.content)
    assert float(first["ms"]) > 0
    assert first["client"] == "127.0.0.1"
    assert first["request_id"] == answer.headers["request-id"]
    assert second["status"] == "404"
    assert second["request_id"] == missing.headers["request-id"] != first["request_id"]
    assert customer["license_key"] not in text_log.getvalue()  # flushed by lines() above


async def test_secrets_in_the_target_are_redacted(
    client: httpx.AsyncClient, text_log: io.StringIO
) -> None:
    await client.get(f"/objects/photos/cus_1/a.jpg?method=GET&expires=1&signature={SIG}")
    await client.get(f"/s/{SHARE}")
    await client.post("/api/licenses/validate?license_key=PB-ABCDE-FGHIJ-KLMNO-PQRST-UVWXY-Z2345")
    output = "\n".join(lines(text_log))
    for secret in (SIG, SHARE[:16], "PB-ABCDE"):
        assert secret not in output
    paths = [logfmt(line)["path"] for line in lines(text_log)]
    assert paths == [
        "/objects/photos/cus_1/a.jpg?[redacted]",
        "/s/[redacted]",
        "/api/licenses/validate?license_key=[redacted]",
    ]


async def test_answers_of_the_middlewares_are_logged(
    client: httpx.AsyncClient, text_log: io.StringIO
) -> None:
    too_big = await client.post(
        "/api/customers",
        content=b"x" * (2 * 1024 * 1024),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    not_json = await client.post("/api/customers", content=b"name=x", headers=ADMIN)
    assert (too_big.status_code, not_json.status_code) == (413, 415)
    statuses = [logfmt(line)["status"] for line in lines(text_log)]
    assert statuses == ["413", "415"]
    assert too_big.headers["request-id"].startswith("req_")
    assert too_big.headers["boothcloud-api-version"] == not_json.headers["boothcloud-api-version"]
    assert too_big.headers["boothcloud-api-version"] == "1"


async def test_a_decoded_path_with_quotes_and_spaces_stays_one_parseable_line(
    text_log: io.StringIO,
) -> None:
    """A server that gives no `raw_path` leaves the decoded path, which may hold both."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Message) -> None:
        sent.append(message)

    sent: list[Message] = []
    scope = {"type": "http", "method": "GET", "path": '/a"b c', "query_string": b""}
    await access_log(app)(scope, receive_nothing, send)
    (line,) = lines(text_log)
    assert 'path="/a\\"b c" status=204' in line
    assert "client=- " in line
    assert dict(sent[0]["headers"])[b"request-id"].startswith(b"req_")


async def receive_nothing() -> Message:
    return {"type": "http.disconnect"}


async def test_json_format_has_the_fields_as_keys(
    client: httpx.AsyncClient, customer: dict[str, Any], json_log: io.StringIO
) -> None:
    answer = await client.get(f"/api/customers/{customer['id']}", headers=ADMIN)
    logging.getLogger("uvicorn.error").warning("a plain line")
    records = {r["logger"]: r for r in map(json.loads, lines(json_log))}
    request, plain = records["boothcloud.access"], records["uvicorn.error"]
    assert request["logger"] == "boothcloud.access"
    assert request["level"] == "info"
    assert request["status"] == 200
    assert request["path"] == f"/api/customers/{customer['id']}"
    assert request["request_id"] == answer.headers["request-id"]
    assert request["ts"].endswith("+00:00")
    assert plain["message"] == "a plain line"
    assert plain["level"] == "warning"


async def test_no_line_below_info(
    client: httpx.AsyncClient, customer: dict[str, Any], quiet_log: io.StringIO
) -> None:
    answer = await client.get(f"/api/customers/{customer['id']}", headers=ADMIN)
    assert answer.status_code == 200
    assert answer.headers["request-id"].startswith("req_")
    assert lines(quiet_log) == []


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.makeLogRecord({"name": "t", "levelno": level, "levelname": "X", "msg": message})


def test_lines_are_written_in_batches_no_larger_than_pipe_buf() -> None:
    stream = CountingStream()
    handler = BatchedLines(stream)
    sent = [f"line {n} " + "x" * 90 for n in range(200)]
    for message in sent:
        handler.emit(record(message))
    handler.flush()
    assert stream.getvalue().splitlines() == sent
    assert len(stream.writes) <= len("".join(s + "\n" for s in sent)) // 4000 + 2
    assert max(len(write) for write in stream.writes) <= BatchedLines.BATCH_BYTES


def test_a_warning_is_written_at_once_after_the_lines_before_it() -> None:
    stream = CountingStream()
    handler = BatchedLines(stream)
    handler.emit(record("GET /a 200"))
    assert stream.getvalue() == ""
    handler.emit(record("disk almost full", logging.WARNING))
    assert stream.getvalue().splitlines() == ["GET /a 200", "disk almost full"]
    handler.close()


def test_a_quiet_servers_last_line_is_written_without_a_flush() -> None:
    stream = CountingStream()
    handler = BatchedLines(stream)
    handler.emit(record("GET /last 200"))
    deadline = time.monotonic() + 30
    while stream.getvalue() == "" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stream.getvalue() == "GET /last 200\n"
    handler.close()


def test_closing_writes_what_is_left() -> None:
    stream = CountingStream()
    handler = BatchedLines(stream)
    handler.emit(record("GET /a 200"))
    handler.emit(record("GET /b 200"))
    handler.close()  # as logging.shutdown does at exit: nothing waits for the flusher
    assert stream.getvalue() == "GET /a 200\nGET /b 200\n"


def test_the_flusher_ends_cleanly_once_closed() -> None:
    """Its loop returns at once after `close` (it once tripped over logging.Handler's own
    `_closed` flag and died with an AttributeError)."""
    handler = BatchedLines(CountingStream())
    handler.emit(record("GET /a 200"))
    handler.close()
    handler._flush_often()  # the flusher thread's loop, run here: returns, raises nothing


# --- request lines handed over unformatted (`logs.request_sink`) -----------------------------
FIELDS = {
    "method": "GET",
    "path": '/api/a "quoted" \\ path',
    "status": 200,
    "ms": 1.25,
    "bytes": 10,
    "client": "127.0.0.1",
    "request_id": "req_0123456789abcdef",
}


@pytest.mark.parametrize("formatter", [RequestLineFormatter(), JsonFormatter()])
def test_a_waiting_request_line_is_written_as_its_record_would_be(
    formatter: logging.Formatter,
) -> None:
    stream = CountingStream()
    handler = BatchedLines(stream)
    handler.setFormatter(formatter)
    created = 1_764_000_000.125
    handler.add_request((created, FIELDS))
    record = request_record(FIELDS)
    record.created, record.msecs = created, 125.0
    handler.handle(record)
    handler.close()
    waited, through_logging = stream.getvalue().splitlines()
    assert waited == through_logging
    if isinstance(formatter, JsonFormatter):
        assert json.loads(waited)["ts"] == "2025-11-24T16:00:00.125+00:00"


def test_a_formatter_set_while_lines_wait_formats_them_as_records() -> None:
    stream = CountingStream()
    handler = BatchedLines(stream)
    handler.setFormatter(RequestLineFormatter())
    handler.add_request((1_764_000_000.125, FIELDS))
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(msecs)03d %(message)s"))
    handler.close()
    name, level, msecs, rest = stream.getvalue().rstrip("\n").split(" ", 3)
    assert (name, level, msecs) == ("boothcloud.access", "INFO", "125")
    assert logfmt(rest)["request_id"] == FIELDS["request_id"]


def test_request_lines_are_written_in_order_in_batches_no_larger_than_pipe_buf() -> None:
    stream = CountingStream()
    handler = BatchedLines(stream)
    handler.setFormatter(RequestLineFormatter())
    for n in range(100):
        handler.add_request((0.0, FIELDS | {"request_id": f"req_{n}"}))
    handler.emit(record("disk almost full", logging.WARNING))
    written = stream.getvalue().splitlines()
    assert [logfmt(line).get("request_id") for line in written[:100]] == [
        f"req_{n}" for n in range(100)
    ]
    assert written[100].endswith("disk almost full")
    assert 100 // BatchedLines.BATCH_LINES <= len(stream.writes) <= 100 // 10
    assert max(len(write) for write in stream.writes) <= BatchedLines.BATCH_BYTES
    handler.close()


@contextlib.contextmanager
def without_pytests_capture() -> Iterator[logging.Logger]:
    """The request logger as `serve` leaves it: pytest's log capture attaches its own
    handlers to non-propagating loggers for each test phase (so the app's tests above see
    every request line go through `logging`); taken off here, put back after."""
    logger = logging.getLogger("boothcloud.access")
    capture = [h for h in logger.handlers if not isinstance(h, BatchedLines)]
    for handler in capture:
        logger.removeHandler(handler)
    try:
        yield logger
    finally:
        for handler in capture:
            logger.addHandler(handler)


def test_only_serves_own_set_up_takes_lines_unformatted(text_log: io.StringIO) -> None:
    """Any set-up of one's own (another handler, formatter, filter, level, propagation)
    gets every request line as a `logging` record, as `logging` says."""
    with without_pytests_capture() as logger:
        _check_the_sink(logger)


def _check_the_sink(logger: logging.Logger) -> None:
    [handler] = logger.handlers
    assert request_sink(logger) is handler
    extra = logging.NullHandler()
    changes: list[tuple[Callable[[], None], Callable[[], None]]] = [
        (lambda: logger.addHandler(extra), lambda: logger.removeHandler(extra)),
        (lambda: setattr(logger, "propagate", True), lambda: setattr(logger, "propagate", False)),
        (lambda: logger.addFilter(extra), lambda: logger.removeFilter(extra)),
        (lambda: handler.addFilter(extra), lambda: handler.removeFilter(extra)),
        (lambda: handler.setLevel(logging.WARNING), lambda: handler.setLevel(logging.NOTSET)),
    ]
    for change, undo in changes:
        change()
        assert request_sink(logger) is None
        undo()
        assert request_sink(logger) is handler
    kept = handler.formatter
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    assert request_sink(logger) is None
    handler.setFormatter(kept)


async def test_a_request_line_reaches_a_handler_of_ones_own(
    client: httpx.AsyncClient, customer: dict[str, Any], text_log: io.StringIO
) -> None:
    logger = logging.getLogger("boothcloud.access")
    seen: list[logging.LogRecord] = []
    mine = logging.Handler()
    mine.emit = seen.append  # type: ignore[method-assign]
    logger.addHandler(mine)
    try:
        answer = await client.get(f"/api/customers/{customer['id']}", headers=ADMIN)
    finally:
        logger.removeHandler(mine)
    [line] = seen
    assert line.fields["request_id"] == answer.headers["request-id"]  # type: ignore[attr-defined]
    assert logfmt(line.getMessage())["status"] == "200"
    assert [logfmt(text)["request_id"] for text in lines(text_log)] == [
        answer.headers["request-id"]
    ]


async def test_under_serves_set_up_a_request_line_is_handed_over_and_written(
    client: httpx.AsyncClient, customer: dict[str, Any], json_log: io.StringIO
) -> None:
    with without_pytests_capture() as logger:
        assert request_sink(logger) is not None  # what the request below goes through
        answer = await client.get(f"/api/customers/{customer['id']}", headers=ADMIN)
        [line] = map(json.loads, lines(json_log))
    assert line["logger"] == "boothcloud.access"
    assert line["status"] == 200
    assert line["request_id"] == answer.headers["request-id"]
    assert logfmt(line["message"])["path"] == f"/api/customers/{customer['id']}"
