"""Who is using the console: the session cookie, turned into the API's own `Caller`.

The operator's session becomes `Caller(kind="operator")`, an owner's the very booth caller
the API builds from a license key (`kind="booth"`, its customer), so every page reads
through the same services and the same `Caller.scope` as the API: an owner cannot name
another customer's rows, whatever the page asks for. Owner pages are GET only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request

from boothcloud.auth import Caller
from boothcloud.console import session as cookies
from boothcloud.console.session import ConsoleSession
from boothcloud.deps import Services, ServicesDep
from boothcloud.licenses import repository as licenses
from boothcloud.licenses.keys import secrets_equal


class SignInRequired(Exception):
    """No (valid) session for this area: answered with a redirect to its sign-in page."""

    def __init__(self, sign_in: str, reason: str | None = None) -> None:
        super().__init__(sign_in)
        self.sign_in = sign_in
        self.reason = reason


class FormRefused(Exception):
    """A post without this session's CSRF token (or no session): 403 page, nothing done."""


OPERATOR_SIGN_IN = "/console/login"
OWNER_SIGN_IN = "/console/owner/login"
MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Console:
    """What a console page works with: the session, the API caller, the services."""

    session: ConsoleSession
    caller: Caller
    services: Services
    csrf: str
    form: dict[str, str] = field(default_factory=dict)

    def field(self, name: str) -> str | None:
        """A form field, stripped; None when empty (an empty filter means none)."""
        value = self.form.get(name, "").strip()
        return value or None


async def _caller(services: Services, found: ConsoleSession) -> Caller | None:
    """The caller this session stands for now, or None if its credential changed."""
    settings = services.settings
    if found.role == "operator":
        token = settings.admin_token.get_secret_value()
        same = secrets_equal(found.credential, cookies.fingerprint(settings, token))
        return Caller(kind="operator") if same else None
    if found.customer_id is None:
        return None
    row = await licenses.get_license(services.db, str(found.customer_id))
    if row is None or licenses.license_problem(row) is not None:
        return None
    key = cookies.fingerprint(settings, str(row["license_key"]))
    if not secrets_equal(found.credential, key):
        return None
    return Caller(kind="booth", customer_id=str(row["id"]), license_type=str(row["license_type"]))


async def read_form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (the console's forms), last value wins."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in parsed.items()}


async def _console(request: Request, services: Services, role: str, sign_in: str) -> Console:
    found = cookies.decode(services.settings, request.cookies.get(cookies.COOKIE))
    caller = await _caller(services, found) if found is not None else None
    if found is None or caller is None or found.role != role:
        if request.method != "GET":
            raise FormRefused
        raise SignInRequired(sign_in, "expired" if request.cookies.get(cookies.COOKIE) else None)
    csrf = found.csrf(services.settings)
    form: dict[str, str] = {}
    if request.method != "GET":
        form = await read_form(request)
        if not cookies.csrf_ok(services.settings, csrf, form.get("csrf")):
            raise FormRefused
    return Console(found, caller, services, csrf, form)


async def operator_console(request: Request, services: ServicesDep) -> Console:
    return await _console(request, services, "operator", OPERATOR_SIGN_IN)


async def owner_console(request: Request, services: ServicesDep) -> Console:
    return await _console(request, services, "owner", OWNER_SIGN_IN)


OperatorConsole = Annotated[Console, Depends(operator_console)]
OwnerConsole = Annotated[Console, Depends(owner_console)]
