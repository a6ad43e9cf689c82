"""FastAPI's floor: the most a FastAPI route can reach on this machine, in two forms.

`FLOOR_MODE=bytes` (the default): one route at boothcloud's path for a booth's customer
GET, answering fixed bytes (the reference's answer, read from `FLOOR_BODY_FILE`): no auth,
no database, no validation, no log. The ratio floor/reference says how much of the 0.5x
target FastAPI's dispatch alone leaves.

`FLOOR_MODE=work`: the customer GET and the license validation as FastAPI routes whose
bodies are the reference's own handlers (`reference_app`: the same SQL on the same kind of
connection, the same checks, orjson), with nothing of FastAPI's own on top (no dependency,
no request or response model, no middleware, no log). That is the ceiling of any FastAPI
app doing the reference's work: a ratio boothcloud cannot exceed without leaving FastAPI.
It reads the database at `REFERENCE_DATABASE_PATH` (its own copy).

Served by bench/run.py and bench/instructions.py with the same uvicorn, workers and
requests as the reference.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

MODE = os.environ.get("FLOOR_MODE", "bytes")
if MODE not in ("bytes", "work"):
    raise SystemExit(f"FLOOR_MODE must be bytes or work, not {MODE!r}")

app = FastAPI()


if MODE == "bytes":
    BODY = Path(os.environ["FLOOR_BODY_FILE"]).read_bytes()

    @app.get("/api/customers/{customer_id}")
    async def customer(customer_id: str) -> Response:
        return Response(BODY, media_type="application/json")

else:
    import reference_app as reference

    def _answer(reply: reference.Reply) -> Response:
        status, content, content_type, *_ = reply
        return Response(content, status_code=status, media_type=content_type.decode())

    @app.get("/api/customers/{customer_id}")
    async def customer_work(customer_id: str, request: Request) -> Response:
        return _answer(reference.get_customer(request.headers.get("authorization"), customer_id))

    @app.post("/api/licenses/validate")
    async def validate_work(request: Request) -> Response:
        data = reference.json_object(await request.body())
        if isinstance(data, tuple):
            return _answer(data)
        if not reference.allow(request.client.host if request.client else "unknown"):
            return _answer(reference.problem(429, "too-many-requests", "Too many", "slow down"))
        return _answer(reference.validate(data))


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b"ok")
