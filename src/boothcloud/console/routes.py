"""Console routes (`/console`): thin; what a page shows is in `views`, the rules in the
API's services. Out of the OpenAPI document (HTML for people, not the API's contract);
their access is tested in tests/console/test_access.py and listed in the access matrix.

Every error becomes a message on a page: a `ProblemError` from a service or a bad query
value renders `error.html` with its status (never problem+json, never a traceback), a
missing session redirects to the sign-in page, a post without the CSRF token is a 403 page.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from boothcloud.auth import authenticate_limited
from boothcloud.console import session as cookies
from boothcloud.console import tasks, views
from boothcloud.console.access import (
    OPERATOR_SIGN_IN,
    OWNER_SIGN_IN,
    Console,
    FormRefused,
    OperatorConsole,
    OwnerConsole,
    SignInRequired,
    read_form,
)
from boothcloud.console.render import HEADERS, chart, page
from boothcloud.customers import service as customers
from boothcloud.customers.schemas import CustomerCreate, CustomerPatch
from boothcloud.deps import ServicesDep
from boothcloud.errors import BadGateway, ProblemError, invalid
from boothcloud.http import validation_problem
from boothcloud.payments.xendit import XenditClient
from boothcloud.photos import service as photos
from boothcloud.refunds import service as refunds
from boothcloud.refunds.schemas import Refund, RefundCreate

STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
Text = Annotated[str | None, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=512)]


def _error_page(request: Request, error: ProblemError) -> Response:
    owner = request.url.path.startswith("/console/owner")
    return page(
        "error.html",
        status=error.status,
        error=error,
        owner=owner,
        back=request.headers.get("referer") if _same_origin(request) else None,
    )


def _same_origin(request: Request) -> bool:
    referer = request.headers.get("referer", "")
    return referer.startswith(str(request.base_url).rstrip("/") + "/console")


class ConsoleRoute(APIRoute):
    """Turns the console's errors into pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as missing:
                target = missing.sign_in + ("?expired=1" if missing.reason else "")
                return RedirectResponse(target, status_code=303, headers=HEADERS)
            except FormRefused:
                return page("refused.html", status=403)
            except RequestValidationError as error:
                return _error_page(request, validation_problem(error.errors()))
            except ProblemError as error:
                return _error_page(request, error)

        return guarded


router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)


M = TypeVar("M", bound=BaseModel)


