"""Who is calling: the operator (admin bearer token) or a booth (its license key).

Both secrets are compared with `hmac.compare_digest`, so a wrong guess takes the same time
whatever prefix it shares with the real one. A booth is scoped to its own customer: its
`customer_id` filters every query, and another customer's resource answers 404.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Request

from boothcloud.db.base import PRECONDITION, Database, Precondition, Row
from boothcloud.errors import Forbidden, NotFound, Unauthorized
from boothcloud.licenses import repository as licenses
from boothcloud.licenses.keys import normalize_license_key, secrets_equal
from boothcloud.licenses.ratelimit import client_address
from boothcloud.settings import Settings

TOO_MANY_FAILURES = "too many failed authentication attempts; retry later"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="boothcloud", License realm="boothcloud"'}


class WrongCredential(Unauthorized):
    """A credential was presented and is wrong (not merely missing or malformed): it
    counts against the client's failed-authentication limit. Answers like any 401."""


@dataclass(frozen=True, slots=True)
class Caller:
    kind: Literal["operator", "booth"]
    customer_id: str | None = None  # set for booths
    license_type: str | None = None
    record: Row | None = field(default=None, compare=False, repr=False)  # booth's customer

    def own_record(self, customer_id: str) -> Row | None:
        """The booth's own customer row, read while authenticating this request."""
        return self.record if customer_id == self.customer_id else None

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    def scope(self, requested_customer_id: str | None) -> str | None:
        """The customer a query must be limited to: a booth's own, or the operator's pick."""
        return requested_customer_id if self.is_operator else self.customer_id

    def check_owns(self, customer_id: str, what: str, resource_id: str) -> None:
        """404 (not 403) when a booth reaches for another customer's row: no existence leak.

        The answer is `not_found(what, resource_id)`, the very one an unknown id gets.
        """
        if not self.is_operator and customer_id != self.customer_id:
            raise not_found(what, resource_id)

    def owned(self, row: Row | None, what: str, resource_id: str) -> Row:
        """`row` if this caller may see it; an unknown id and another customer's row both
        answer `not_found(what, resource_id)`, so a booth cannot tell them apart."""
        if row is None:
            raise not_found(what, resource_id)
        self.check_owns(str(row["customer_id"]), what, resource_id)
        return row


def not_found(what: str, resource_id: str) -> NotFound:
    """The one 404 for a resource this caller cannot see, built in one place so that
    "no such row" and "another customer's row" cannot drift apart."""
    return NotFound(f"{what} {resource_id} not found")


async def authenticate(header: str | None, db: Database, settings: Settings) -> Caller:
    if not header:
        raise Unauthorized("missing Authorization header", headers=CHALLENGE)
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    scheme = scheme.lower()
    if scheme == "bearer" and credential:
        if secrets_equal(credential, settings.admin_token.get_secret_value()):
            return Caller(kind="operator")
        raise WrongCredential("invalid admin token", headers=CHALLENGE)
    if scheme == "license" and credential:
        row = await licenses.find_by_key(db, credential)
        if row is None:
            raise WrongCredential("invalid license key", headers=CHALLENGE)
        problem = licenses.license_problem(row)
        if problem is not None:
            raise Forbidden(f"license is {problem.lower()}", code=problem)
        return Caller(
            kind="booth",
            customer_id=str(row["id"]),
            license_type=str(row["license_type"]),
            record=row,
        )
    raise Unauthorized("use `Bearer <admin token>` or `License <license key>`", headers=CHALLENGE)


