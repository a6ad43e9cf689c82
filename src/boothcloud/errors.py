"""Errors carry their HTTP status; one handler renders them as RFC 9457 problem+json.

Every error the API returns has the same documented shape:
`{"type", "title", "status", "detail", "errors"?: [{"field", "message"}], "code"?}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "https://boothcloud.dev/problems/"
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class ProblemError(Exception):
    """Base of every error the API answers with; subclasses set status, slug and title."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return problem_body(
            self.status, self.slug, self.title, self.detail, self.errors, code=self.code
        )


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    *,
    code: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    if code:
        body["code"] = code
    return body


class BadRequest(ProblemError):
    status = 400
    slug = "bad-request"
    title = "Malformed request"


class Unauthorized(ProblemError):
    status = 401
    slug = "unauthorized"
    title = "Missing or invalid credentials"


class Forbidden(ProblemError):
    status = 403
    slug = "forbidden"
    title = "Not allowed for these credentials"


class NotFound(ProblemError):
    status = 404
    slug = "not-found"
    title = "Resource not found"


class Conflict(ProblemError):
    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class PayloadTooLarge(ProblemError):
    status = 413
    slug = "payload-too-large"
    title = "Request body too large"


class UnsupportedMediaType(ProblemError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class ValidationFailed(ProblemError):
    status = 422
    slug = "validation-error"
    title = "Invalid request"


class TooManyRequests(ProblemError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class BadGateway(ProblemError):
    status = 502
    slug = "upstream-error"
    title = "Upstream service failed"


class ServiceUnavailable(ProblemError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"


def invalid(field: str, message: str) -> ValidationFailed:
    """A 422 about one field, for rules that schemas cannot express."""
    return ValidationFailed(f"{field}: {message}", errors=[FieldError(field, message)])


# A database constraint, by its name, becomes a field-level error. Each domain registers
# its constraints here (next to its SQL), so no handler needs to parse error strings.
_CONSTRAINTS: dict[str, tuple[type[ProblemError], str, str]] = {}


def register_constraint(
    constraint: str, error: type[ProblemError], field: str, message: str
) -> None:
    _CONSTRAINTS[constraint] = (error, field, message)


def constraint_error(constraint: str) -> ProblemError | None:
    found = _CONSTRAINTS.get(constraint)
    if found is None:
        return None
    error, field, message = found
    return error(f"{field}: {message}", errors=[FieldError(field, message)])
