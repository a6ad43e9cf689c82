"""Console sessions: a signed, expiring cookie; no table.

Signing in exchanges a credential (the admin token, or a customer's license key for the
read-only owner view) for a cookie holding who signed in, when the session ends, a random
nonce and a fingerprint of the credential, signed with HMAC-SHA256 under a key derived
from `url_signing_secret`. Every request re-checks the fingerprint against the credential
as it is now, so rotating the admin token or the license key (or suspending the license)
ends every session opened with the old one. The CSRF token of a session is an HMAC of its
nonce: forms carry it, and a post without it is refused.

The cookie is HttpOnly, SameSite=Strict, Secure outside development, and scoped to
`/console`. Before sign-in, the sign-in forms are protected the same way by a short-lived
pre-session cookie (double submit).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import orjson
from starlette.responses import Response

from boothcloud.settings import Settings

COOKIE = "bc_console"
PRE_COOKIE = "bc_console_pre"  # the sign-in forms' CSRF nonce, before any session
PATH = "/console"
SESSION_SECONDS = 8 * 3600  # a working day; then sign in again
PRE_SECONDS = 3600
Role = Literal["operator", "owner"]


def _key(settings: Settings) -> bytes:
    secret = settings.url_signing_secret.get_secret_value().encode()
    return hmac.new(secret, b"boothcloud console session v1", hashlib.sha256).digest()


def _mac(settings: Settings, purpose: str, value: str) -> str:
    digest = hmac.new(_key(settings), f"{purpose}|{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def fingerprint(settings: Settings, credential: str) -> str:
    """What the cookie keeps of the credential: a keyed hash, never the credential."""
    return _mac(settings, "credential", credential)[:32]


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    role: Role
    customer_id: str | None  # the owner's customer; None for the operator
    expires: int  # unix seconds
    nonce: str
    credential: str  # `fingerprint` of the credential it was opened with

    def csrf(self, settings: Settings) -> str:
        return _mac(settings, "csrf", self.nonce)


def open_session(
    settings: Settings, role: Role, customer_id: str | None, credential: str
) -> ConsoleSession:
    return ConsoleSession(
        role=role,
        customer_id=customer_id,
        expires=int(time.time()) + SESSION_SECONDS,
        nonce=secrets.token_urlsafe(16),
        credential=fingerprint(settings, credential),
    )


def encode(settings: Settings, session: ConsoleSession) -> str:
    payload = orjson.dumps(
        [session.role, session.customer_id, session.expires, session.nonce, session.credential]
    )
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_mac(settings, 'session', body)}"


def decode(settings: Settings, cookie: str | None) -> ConsoleSession | None:
    """The session a cookie carries, if its signature holds and it has not expired."""
    if not cookie or "." not in cookie or len(cookie) > 1024:
        return None
    body, _, mac = cookie.partition(".")
    if not hmac.compare_digest(mac, _mac(settings, "session", body)):
        return None
    try:
        role, customer_id, expires, nonce, credential = orjson.loads(
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        )
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        return None
    if role not in ("operator", "owner") or not isinstance(expires, int):
        return None
    if expires <= time.time():
        return None
    return ConsoleSession(role, customer_id, expires, str(nonce), str(credential))


def csrf_ok(settings: Settings, expected: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(expected, sent or "")


def pre_token(settings: Settings, nonce: str) -> str:
    return _mac(settings, "pre", nonce)


def new_pre_nonce() -> str:
    return secrets.token_urlsafe(16)


def _secure(settings: Settings) -> bool:
    return settings.environment != "development"


def set_cookie(response: Response, settings: Settings, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=PATH,
        secure=_secure(settings),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path=PATH, secure=_secure(settings), httponly=True, samesite="strict"
    )