def _model(model: type[M], values: dict[str, object]) -> M:
    """A form, validated by the API's own request model (same limits, same messages)."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise validation_problem(error.errors()) from error


def _back(path: str, **query: str | None) -> RedirectResponse:
    """Post/redirect/get: after a change, the page that shows it."""
    values = {k: v for k, v in query.items() if v}
    target = f"{path}?{urlencode(values)}" if values else path
    return RedirectResponse(target, status_code=303, headers=HEADERS)


# -- assets and sign-in ---------------------------------------------------------------


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    data = resources.files("boothcloud.console").joinpath("static", name).read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type=STATIC[name], headers=headers)


@dataclass(frozen=True, slots=True)
class SignInForm:
    """One of the two sign-in forms: the operator's admin token, an owner's license key."""

    title: str
    action: str
    field: str
    label: str
    scheme: str  # the API's Authorization scheme the credential is checked as
    home: str
    owner: bool


OPERATOR_FORM = SignInForm(
    "Operator sign-in", OPERATOR_SIGN_IN, "token", "Admin token", "Bearer", "/console", False
)
OWNER_FORM = SignInForm(
    "Booth owner sign-in",
    OWNER_SIGN_IN,
    "license_key",
    "License key",
    "License",
    "/console/owner",
    True,
)


def _sign_in_page(
    services: ServicesDep, form: SignInForm, status: int = 200, **context: Any
) -> Response:
    nonce = cookies.new_pre_nonce()
    response = page(
        "login.html",
        status=status,
        csrf=cookies.pre_token(services.settings, nonce),
        form=form,
        **context,
    )
    cookies.set_cookie(response, services.settings, cookies.PRE_COOKIE, nonce, cookies.PRE_SECONDS)
    return response


async def _sign_in(request: Request, services: ServicesDep, form: SignInForm) -> Response:
    fields = await read_form(request)
    nonce = request.cookies.get(cookies.PRE_COOKIE, "")
    expected = cookies.pre_token(services.settings, nonce) if nonce else ""
    if not nonce or not cookies.csrf_ok(services.settings, expected, fields.get("csrf")):
        raise FormRefused
    credential = fields.get(form.field, "").strip()
    try:
        caller = await authenticate_limited(request, f"{form.scheme} {credential}")
    except ProblemError as error:  # wrong (rate-limited as the API's), suspended, expired
        return _sign_in_page(services, form, error.status, error=error.detail)
    role: cookies.Role = "operator" if caller.is_operator else "owner"
    if role == "owner":
        assert caller.record is not None
        credential = str(caller.record["license_key"])  # as stored (normalized)
    opened = cookies.open_session(services.settings, role, caller.customer_id, credential)
    response = RedirectResponse(form.home, status_code=303, headers=HEADERS)
    cookies.set_cookie(
        response,
        services.settings,
        cookies.COOKIE,
        cookies.encode(services.settings, opened),
        cookies.SESSION_SECONDS,
    )
    cookies.clear_cookie(response, services.settings, cookies.PRE_COOKIE)
    return response


@router.get("/login")
async def login_page(services: ServicesDep, expired: str | None = None) -> Response:
    return _sign_in_page(services, OPERATOR_FORM, expired=bool(expired))


@router.post("/login")
async def login(request: Request, services: ServicesDep) -> Response:
    return await _sign_in(request, services, OPERATOR_FORM)


@router.get("/owner/login")
async def owner_login_page(services: ServicesDep, expired: str | None = None) -> Response:
    return _sign_in_page(services, OWNER_FORM, expired=bool(expired))


@router.post("/owner/login")
async def owner_login(request: Request, services: ServicesDep) -> Response:
    return await _sign_in(request, services, OWNER_FORM)


def _signed_out(console: Console, target: str) -> Response:
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    cookies.clear_cookie(response, console.services.settings, cookies.COOKIE)
    return response


@router.post("/logout")
async def logout(console: OperatorConsole) -> Response:
    return _signed_out(console, OPERATOR_SIGN_IN + "?signed_out=1")


@router.post("/owner/logout")
async def owner_logout(console: OwnerConsole) -> Response:
    return _signed_out(console, OWNER_SIGN_IN + "?signed_out=1")


@router.get("")
async def home(console: OperatorConsole) -> Response:
    return RedirectResponse("/console/customers", status_code=303, headers=HEADERS)


# -- customers ------------------------------------------------------------------------


@router.get("/customers")
async def customer_list(
    console: OperatorConsole,
    q: Text = None,
    tier: Text = None,
    status: Text = None,
    cursor: Cursor = None,
) -> Response:
    data = await views.customer_list(console, q, tier, status, cursor)
    return page("customers.html", console, **data)


@router.post("/customers")
async def create_customer(console: OperatorConsole) -> Response:
    values = {f: console.field(f) for f in ("name", "email", "phone", "license_type")}
    body = _model(CustomerCreate, {k: v for k, v in values.items() if v is not None})
    created = await customers.create(console.services.db, body)
    data = await views.customer_detail(console, created.id)
    return page("customer.html", console, status=201, new_key=created.license_key, **data)


@router.get("/customers/{customer_id}")
async def customer_detail(
    customer_id: str, console: OperatorConsole, notice: Text = None
) -> Response:
    data = await views.customer_detail(console, customer_id)
    return page("customer.html", console, notice=notice, **data)


@router.post("/customers/{customer_id}")
async def edit_customer(customer_id: str, console: OperatorConsole) -> Response:
    values: dict[str, object] = {
        f: console.field(f) for f in ("name", "email", "phone", "license_type")
    }
    values["license_expires_at"] = console.field("license_expires_at")
    if values["license_expires_at"] is not None:
        values["license_expires_at"] = f"{values['license_expires_at']}T00:00:00Z"
    body = _model(CustomerPatch, values)
    await customers.patch(console.services.db, customer_id, body)
    return _back(f"/console/customers/{customer_id}", notice="saved")


@router.post("/customers/{customer_id}/status")
async def set_customer_status(customer_id: str, console: OperatorConsole) -> Response:
    body = _model(CustomerPatch, {"license_status": console.field("license_status")})
    await customers.patch(console.services.db, customer_id, body)
    return _back(f"/console/customers/{customer_id}", notice=body.license_status)


@router.post("/customers/{customer_id}/license-key")
async def rotate_key(customer_id: str, console: OperatorConsole) -> Response:
    rotated = await customers.rotate_key(console.services.db, customer_id)
    data = await views.customer_detail(console, customer_id)
    return page("customer.html", console, new_key=rotated.license_key, **data)


# -- payments -------------------------------------------------------------------------


async def _payment_filters(
    status: Text = None,
    method: Text = None,
    customer_id: Text = None,
    day_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    day_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> views.PaymentFilters:
    return views.PaymentFilters.read(status, method, customer_id, day_from, day_to)


PaymentFilters = Annotated[views.PaymentFilters, Depends(_payment_filters)]


@router.get("/payments")
async def payments_page(
    console: OperatorConsole,
    filters: PaymentFilters,
    cursor: Cursor = None,
) -> Response:
    data = await views.payments_overview(console, filters, cursor)
    return page("payments.html", console, query=urlencode(filters.query()), cursor=cursor, **data)


@router.get("/payments/chart")
async def payment_chart(console: OperatorConsole, filters: PaymentFilters) -> Response:
    """The daily summary's chart, loaded by the payments page after it has shown: the
    summary reads every payment of the range, the page's lists read a page each."""
    daily = await views.daily_summary(console, filters)
    return page("chart.html", console, chart=chart(daily), summary=daily)


