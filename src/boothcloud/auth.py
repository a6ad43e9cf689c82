"""Who is calling: the operator (admin bearer token) or a booth (its license key).

Both secrets are compared with `hmac.compare_digest`, so a wrong guess takes the same time
whatever prefix it shares with the real one. A booth is scoped to its own customer: its
`customer_id` filters every query, and another customer's resource answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Request

from boothcloud.db.base import Database, Row
from boothcloud.errors import Forbidden, NotFound, Unauthorized
from boothcloud.licenses import repository as licenses
from boothcloud.licenses.keys import secrets_equal
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


async def require_operator(caller: Annotated[Caller, Depends(require_caller)]) -> Caller:
    if not caller.is_operator:
        raise Forbidden("only the operator may do this")
    return caller


async def require_booth(caller: Annotated[Caller, Depends(require_caller)]) -> Caller:
    if caller.is_operator:
        raise Forbidden("only a booth (License auth) may do this")
    return caller


CallerDep = Annotated[Caller, Depends(require_caller)]
OperatorDep = Annotated[Caller, Depends(require_operator)]
BoothDep = Annotated[Caller, Depends(require_booth)]
