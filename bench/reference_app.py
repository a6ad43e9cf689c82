"""The benchmark's reference: boothcloud's benchmarked routes at the lowest honest cost.

A raw ASGI application (no framework, no validation library) on stdlib `sqlite3`, served
by the same uvicorn with the same workers as boothcloud, against a copy of the same
database file. It does the same work per request as boothcloud, and nothing is cached
between requests:

- booth auth: read `Authorization: License <key>`, look the customer up by license key
  (the same indexed SELECT), compare the key with `hmac.compare_digest`, refuse a
  suspended or expired license;
- `GET /api/customers/:id`: auth, then fetch the customer by id (a second query, as
  boothcloud does), 404 for another customer's id, JSON with the same fields in the same
  order and the same ISO 8601 UTC timestamps;
- `POST /api/licenses/validate`: body size cap, JSON parse, the same field checks, the
  same per-client token bucket, the same lookup and compare, the same answer shape;
- `POST /api/photos`: auth, body checks (UUID id, r2_key under the customer's prefix,
  printer owned by the customer), the same request hash, one INSERT with the same columns
  (`ON CONFLICT DO NOTHING` + replay check, as boothcloud does), the same presigned upload
  URL (HMAC-SHA256);
- `POST /api/printers/:id/claim`: auth, the printer must be the caller's, then in one
  transaction the same two statements as boothcloud's batch: requeue this customer's
  stuck prints, and the single claiming `UPDATE ... RETURNING`; a presigned download URL.

Same pragmas as boothcloud (WAL, synchronous=NORMAL, foreign_keys=ON, busy_timeout).
What it leaves out is what costs and is not work: routing tables, dependency injection,
pydantic models, thread hops. Queries run inline on the event loop by default
(`REFERENCE_SQLITE=inline`, the floor: each is an indexed lookup or a single-row write
taking microseconds); `REFERENCE_SQLITE=thread` runs each request's database work in one
hop to a worker thread, to measure what a hop costs.

Configuration (environment): REFERENCE_DATABASE_PATH, REFERENCE_URL_SIGNING_SECRET,
REFERENCE_PUBLIC_URL, REFERENCE_VALIDATE_RATE_LIMIT_PER_MINUTE, REFERENCE_SQLITE,
REFERENCE_SQLITE_SYNCHRONOUS (NORMAL or FULL, as boothcloud's setting).
Run: `uvicorn --app-dir bench reference_app:app --workers 2 --loop uvloop --http httptools`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson

DATABASE_PATH = os.environ.get("REFERENCE_DATABASE_PATH", "data/boothcloud.db")
SIGNING_SECRET = os.environ.get("REFERENCE_URL_SIGNING_SECRET", "reference-secret").encode()
PUBLIC_URL = os.environ.get("REFERENCE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
RATE_PER_MINUTE = float(os.environ.get("REFERENCE_VALIDATE_RATE_LIMIT_PER_MINUTE", "60"))
PRESIGN_EXPIRY = int(os.environ.get("REFERENCE_PRESIGN_EXPIRY_SECONDS", "900"))
MODE = os.environ.get("REFERENCE_SQLITE", "inline")
SYNCHRONOUS = os.environ.get("REFERENCE_SQLITE_SYNCHRONOUS", "NORMAL")
if SYNCHRONOUS not in ("NORMAL", "FULL"):
    raise SystemExit(f"REFERENCE_SQLITE_SYNCHRONOUS must be NORMAL or FULL, not {SYNCHRONOUS!r}")
MAX_BODY = 1024 * 1024
BUSY_TIMEOUT_MS = 5_000

CUSTOMER_COLUMNS = (
    "id, name, email, phone, license_key, license_type, license_status, license_expires_at, "
    "purchase_date, created_at, updated_at"
)
CUSTOMER_FIELDS = tuple(c.strip() for c in CUSTOMER_COLUMNS.split(","))
CUSTOMER_TIMES = {"license_expires_at", "purchase_date", "created_at", "updated_at"}
LICENSE_BY_KEY = (
    "SELECT id, license_key, license_type, license_status, license_expires_at "
    "FROM customers WHERE license_key = ?"
)
PHOTO_COLUMNS = (
    "id, customer_id, r2_key, print_status, printer_id, session_id, created_at, "
    "coalesce(updated_at, created_at) AS updated_at, claimed_at, uploaded_at, object_size, "
    "content_type, purged_at"
)
PHOTO_FIELDS = (
    "id", "customer_id", "r2_key", "print_status", "printer_id", "session_id", "created_at",
    "updated_at", "claimed_at", "uploaded_at", "object_size", "content_type", "purged_at",
)  # fmt: skip
PHOTO_TIMES = {"created_at", "updated_at", "claimed_at", "uploaded_at", "purged_at"}
PRINTER_OK = "(? IS NULL OR EXISTS (SELECT 1 FROM printers WHERE id = ? AND customer_id = ?))"
INSERT_PHOTO = (
    "INSERT INTO photos (id, customer_id, r2_key, printer_id, request_hash, print_status, "
    "updated_at) SELECT ?, ?, ?, ?, ?, 'pending', datetime('now') "
    f"WHERE {PRINTER_OK} ON CONFLICT DO NOTHING RETURNING {PHOTO_COLUMNS}"
)
REQUEUE_STUCK = (
    "UPDATE photos SET print_status = 'pending', claimed_at = NULL, "
    "updated_at = datetime('now') WHERE customer_id = ? AND print_status = 'printing' "
    "AND claimed_at < ?"
)
CLAIM = (
    "UPDATE photos SET print_status = 'printing', printer_id = ?, "
    "claimed_at = datetime('now'), updated_at = datetime('now') "
    "WHERE id = (SELECT id FROM photos WHERE customer_id = ? "
    "AND print_status = 'pending' AND uploaded_at IS NOT NULL "
    "AND (printer_id = ? OR printer_id IS NULL) ORDER BY created_at, id LIMIT 1) "
    "AND print_status = 'pending' AND uploaded_at IS NOT NULL "
    "AND EXISTS (SELECT 1 FROM printers WHERE id = ? AND customer_id = ?) "
    f"RETURNING {PHOTO_COLUMNS}"
)
STUCK_AFTER_SECONDS = int(os.environ.get("REFERENCE_PRINT_STUCK_AFTER_SECONDS", "600"))
DETAILS = {
    "VALID": "license is valid",
    "NOT_FOUND": "no license with this key",
    "SUSPENDED": "license is suspended",
    "EXPIRED": "license has expired",
    "NOT_ACTIVATED": "this device is not activated for the license",
}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
JSON = b"application/json"
PROBLEM = b"application/problem+json"

# status, body, content type[, extra headers]
Reply = tuple[int, bytes, bytes] | tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]


# --- database -----------------------------------------------------------------------------
_local = threading.local()


def db() -> sqlite3.Connection:
    """One connection per process (inline) or per thread (thread mode), opened lazily."""
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(
            DATABASE_PATH,
            isolation_level=None,  # autocommit: a single statement is its own transaction
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        _local.conn = conn
    return conn


# --- helpers ------------------------------------------------------------------------------
def now_db() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def to_api(value: str | None) -> str | None:
    """`YYYY-MM-DD HH:MM:SS` (as D1 stores it) to `YYYY-MM-DDTHH:MM:SSZ`."""
    if value is None:
        return None
    if len(value) == 19 and value[10] == " ":
        return f"{value[:10]}T{value[11:]}Z"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def expired(expires_at: str | None) -> bool:
    if expires_at is None:
        return False
    if len(expires_at) == 19 and expires_at[10] == " ":
        return expires_at <= now_db()  # the stored format sorts as text
    return to_api(expires_at) <= now_db().replace(" ", "T") + "Z"  # type: ignore[operator]


def problem(status: int, slug: str, title: str, detail: str, code: str | None = None) -> Reply:
    body: dict[str, Any] = {
        "type": "https://boothcloud.dev/problems/" + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if code:
        body["code"] = code
    return status, orjson.dumps(body), PROBLEM


def unauthorized(detail: str) -> Reply:
    return problem(401, "unauthorized", "Missing or invalid credentials", detail)


def not_found(detail: str) -> Reply:
    return problem(404, "not-found", "Resource not found", detail)


def invalid(detail: str) -> Reply:
    return problem(422, "validation-failed", "Invalid request", detail)


def authorization(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


def booth(header: str | None) -> tuple[Any, ...] | Reply:
    """(id, license_key, license_type, ...) of the calling booth's customer, or an error."""
    if not header:
        return unauthorized("missing Authorization header")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "license" or not credential:
        return unauthorized("use `License <license key>`")
    key = credential.upper()
    row = db().execute(LICENSE_BY_KEY, (key,)).fetchone()
    if row is None or not hmac.compare_digest(key.encode(), row[1].encode()):
        return unauthorized("invalid license key")
    if row[3] == "suspended":
        return problem(403, "forbidden", "Not allowed", "license is suspended", "SUSPENDED")
    if expired(row[4]):
        return problem(403, "forbidden", "Not allowed", "license is expired", "EXPIRED")
    return tuple(row)


