"""Refund routes and Xendit's refund callback: thin, rules live in `service` and `events`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from boothcloud.auth import CallerDep, OperatorDep
from boothcloud.deps import DbDep, SettingsDep
from boothcloud.http import respond
from boothcloud.openapi import json_body, problems
from boothcloud.payments.events import read_callback
from boothcloud.payments.routes import IdempotencyKey, check_callback_token
from boothcloud.payments.schemas import WebhookAck
from boothcloud.payments.xendit import XenditClient
from boothcloud.refunds import events, service
from boothcloud.refunds.schemas import Refund, RefundCallback, RefundCreate, RefundList

router = APIRouter(prefix="/api/payments", tags=["refunds"])
webhook_router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


@router.post(
    "/{payment_id}/refunds",
    status_code=201,
    response_model=Refund,
    summary="Refund a completed payment, fully or partly, through Xendit (operator)",
    responses=problems(400, 401, 403, 404, 409, 413, 422, 502, 503),
)
async def create_refund(
    payment_id: str,
    body: RefundCreate,
    db: DbDep,
    settings: SettingsDep,
    caller: OperatorDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    client = XenditClient.from_settings(settings)
    answer = await service.create(db, settings, client, payment_id, body, idempotency_key, caller)
    headers = {"Location": f"/api/payments/{payment_id}/refunds"}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(answer.body, answer.status, headers, media_type=answer.media_type)


@router.get(
    "/{payment_id}/refunds",
    response_model=RefundList,
    summary="A payment's refunds, with why and how each ended",
    responses=problems(401, 403, 404),
)
async def list_refunds(payment_id: str, db: DbDep, caller: CallerDep) -> Response:
    return respond(await service.list_for_payment(db, caller, payment_id))


@webhook_router.post(
    "/xendit/refund",
    response_model=WebhookAck,
    summary="Xendit `refund.succeeded` / `refund.failed` callback (idempotent per refund "
    "and status)",
    responses=problems(400, 401, 413, 422),
    dependencies=[Depends(check_callback_token)],
    openapi_extra={"security": [{"xendit_callback": []}], **json_body(RefundCallback)},
)
async def xendit_refund_webhook(request: Request, db: DbDep) -> Response:
    raw = await request.body()
    callback = await read_callback(db, raw, RefundCallback)
    return respond(await events.apply(db, events.from_callback(callback, raw)))