class KnownKeys:
    """Which customer a license key belongs to, as this process last saw it authenticate.

    Only the mapping is kept (under the key's SHA-256, never the key): whether the license
    is usable is checked again on every request, inside the request's own first statement
    call (`usable_check`). A key that moved or stopped working fails that check, is
    forgotten, and the request authenticates the long way. Bounded: the oldest half is
    dropped when full.
    """

    LIMIT = 50_000

    def __init__(self) -> None:
        self._ids: dict[bytes, str] = {}

    @staticmethod
    def _digest(key: str) -> bytes:
        return hashlib.sha256(normalize_license_key(key).encode()).digest()

    def get(self, key: str) -> str | None:
        return self._ids.get(self._digest(key))

    def remember(self, key: str, customer_id: str) -> None:
        if len(self._ids) >= self.LIMIT:
            for old in list(self._ids)[: self.LIMIT // 2]:
                del self._ids[old]
        self._ids[self._digest(key)] = customer_id

    def forget(self, key: str) -> None:
        self._ids.pop(self._digest(key), None)


async def require_caller(request: Request) -> Caller:
    """The caller, from `Authorization` (OpenAPI's security schemes are declared in
    `openapi.py`, so no header dependency adds per-request work here).

    Each wrong credential takes a token from the client's failure bucket; a client with
    none left gets 429 before its credential is even looked at (were a right guess still
    let through, the limit would not slow guessing). Successful requests take nothing.
    """
    return await authenticate_limited(request, request.headers.get("authorization"))


async def authenticate_limited(request: Request, header: str | None) -> Caller:
    """`authenticate` behind the client's failed-authentication limit: the API's header
    and the console's sign-in forms go through this one gate."""
    services = request.app.state.services
    client = client_address(request)
    services.auth_limiter.refuse_if_spent(client, TOO_MANY_FAILURES)
    try:
        return await authenticate(header, services.db, services.settings)
    except WrongCredential:
        services.auth_limiter.allow(client)
        raise


async def require_caller_pipelined(request: Request) -> AsyncIterator[Caller]:
    """`require_caller` in no round trip of its own, for hot routes whose effects all come
    from, or after, their first database call (a payment asks Xendit only once its first
    batch, which carries the check, has applied).

    On a backend that pipelines (D1: every call is an HTTP round trip to the bridge), a
    booth whose key this process has seen is not looked up now: its usability check
    (`licenses.usable_check`, the SQL form of `license_problem`) is sent first in the same
    atomic batch as the route's first call, so the route's statements apply only if the
    license is usable at that moment. If the check fails, the full authentication runs and
    answers exactly what `require_caller` would (401, 403, the failure limit). The caller
    then carries the customer id only (`record` and `license_type` unset): a route that
    needs the tier reads it in its own statements (activation, payments) or uses
    `CallerDep`. A request that ends, answered or refused (a 422 body),
    with the check never sent runs the full authentication before its answer leaves (a
    function-scoped dependency: its exit runs before the response is sent), so no answer
    goes out on a license that was not checked. On SQLite the key lookup costs
    microseconds, so this is `require_caller`.
    """
    services = request.app.state.services
    if not getattr(services.db, "pipelines", False):
        yield await require_caller(request)
        return
    known: KnownKeys = services.extras.setdefault("known_keys", KnownKeys())
    scheme, _, credential = (request.headers.get("authorization") or "").partition(" ")
    credential = credential.strip()
    remembered = known.get(credential) if scheme.lower() == "license" and credential else None
    if remembered is None:
        caller = await require_caller(request)
        if caller.customer_id is not None:
            known.remember(credential, caller.customer_id)
        yield caller
        return
    customer_id = remembered
    services.auth_limiter.refuse_if_spent(client_address(request), TOO_MANY_FAILURES)

    async def recheck() -> None:
        known.forget(credential)
        if (await require_caller(request)).customer_id != customer_id:
            raise WrongCredential("invalid license key", headers=CHALLENGE)

    precondition = Precondition(licenses.usable_check(customer_id, credential), recheck)
    PRECONDITION.set(precondition)
    try:
        yield Caller(kind="booth", customer_id=customer_id)
    except Exception:
        if not precondition.spent:
            await recheck()  # an auth failure answers before the route's own error
        raise
    else:
        if not precondition.spent:
            await recheck()
    finally:
        PRECONDITION.set(None)


async def require_operator(caller: Annotated[Caller, Depends(require_caller)]) -> Caller:
    if not caller.is_operator:
        raise Forbidden("only the operator may do this")
    return caller


async def require_booth(caller: Annotated[Caller, Depends(require_caller)]) -> Caller:
    if caller.is_operator:
        raise Forbidden("only a booth (License auth) may do this")
    return caller


async def require_booth_pipelined(
    caller: Annotated[Caller, Depends(require_caller_pipelined, scope="function")],
) -> Caller:
    return await require_booth(caller)


CallerDep = Annotated[Caller, Depends(require_caller)]
PipelinedCallerDep = Annotated[Caller, Depends(require_caller_pipelined, scope="function")]
PipelinedBoothDep = Annotated[Caller, Depends(require_booth_pipelined)]
OperatorDep = Annotated[Caller, Depends(require_operator)]
BoothDep = Annotated[Caller, Depends(require_booth)]
