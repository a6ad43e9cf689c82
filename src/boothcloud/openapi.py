"""Error responses as OpenAPI documents them: every error is problem+json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from boothcloud.errors import PROBLEM_JSON

JSON = "application/json"


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
    415: "Body not sent as `Content-Type: application/json`",
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


def problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """`app.openapi` that documents FastAPI's own errors the way the API sends them.

    FastAPI describes request validation failures as `application/json`
    `HTTPValidationError`; this API answers them (and malformed JSON, oversized bodies)
    as problem+json, so the document says so for every operation.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(components["Problem"].pop("$defs", {}))
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        spec["components"]["securitySchemes"] = SECURITY_SCHEMES
        for path_item in spec.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                extra = [422] if operation.get("parameters") or "requestBody" in operation else []
                if "requestBody" in operation:
                    extra += [400, 413]
                if takes_json(operation):
                    extra.append(415)
                for status in extra:
                    responses[str(status)] = _problem_response(status)
                if "401" in responses:
                    operation.setdefault("security", [{"operator": []}, {"booth": []}])
                if "operator" in str(operation.get("security")):  # failed-auth limit
                    responses["429"] = _problem_response(429)
        app.openapi_schema = spec
        return spec

    return openapi


SECURITY_SCHEMES = {
    "operator": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <admin token>`",
    },
    "booth": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: License <license key>`, scoped to its customer",
    },
    "xendit_callback": {
        "type": "apiKey",
        "in": "header",
        "name": "x-callback-token",
        "description": "Xendit's callback verification token",
    },
}


def takes_json(operation: dict[str, Any]) -> bool:
    """Whether an OpenAPI operation reads a JSON request body."""
    return JSON in operation.get("requestBody", {}).get("content", {})


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with every local `#/$defs/...` reference replaced by its (non-recursive) schema."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` of a route that reads and validates its JSON body itself; nested
    models are inlined, as `openapi_extra` cannot add components."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    schema = _inline(schema, defs)
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
