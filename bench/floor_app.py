"""FastAPI's own floor: the most any FastAPI route can reach on this machine.

One route at boothcloud's path for a booth's customer GET, answering fixed bytes (the
reference's answer, read from `FLOOR_BODY_FILE`): no auth, no database, no validation, no
log. Served by bench/run.py with the same uvicorn, workers and wrk script as the reference,
so the ratio floor/reference says how much of the 0.5x target FastAPI itself leaves.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

BODY = Path(os.environ["FLOOR_BODY_FILE"]).read_bytes()

app = FastAPI()


@app.get("/api/customers/{customer_id}")
async def customer(customer_id: str) -> Response:
    return Response(BODY, media_type="application/json")


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b"ok")
