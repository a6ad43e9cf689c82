"""No secret in any log line: the redaction every handler `serve` configures applies.

A presigned URL is a bearer credential for 15 minutes and a license key for as long as it
is not rotated, yet both travel in places that get logged: request lines in uvicorn's
access log (`/objects/...?...&signature=...`), HTTP client logs (httpx names every URL it
calls), tracebacks. Rather than trust every log call, `RedactSecrets` rewrites each record
on its way out: the query string of an object URL, any `license_key`, `signature`, `token`
or `credential` parameter (S3's `X-Amz-Signature`, `X-Amz-Security-Token` included),
anything shaped like a license key, and `Bearer`/`Basic` credentials.

`log_config` is uvicorn's own logging configuration with that filter on every handler and a
root handler added, so application and library loggers go through it too; uvicorn applies
it in every worker process. Request lines come from `boothcloud.accesslog` (uvicorn's own
access log is off), on stdout as uvicorn's were; `BOOTHCLOUD_LOG_FORMAT=json` makes every
line one JSON object (`JsonFormatter`).
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from uvicorn.config import LOGGING_CONFIG

from boothcloud.settings import LogFormat

REDACTED = "[redacted]"
ACCESS_LOGGER = "boothcloud.access"
# A request line handed to `BatchedLines` unformatted: (time.time() at the answer, fields).
RequestLine = tuple[float, dict[str, Any]]

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # /objects/<key>?<anything>: the whole query string (method, expiry, signature).
    (re.compile(r"(/objects/[^\s?#\"']*)\?[^\s#\"']*"), rf"\1?{REDACTED}"),
    (
        re.compile(r"(?i)\b([\w-]*(?:license_key|signature|token|credential))=[^&\s\"',;]+"),
        rf"\1={REDACTED}",
    ),
    (re.compile(r"(?i)\bPB(?:-[A-Z2-7]{5}){6}\b"), REDACTED),
    # A gallery's share code is the guest's credential: /s/<code>[/...] keeps only /s/.
    (re.compile(r"(/s/)[A-Za-z0-9_-]{16,}"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+(?!realm\b)[\w.~+/=-]+"), rf"\1 {REDACTED}"),
)


# Every pattern above needs one of these in its match; most log lines (an access line of an
# API route) have none, and a few substring tests are far cheaper than five substitutions
# (13 -> under 1 us per access line).
_TRIGGERS = ("?", "=", "/s/", "pb-", "bearer", "basic")


def redact(text: str) -> str:
    lowered = text.lower()
    for trigger in _TRIGGERS:  # a loop, not `any()` over a generator: half the time
        if trigger in lowered:
            break
    else:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_NEEDS_QUOTES = frozenset(' "\\')


def _quoted(text: str) -> str:
    """A logfmt value that holds a space, a quote or a backslash (`_NEEDS_QUOTES`)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def logfmt(fields: Mapping[str, object]) -> str:
    """`name=value name=value ...`, the text form of a request line (a plain loop: a
    quarter cheaper than a generator with a function call for every field)."""
    parts = []
    for name, value in fields.items():
        text = str(value)
        parts.append(
            f"{name}={text}" if _NEEDS_QUOTES.isdisjoint(text) else f"{name}={_quoted(text)}"
        )
    return " ".join(parts)


def _redact_arg(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    """Rewrites a record in place (so every later handler sees the redacted one).

    String arguments are redacted one by one, which keeps formatters that read
    `record.args` (uvicorn's access formatter) working; a record whose other arguments
    (an URL object, a dict) still render a secret is flattened into its redacted message.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "redacted", False):  # built from redacted fields (accesslog)
            return True
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_arg(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(value) for value in record.args)
        if record.args:
            message = record.getMessage()
            if (cleaned := redact(message)) != message:
                record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `ts` (UTC, ISO 8601), `level`, `logger`, `message`, the
    record's structured `fields` (a request line's method, path, status ...) and, for an
    error, `exception` (already redacted by the filter, which runs before formatting)."""

    @staticmethod
    def _head(created: float, level: str, logger: str, message: str) -> dict[str, Any]:
        return {
            "ts": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "logger": logger,
            "message": message,
        }

    def format(self, record: logging.LogRecord) -> str:
        line = self._head(
            record.created, record.levelname.lower(), record.name, record.getMessage()
        )
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line, default=str).decode()

    def format_request(self, line: RequestLine) -> str:
        """What `format` writes for a request line's record, from its fields alone."""
        created, fields = line
        head = self._head(created, "info", ACCESS_LOGGER, logfmt(fields))
        return orjson.dumps(head | fields, default=str).decode()


