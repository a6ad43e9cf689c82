"""What `Client` and `AsyncClient` share: building requests, reading answers, retrying.

Every operation is a `Call`: the request, how to read its answer, and whether it is safe to
send again after it may have reached the server. The two clients differ only in how they
send a request and how they sleep, so the rules below exist once.

Retries: a connection that never opened is retried for every call; a 429 or 503 (the
server did no work) likewise, waiting at least `Retry-After`; a 502/504 or a connection lost
mid-request only for calls that are safe to replay, which is every call carrying a
client-chosen id or an idempotency key (photos, payments), every read, and every call whose
repetition changes nothing (activation of the same fingerprint, heartbeat, uploads to the
same presigned URL). Claiming a print job and opening a session are not: sent twice, they
take two jobs or open two sessions, so those are retried only when the first attempt
certainly never arrived. Delays grow exponentially with full jitter (AWS's "exponential
backoff and jitter"), so booths that lost the venue Wi-Fi together do not return together.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from boothcloud_client.errors import BoothcloudError, IncompatibleServer

T = TypeVar("T")

__version__ = "0.1.0"
API_VERSION_HEADER = "Boothcloud-Api-Version"
SUPPORTED_API_VERSIONS = frozenset({1})
USER_AGENT = f"boothcloud-client/{__version__} (python; httpx)"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One operation. `path` is the API path, or a whole URL when `external` (a presigned
    URL: no Authorization header and no version check, it may not be boothcloud at all)."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    json: Any = None
    params: Mapping[str, str | int] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    authenticated: bool = True
    replay_safe: bool = True
    external: bool = False
    extra_timeout: float = 0.0  # a long-poll's wait on top of the read timeout
    ok: tuple[int, ...] = (200, 201)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` in all (1: never retry); delays of up to `base_delay * 2**n`, capped."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, call: Call[Any], failure: BoothcloudError, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None: raise `failure` now."""
        if attempt >= self.attempts or not failure.transient:
            return None
        never_arrived = failure.status in (429, 503) or (
            failure.status is None and not failure.request_sent
        )
        if not (never_arrived or call.replay_safe):
            return None
        backoff = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))  # noqa: S311
        if failure.retry_after is not None:
            backoff = max(backoff, failure.retry_after)
        return min(backoff, self.max_delay)


class Core:
    """Connection settings and the request/answer rules both clients apply."""

    def __init__(
        self,
        base_url: str,
        license_key: str | None,
        *,
        retry: RetryPolicy | None,
        timeout: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.license_key = license_key
        self.retry = retry or RetryPolicy()
        self.timeout = timeout

    def request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        headers = dict(call.headers)
        if call.authenticated and not call.external:
            if self.license_key is None:
                raise BoothcloudError(
                    type="https://boothcloud.dev/problems/client/no-credentials",
                    title="No license key",
                    status=None,
                    detail=f"{call.method} {call.path} needs the booth's license key",
                )
            headers["Authorization"] = f"License {self.license_key}"
        timeout = httpx.Timeout(self.timeout, read=self.timeout + call.extra_timeout)
        return http.build_request(
            call.method,
            call.path if call.external else self.base_url + call.path,
            json=call.json,
            params=call.params,
            headers=headers,
            content=call.content,
            timeout=timeout,
        )

    def finish(self, call: Call[T], response: httpx.Response) -> T:
        """The call's result, or the `BoothcloudError` its answer means."""
        if not call.external:
            check_api_version(response)
        if response.status_code not in call.ok:
            raise BoothcloudError.from_response(response)
        try:
            return call.read(response)
        except (ValueError, KeyError, TypeError) as error:
            raise BoothcloudError(
                type="https://boothcloud.dev/problems/client/unreadable-answer",
                title="Unreadable answer",
                status=response.status_code,
                detail=f"{call.method} {call.path}: {type(error).__name__}: {error}",
            ) from error


def check_api_version(response: httpx.Response) -> None:
    """Raise `IncompatibleServer` unless the answer states an API version this client speaks.

    A gateway's 429/5xx may come without the header (the server never saw the request):
    those are left to the retry rules. Any other answer without it is not from a boothcloud
    that states its version, i.e. not one this client can trust to mean what it expects.
    """
    stated = response.headers.get(API_VERSION_HEADER)
    if stated is None:
        if response.status_code == 429 or response.status_code >= 500:
            return
        raise IncompatibleServer(
            f"{response.url.host}:{response.url.port} answered without {API_VERSION_HEADER}: "
            "not a boothcloud server, or one older than API version 1"
        )
    try:
        version = int(stated)
    except ValueError:
        version = -1
    if version not in SUPPORTED_API_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_API_VERSIONS))
        raise IncompatibleServer(
            f"the server speaks API version {stated}; boothcloud-client {__version__} "
            f"speaks {supported}: upgrade the client (pip install -U boothcloud-client)"
            if version > max(SUPPORTED_API_VERSIONS)
            else f"the server speaks API version {stated}; boothcloud-client {__version__} "
            f"speaks {supported}: the server must be upgraded"
        )


def unreachable(error: httpx.TransportError) -> BoothcloudError:
    failure = BoothcloudError.unreachable(error)
    failure.request_sent = not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
    return failure