def customer_json(row: tuple[Any, ...]) -> bytes:
    return orjson.dumps(
        {
            name: to_api(value) if name in CUSTOMER_TIMES else value
            for name, value in zip(CUSTOMER_FIELDS, row, strict=True)
        }
    )


def photo_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        name: to_api(value) if name in PHOTO_TIMES else value
        for name, value in zip(PHOTO_FIELDS, row, strict=True)
    }


def json_object(body: bytes) -> dict[str, Any] | Reply:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return problem(400, "bad-request", "Malformed request", "request body is not valid JSON")
    if not isinstance(data, dict):
        return invalid("body: must be an object")
    return data


def optional_text(data: dict[str, Any], name: str, low: int, high: int) -> str | Reply | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        return invalid(f"{name}: must be a string")
    value = value.strip()
    if not low <= len(value) <= high or CONTROL.search(value):
        return invalid(f"{name}: invalid length or characters")
    return value


# --- rate limit (the same token bucket per client as boothcloud) ---------------------------
_buckets: dict[str, list[float]] = {}


def allow(client: str) -> bool:
    now = time.monotonic()
    bucket = _buckets.get(client)
    if bucket is None:
        if len(_buckets) >= 100_000:
            _buckets.clear()
        bucket = _buckets[client] = [RATE_PER_MINUTE, now]
    bucket[0] = min(RATE_PER_MINUTE, bucket[0] + (now - bucket[1]) * RATE_PER_MINUTE / 60.0)
    bucket[1] = now
    if bucket[0] >= 1.0:
        bucket[0] -= 1.0
        return True
    return False