class BatchedLines(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes its lines in batches instead of one `write` each.

    Under load one request line per `write` cost about 15 µs of kernel time each (the
    server's stdout is a file or a pipe); batched, the cost is shared by a dozen lines or
    more. A batch is written when it would pass `BATCH_BYTES` (PIPE_BUF: two workers
    writing to one pipe never split each other's batches), when a record of WARNING or
    above arrives (after the lines before it, so order holds), when the process exits
    (`logging.shutdown`), and otherwise within `FLUSH_AFTER_SECONDS` (a flusher thread),
    so a quiet server's last lines appear promptly. A `kill -9` loses at most that much of
    the request log.

    Request lines may also arrive unformatted (`add_request`, the access log's path when
    `serve`'s configuration is in place: `request_sink`): they wait as their fields and are
    formatted, by the same formatter and to the same text, when their batch is written
    (`BATCH_LINES` of them at most), in one loop instead of one pass through `logging`
    each. Measured in bench/ (`boothcloud serve`, a booth's customer GET): the request
    line cost 15-20% of the route's throughput through `logging`, about half that this way.
    """

    BATCH_BYTES = 4096
    BATCH_LINES = 24  # about 3.5 KB of text lines: one write each batch
    FLUSH_AFTER_SECONDS = 0.2

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._lines: list[str | RequestLine] = []
        self._size = 0  # of the formatted lines waiting
        self._flusher: threading.Thread | None = None  # started by the first line
        self._stopped = threading.Event()  # not `_closed`: logging.Handler has one

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except (TypeError, ValueError, KeyError):
            self.handleError(record)  # a malformed record, as StreamHandler does
            return
        if self._size + len(line) > self.BATCH_BYTES:
            self.flush()
        self._lines.append(line)
        self._size += len(line)
        if record.levelno >= logging.WARNING:
            self.flush()
        else:
            self._start_flusher()

    def add_request(self, line: RequestLine) -> None:
        """A request line, formatted when its batch is written."""
        with self.lock:  # type: ignore[union-attr]
            self._lines.append(line)
            if len(self._lines) >= self.BATCH_LINES:
                self.flush()
            else:
                self._start_flusher()

    def _start_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_often, daemon=True)
            self._flusher.start()

    def _flush_often(self) -> None:
        """One thread for the handler's life (a thread per batch cost more than the writes
        it saved): it wakes a few times a second and writes what has waited."""
        while not self._stopped.wait(self.FLUSH_AFTER_SECONDS):
            if self._lines:
                self.flush()

    def close(self) -> None:
        self._stopped.set()  # the flusher ends; what is left is written below
        self.flush()
        super().close()

    def _text(self, line: str | RequestLine) -> str:
        if isinstance(line, str):
            return line
        formatter = self.formatter
        if isinstance(formatter, RequestLineFormatter | JsonFormatter):
            return formatter.format_request(line) + self.terminator
        # The formatter was replaced while the line waited: the record it would have had.
        created, fields = line
        record = request_record(fields)
        record.created, record.msecs = created, (created - int(created)) * 1000
        return self.format(record) + self.terminator

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._lines:
                waiting, self._lines, self._size = self._lines, [], 0
                batch: list[str] = []
                size = 0
                for text in map(self._text, waiting):
                    if batch and size + len(text) > self.BATCH_BYTES:
                        self._write("".join(batch))
                        batch, size = [], 0
                    batch.append(text)
                    size += len(text)
                self._write("".join(batch))
            super().flush()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
        except (OSError, ValueError):  # a broken or closed stream: reported
            self.handleError(logging.makeLogRecord({"msg": "a batch of lines"}))


def request_record(fields: dict[str, Any]) -> logging.LogRecord:
    """A request line as a `logging` record: its logfmt text, and its `fields` for the JSON
    formatter. Built from redacted fields (`accesslog.target`), so marked `redacted`: the
    handlers' filter does not scan it again. No stack frame is looked up for it."""
    make = logging.getLogRecordFactory()
    record = make(ACCESS_LOGGER, logging.INFO, "", 0, logfmt(fields), (), None)
    record.fields = fields
    record.redacted = True
    return record


def request_sink(logger: logging.Logger) -> BatchedLines | None:
    """The handler to give `logger`'s request lines to unformatted, when the logger is set
    up as `serve` ships it (`log_config`): not propagating, no filters of its own, one
    `BatchedLines` handler at INFO or below, with one of this module's formatters and only
    the redaction filter (which passes request lines as they are: built from redacted
    fields). Any other set-up answers None and the lines go through `logging` like any
    record, so a configuration of one's own means what `logging` says."""
    handlers = logger.handlers
    if logger.propagate or logger.filters or len(handlers) != 1:
        return None
    handler = handlers[0]
    if type(handler) is not BatchedLines or handler.level > logging.INFO:
        return None
    if type(handler.formatter) not in (RequestLineFormatter, JsonFormatter):
        return None
    if any(type(check) is not RedactSecrets for check in handler.filters):
        return None
    return handler


class RequestLineFormatter(logging.Formatter):
    """uvicorn's text prefix (`INFO:     `) without its per-record copy and colour check:
    request lines are always INFO and never coloured."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname}:     {record.getMessage()}"

    def format_request(self, line: RequestLine) -> str:
        """What `format` writes for a request line's record, from its fields alone."""
        return f"INFO:     {logfmt(line[1])}"


def log_config(level: str, log_format: LogFormat = "text") -> dict[str, Any]:
    """uvicorn's logging configuration, every handler filtered, plus a root handler and
    the request log's handler (stdout, where uvicorn's access lines went, in batches)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "boothcloud.logs.RedactSecrets"}}
    config["formatters"]["requests"] = {"()": "boothcloud.logs.RequestLineFormatter"}
    config["handlers"]["requests"] = {
        "formatter": "requests",
        "class": "boothcloud.logs.BatchedLines",
        "stream": "ext://sys.stdout",
    }
    if log_format == "json":
        config["formatters"] = {
            name: {"()": "boothcloud.logs.JsonFormatter"}
            for name in ("default", "access", "requests")
        }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["loggers"][ACCESS_LOGGER] = {
        "handlers": ["requests"],
        "level": level.upper(),
        "propagate": False,
    }
    config["root"] = {"handlers": ["default"], "level": level.upper()}
    return config
