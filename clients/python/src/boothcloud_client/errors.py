"""The one exception the client raises: an RFC 9457 problem, from the server or about it.

A booth's code needs one `except` clause and one question, "try again later or give up?",
which `transient` answers: a network failure, 429 or a 502/503/504 that outlived the
client's retries is worth queueing again; any other 4xx will fail the same way next time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

CLIENT_PROBLEMS = "https://boothcloud.dev/problems/client/"
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str


class BoothcloudError(Exception):
    """A problem+json answer, or a problem the client found (network, version, format).

    `status` is None when no HTTP answer came back (`type` then names the client's problem).
    `request_id` is the server's `Request-Id` for the answer (as Stripe's clients keep it):
    the one line of the server's request log that concerns this call, for a support
    ticket; it is part of the message, so a booth's own log carries it too.
    """

    def __init__(
        self,
        *,
        type: str,
        title: str,
        status: int | None,
        detail: str,
        instance: str | None = None,
        errors: tuple[FieldProblem, ...] = (),
        code: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        message = f"{status or 'no answer'} {title}: {detail}"
        super().__init__(f"{message} (Request-Id {request_id})" if request_id else message)
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.instance = instance
        self.errors = errors
        self.code = code
        self.retry_after = retry_after
        self.request_id = request_id
        # False only when the request certainly never reached the server (no connection).
        self.request_sent = True

    @property
    def transient(self) -> bool:
        """True when the same request may succeed later (queue it; do not drop it)."""
        if self.status is None:
            return self.type == CLIENT_PROBLEMS + "unreachable"
        return self.status in TRANSIENT_STATUSES

    @classmethod
    def from_response(cls, response: httpx.Response) -> BoothcloudError:
        """Read a problem+json body; any other body (a proxy's HTML page) still gives one."""
        body: Mapping[str, Any] = {}
        try:
            parsed = response.json()
            if isinstance(parsed, Mapping):
                body = parsed
        except ValueError:
            pass
        errors = tuple(
            FieldProblem(str(item.get("field", "")), str(item.get("message", "")))
            for item in body.get("errors") or ()
            if isinstance(item, Mapping)
        )
        return cls(
            type=str(body.get("type") or "about:blank"),
            title=str(body.get("title") or response.reason_phrase or "HTTP error"),
            status=response.status_code,
            detail=str(body.get("detail") or response.text[:500]),
            instance=str(body["instance"]) if body.get("instance") else None,
            errors=errors,
            code=str(body["code"]) if body.get("code") else None,
            retry_after=retry_after(response),
            request_id=response.headers.get("request-id"),
        )

    @classmethod
    def unreachable(cls, error: httpx.TransportError) -> BoothcloudError:
        return cls(
            type=CLIENT_PROBLEMS + "unreachable",
            title="Server unreachable",
            status=None,
            detail=f"{type(error).__name__}: {error}",
        )


class IncompatibleServer(BoothcloudError):
    """The server speaks an API version this client does not (upgrade one of them)."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            type=CLIENT_PROBLEMS + "incompatible-server",
            title="Incompatible server API version",
            status=None,
            detail=detail,
        )


def retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds (delta-seconds form; boothcloud never sends a date)."""
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