# --- handlers (synchronous: all database work of one request) ------------------------------
def get_customer(header: str | None, customer_id: str) -> Reply:
    caller = booth(header)
    if isinstance(caller[0], int):
        return caller  # type: ignore[return-value]
    row = db().execute(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?", (customer_id,))
    found = row.fetchone()
    if found is None or found[0] != caller[0]:
        return not_found(f"customer {customer_id} not found")
    return 200, customer_json(found), JSON


def validate(data: dict[str, Any]) -> Reply:
    key = data.get("license_key")
    if not isinstance(key, str) or not 1 <= len(key.strip()) <= 128:
        return invalid("license_key: must be a string of 1-128 characters")
    if set(data) - {"license_key", "fingerprint"}:
        return invalid("body: unknown field")
    fingerprint = optional_text(data, "fingerprint", 8, 256)
    if isinstance(fingerprint, tuple):
        return fingerprint
    key = key.strip().upper()
    row = db().execute(LICENSE_BY_KEY, (key,)).fetchone()
    activation_id = None
    if row is None or not hmac.compare_digest(key.encode(), row[1].encode()):
        code = "NOT_FOUND"
    elif row[3] == "suspended":
        code = "SUSPENDED"
    elif expired(row[4]):
        code = "EXPIRED"
    elif fingerprint is None:
        code = "VALID"
    else:
        activation = (
            db()
            .execute(
                "SELECT id FROM license_activations WHERE customer_id = ? AND fingerprint = ?",
                (row[0], fingerprint),
            )
            .fetchone()
        )
        code = "VALID" if activation else "NOT_ACTIVATED"
        activation_id = activation[0] if activation else None
    found = row is not None and code != "NOT_FOUND"
    answer = {
        "valid": code == "VALID",
        "code": code,
        "detail": DETAILS[code],
        "customer_id": row[0] if found else None,
        "license_type": row[2] if found else None,
        "license_expires_at": to_api(row[4]) if found else None,
        "activation_id": activation_id,
    }
    return 200, orjson.dumps(answer), JSON


def presign(method: str, key: str) -> str:
    expires = int(time.time()) + PRESIGN_EXPIRY
    message = f"{method}\n{key}\n{expires}".encode()
    signature = hmac.new(SIGNING_SECRET, message, hashlib.sha256).hexdigest()
    query = urlencode({"method": method, "expires": expires, "signature": signature})
    return f"{PUBLIC_URL}/objects/{quote(key)}?{query}"


def valid_key(key: object, prefix: str) -> bool:
    if not isinstance(key, str) or not key.startswith(prefix) or len(key.encode()) > 1024:
        return False
    if "\\" in key or any(part in {"", ".", ".."} for part in key.split("/")):
        return False
    return not CONTROL.search(key)


def create_photo(header: str | None, data: dict[str, Any]) -> Reply:
    caller = booth(header)
    if isinstance(caller[0], int):
        return caller  # type: ignore[return-value]
    customer_id = caller[0]
    if set(data) - {"id", "r2_key", "printer_id", "customer_id"}:
        return invalid("body: unknown field")
    if data.get("customer_id") not in (None, customer_id):
        return problem(403, "forbidden", "Not allowed", "a booth creates its own photos only")
    raw_id = data.get("id")
    try:
        photo_id = str(uuid.UUID(raw_id)) if raw_id is not None else str(uuid.uuid4())
    except (TypeError, ValueError, AttributeError):
        return invalid("id: must be a UUID")
    printer_id = data.get("printer_id")
    if printer_id is not None and (not isinstance(printer_id, str) or len(printer_id) > 64):
        return invalid("printer_id: must be a string of at most 64 characters")
    r2_key = data.get("r2_key")
    server_key = r2_key is None
    if server_key:
        today = time.strftime("%Y/%m/%d", time.gmtime())
        r2_key = f"photos/{customer_id}/{today}/{photo_id}.jpg"
    elif not valid_key(r2_key, f"photos/{customer_id}/"):
        return invalid("r2_key: must be a valid key under the customer's prefix")
    request_hash = hashlib.sha256(
        orjson.dumps([customer_id, None if server_key else r2_key, printer_id])
    ).hexdigest()
    conn = db()
    row = conn.execute(
        INSERT_PHOTO,
        (photo_id, customer_id, r2_key, printer_id, request_hash, printer_id, printer_id,
         customer_id),
    ).fetchone()  # fmt: skip
    status = 201
    if row is None:  # the id exists (a replay or a conflict), or not the customer's printer
        existing = conn.execute(
            f"SELECT {PHOTO_COLUMNS}, request_hash FROM photos WHERE id = ?", (photo_id,)
        ).fetchone()
        if existing is None:
            return invalid("printer_id: no such printer for this customer")
        if existing[-1] != request_hash:
            return problem(409, "conflict", "Conflict", "photo id already used", "IDEMPOTENCY")
        row, status = existing[:-1], 200
    photo = photo_dict(row)
    photo["upload_url"] = presign("PUT", row[2]) if server_key else None
    photo["download_url"] = None
    return status, orjson.dumps(photo), JSON, [(b"location", f"/api/photos/{row[0]}".encode())]


def claim(header: str | None, printer_id: str) -> Reply:
    caller = booth(header)
    if isinstance(caller[0], int):
        return caller  # type: ignore[return-value]
    customer_id = caller[0]
    conn = db()
    owned = conn.execute(
        "SELECT 1 FROM printers WHERE id = ? AND customer_id = ?", (printer_id, customer_id)
    ).fetchone()
    if owned is None:
        return not_found(f"printer {printer_id} not found")
    cutoff = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - STUCK_AFTER_SECONDS))
    # One atomic unit, as boothcloud's batch: requeue this customer's stuck prints, claim.
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(REQUEUE_STUCK, (customer_id, cutoff))
        row = conn.execute(
            CLAIM, (printer_id, customer_id, printer_id, printer_id, customer_id)
        ).fetchone()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if row is None:
        return 204, b"", JSON
    photo = photo_dict(row)
    photo["upload_url"] = None
    photo["download_url"] = presign("GET", row[2])
    return 200, orjson.dumps(photo), JSON


