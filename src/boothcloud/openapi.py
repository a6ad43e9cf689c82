"""Error responses as OpenAPI documents them: every error is problem+json."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["https://boothcloud.dev/problems/not-found"])
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None
    code: str | None = None


_DESCRIPTIONS = {
    400: "Malformed JSON",
    401: "Missing or invalid credentials",
    403: "Credentials valid, action not allowed",
    404: "Not found (or another customer's)",
    409: "Conflict",
    413: "Body over 1 MiB",
    422: "Invalid fields",
    429: "Rate limited",
    502: "Payment provider failed",
    503: "Not configured or not ready",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status answered with a problem+json body."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for status in statuses
    }
