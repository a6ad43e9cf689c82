"""Payment routes and the Xendit webhook: thin, rules live in `service` and `events`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from boothcloud.auth import CallerDep, PipelinedCallerDep
from boothcloud.deps import DbDep, SettingsDep
from boothcloud.errors import Unauthorized
from boothcloud.http import respond
from boothcloud.licenses.keys import secrets_equal
from boothcloud.openapi import json_body, problems
from boothcloud.pagination import CursorQuery, CustomerQuery, LimitQuery
from boothcloud.payments import events, export, service, summary
from boothcloud.payments.schemas import (
    InvoiceCallback,
    Payment,
    PaymentCreate,
    PaymentMethod,
    PaymentPage,
    PaymentStatus,
    PaymentSummary,
    QrPaymentCallback,
    WebhookAck,
)
from boothcloud.payments.xendit import XenditClient
from boothcloud.schemas import InputDatetime

router = APIRouter(prefix="/api/payments", tags=["payments"])
webhook_router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=service.KEY_PATTERN.pattern,  # documented; the service checks it
        description="Makes retries safe: the same key and body replay the original answer.",
    ),
]
FromQuery = Annotated[InputDatetime | None, Query(description="Created at or after (ISO 8601).")]
ToQuery = Annotated[InputDatetime | None, Query(description="Created before (ISO 8601).")]


@router.post(
    "",
    status_code=201,
    response_model=Payment,
    summary="Create a payment and its Xendit invoice",
    responses=problems(400, 401, 403, 404, 409, 413, 422, 502, 503),
)
async def create_payment(
    body: PaymentCreate,
    db: DbDep,
    settings: SettingsDep,
    caller: PipelinedCallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    client = XenditClient.from_settings(settings)
    answer = await service.create(db, settings, client, caller, body, idempotency_key)
    headers = {"Location": f"/api/payments/{answer.payment_id}"}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(answer.body, answer.status, headers, media_type=answer.media_type)


@router.get(
    "",
    response_model=PaymentPage,
    summary="List payments, newest first",
    responses=problems(401, 403, 422),
)
async def list_payments(
    db: DbDep,
    caller: CallerDep,
    status: PaymentStatus | None = None,
    customer_id: CustomerQuery = None,
    created_from: FromQuery = None,
    created_to: ToQuery = None,
    flagged: Annotated[bool | None, Query(description="Only flagged for review.")] = None,
    method: PaymentMethod | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Response:
    page = await service.list_page(
        db,
        caller,
        status=status,
        customer_id=customer_id,
        created_from=created_from,
        created_to=created_to,
        flagged=flagged,
        cursor=cursor,
        limit=limit,
        method=method,
    )
    return respond(page)


@router.get(
    "/summary",
    response_model=PaymentSummary,
    summary="Daily count, gross, platform fees and net (operator: all or one customer)",
    responses=problems(401, 403, 422),
)
async def payment_summary(
    db: DbDep,
    caller: CallerDep,
    customer_id: CustomerQuery = None,
    created_from: FromQuery = None,
    created_to: ToQuery = None,
) -> Response:
    return respond(
        await summary.summarize(
            db, caller, customer_id=customer_id, created_from=created_from, created_to=created_to
        )
    )


@router.get(
    "/export.csv",
    summary="Payments of a date range as CSV (the list's rows and scope), streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problems(401, 403, 422)},
)
async def export_payments(
    db: DbDep,
    caller: CallerDep,
    status: PaymentStatus | None = None,
    customer_id: CustomerQuery = None,
    created_from: FromQuery = None,
    created_to: ToQuery = None,
) -> StreamingResponse:
    chosen = export.filters(
        caller,
        customer_id=customer_id,
        status=status,
        created_from=created_from,
        created_to=created_to,
    )
    return StreamingResponse(
        export.rows(db, chosen),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="payments.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/{payment_id}/qr.svg",
    summary="The QRIS code of a `qris` payment, as SVG for the booth's screen",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}},
        **problems(401, 403, 404, 409),
    },
)
async def payment_qr_svg(payment_id: str, db: DbDep, caller: CallerDep) -> Response:
    svg = await service.qr_svg(db, caller, payment_id)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get(
    "/{payment_id}",
    response_model=Payment,
    summary="Get a payment's current status (optionally long-polling for a change)",
    responses=problems(401, 403, 404, 422),
)
async def get_payment(
    payment_id: str,
    request: Request,
    db: DbDep,
    caller: CallerDep,
    wait: Annotated[
        int,
        Query(
            ge=0,
            le=service.WAIT_MAX_SECONDS,
            description="Long-poll: answer as soon as the status changes from what it is "
            "now (any worker's change counts), or after this many seconds with the current "
            "state. A completed or failed payment answers at once. 0 (default): no wait.",
        ),
    ] = 0,
) -> Response:
    payment = await service.wait_for_change(db, caller, payment_id, wait, request.is_disconnected)
    return respond(payment)


async def check_callback_token(
    settings: SettingsDep,
    token: Annotated[str | None, Header(alias="x-callback-token")] = None,
) -> None:
    expected = settings.xendit_callback_token.get_secret_value()
    if not token or not expected or not secrets_equal(token, expected):
        raise Unauthorized("missing or invalid x-callback-token")


@webhook_router.post(
    "/xendit",
    response_model=WebhookAck,
    summary="Xendit invoice callback (idempotent per invoice and status)",
    responses=problems(400, 401, 413, 422),
    dependencies=[Depends(check_callback_token)],  # runs before the body is read
    openapi_extra={"security": [{"xendit_callback": []}], **json_body(InvoiceCallback)},
)
async def xendit_webhook(request: Request, db: DbDep) -> Response:
    raw = await request.body()
    callback = await events.read_callback(db, raw, InvoiceCallback)  # refusals are recorded
    return respond(await events.apply(db, events.from_callback(callback, raw)))


@webhook_router.post(
    "/xendit/qr",
    response_model=WebhookAck,
    summary="Xendit `qr.payment` callback (QRIS; idempotent per QR code and status)",
    responses=problems(400, 401, 413, 422),
    dependencies=[Depends(check_callback_token)],
    openapi_extra={"security": [{"xendit_callback": []}], **json_body(QrPaymentCallback)},
)
async def xendit_qr_webhook(request: Request, db: DbDep) -> Response:
    raw = await request.body()
    callback = await events.read_callback(db, raw, QrPaymentCallback)
    text = raw.decode("utf-8", errors="replace")
    return respond(await events.apply(db, events.from_qr_payment(callback.data, text, "webhook")))