# --- ASGI ---------------------------------------------------------------------------------
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="reference-db")


async def run(work: Callable[[], Reply]) -> Reply:
    if MODE == "thread":
        return await asyncio.get_running_loop().run_in_executor(_pool, work)
    return work()


async def read_body(receive: Callable[[], Awaitable[dict[str, Any]]]) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _pool.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    method: str = scope["method"]
    path: str = scope["path"]
    header = authorization(scope["headers"])
    reply: Reply
    if method == "GET" and path.startswith("/api/customers/") and path.count("/") == 3:
        customer_id = path[len("/api/customers/") :]
        reply = await run(lambda: get_customer(header, customer_id))
    elif method == "POST" and path.startswith("/api/printers/") and path.endswith("/claim"):
        printer_id = path[len("/api/printers/") : -len("/claim")]
        reply = await run(lambda: claim(header, printer_id))
    elif method == "POST" and path in ("/api/licenses/validate", "/api/photos"):
        body = await read_body(receive)
        if body is None:
            reply = problem(413, "payload-too-large", "Request body too large", "too large")
        else:
            data = json_object(body)
            if isinstance(data, tuple):
                reply = data
            elif path == "/api/photos":
                reply = await run(lambda: create_photo(header, data))  # type: ignore[arg-type]
            else:
                client = scope["client"][0] if scope.get("client") else "unknown"
                if not allow(client):
                    reply = problem(429, "too-many-requests", "Too many requests", "slow down")
                else:
                    reply = await run(lambda: validate(data))  # type: ignore[arg-type]
    elif method == "GET" and path == "/healthz":
        reply = 200, b'{"status":"ok"}', JSON
    else:
        reply = not_found("no such route")
    status, content, content_type, *extra = reply
    headers = [(b"content-type", content_type), *(extra[0] if extra else ())]
    if status != 204:
        headers.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content if status != 204 else b""})