@router.get("/payments/rows")
async def payment_rows(
    console: OperatorConsole,
    filters: PaymentFilters,
) -> Response:
    """The first page's rows alone: what the payments page polls for new payments."""
    items, _ = await views.payment_page(console, filters, None)
    return page("payment_rows.html", console, **await views.payment_rows(console, items))


@router.post("/payments/{payment_id}/refunds")
async def refund_payment(payment_id: str, console: OperatorConsole) -> Response:
    """The refund form: the refunds service with the form's Idempotency-Key
    (`views.refund_key`), so a double submit replays the first refund instead of making a
    second. The answer is the payments page with the outcome as its message; a refusal is
    an error page (a replayed one too: the service stores only Xendit's refusal, a 502)."""
    services = console.services
    amount = console.field("amount")
    body = _model(
        RefundCreate,
        {
            # digits as a number (the model's bounds apply), anything else as typed: 422
            "amount": int(amount) if amount and amount.isdigit() and len(amount) < 20 else amount,
            "note": console.field("note"),
        },
    )
    key = views.refund_key(console, payment_id, console.field("seen"))
    client = XenditClient.from_settings(services.settings)
    answer = await refunds.create(
        services.db, services.settings, client, payment_id, body, key, console.caller
    )
    if answer.status >= 400:
        raise BadGateway(str(orjson.loads(answer.body)["detail"]), code="XENDIT_REFUND_REFUSED")
    made = Refund.model_validate_json(answer.body)
    data = await views.payments_overview(console, views.PaymentFilters(), None)
    return page(
        "payments.html",
        console,
        status=200 if answer.replayed else 201,
        query="",
        cursor=None,
        refunded=made,
        replayed=answer.replayed,
        **data,
    )


@router.get("/payments.csv")
async def payments_csv(
    console: OperatorConsole,
    filters: PaymentFilters,
) -> Response:
    await views.payment_page(console, filters, None)  # bad filters: an error page, not a CSV
    return StreamingResponse(
        views.payments_csv(console, filters),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="payments.csv"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- print queues ---------------------------------------------------------------------


@router.get("/print-queues")
async def print_queues(
    console: OperatorConsole,
    customer_id: Text = None,
    printer_id: Text = None,
    notice: Text = None,
) -> Response:
    data = await views.print_queues(console, customer_id, printer_id)
    return page("print_queues.html", console, notice=notice, **data)


@router.post("/print-queues/{photo_id}/requeue")
async def requeue(photo_id: str, console: OperatorConsole) -> Response:
    services = console.services
    await photos.requeue(services.db, services.settings, console.caller, photo_id)
    return _back(
        "/console/print-queues",
        customer_id=console.field("customer_id"),
        printer_id=console.field("printer_id"),
        notice="requeued",
    )


# -- booths ---------------------------------------------------------------------------


@router.get("/booths")
async def booths(console: OperatorConsole, customer_id: Text = None) -> Response:
    return page("booths.html", console, **await views.booth_health(console, customer_id))


# -- backups --------------------------------------------------------------------------


@router.get("/backups")
async def backups_page(console: OperatorConsole) -> Response:
    return page(
        "backups.html",
        console,
        backups=await views.backup_list(console),
        task=tasks.current(console.services),
    )


@router.get("/backups/progress")
async def backup_progress(console: OperatorConsole) -> Response:
    return page("backup_progress.html", console, task=tasks.current(console.services))


@router.post("/backups")
async def take_backup(console: OperatorConsole) -> Response:
    tasks.start(console.services, "backup")
    return _back("/console/backups")


@router.post("/backups/verify")
async def verify_backup(console: OperatorConsole) -> Response:
    key = console.field("key")
    # Only a listed backup: `verify` would also read a local file of any name.
    if key not in {b.key for b in await views.backup_list(console)}:
        raise invalid("key", "not a backup in the list")
    tasks.start(console.services, "verify", key)
    return _back("/console/backups")


# -- the booth owner's view -----------------------------------------------------------


@router.get("/owner")
async def owner_home(console: OwnerConsole) -> Response:
    data = await views.owner_overview(console)
    return page("owner.html", console, chart=chart(data["summary"]), **data)
