"""The client library against a live server (SQLite + SeaweedFS): every booth route, sync
and async, problem+json errors, and the retry rules that make a retry safe."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from boothcloud_client import (
    AsyncClient,
    BoothcloudError,
    Client,
    PrinterState,
    RetryPolicy,
)

from tests.clients.conftest import Booth, new_booth
from tests.live import Served, free_port

pytestmark = pytest.mark.s3
# Enough bytes of a JPEG for the server's checks (size, type), and distinct per call.
JPEG = b"\xff\xd8\xff\xe0 client test photo \xff\xd9"


def test_a_capture_is_logged_uploaded_claimed_and_printed(booth: Booth) -> None:
    with Client(booth.url, booth.license_key) as client:
        assert client.version().api_version == 1
        activation = client.activate("booth-pc-0001", name="Front desk")
        assert activation.certificate is not None
        assert activation.certificate.expires_at < activation.certificate.grace_until
        checked = client.validate(booth.license_key, "booth-pc-0001")
        assert (checked.valid, checked.activation_id) == (True, activation.id)
        printer = client.create_printer("DNP DS620", "dye-sublimation", "usb")
        assert [p.id for p in client.printers().items] == [printer.id]

        photo_id = uuid.uuid4()
        photo = client.log_photo(JPEG, photo_id, printer_id=printer.id)
        assert (photo.id, photo.object_size) == (str(photo_id), len(JPEG))
        assert photo.uploaded_at is not None
        # The same capture again (a booth that lost the first answer) is the same photo.
        again = client.log_photo(JPEG, photo_id, printer_id=printer.id)
        assert (again.id, again.created_at) == (photo.id, photo.created_at)
        assert len(client.list_photos().items) == 1

        claimed = client.claim(printer.id)
        assert claimed is not None
        assert claimed.id == photo.id
        assert claimed.print_status == "printing"
        assert claimed.download_url
        assert client.download(claimed.download_url) == JPEG
        assert client.claim(printer.id) is None  # nothing else waits

        done = client.set_print_status(photo.id, "completed")
        assert done.print_status == "completed"
        # A report repeated after its answer was lost: the photo, not a 409.
        assert client.set_print_status(photo.id, "completed").print_status == "completed"
        with pytest.raises(BoothcloudError) as refused:
            client.set_print_status(photo.id, "printing")
        assert (refused.value.status, refused.value.code) == (409, "INVALID_TRANSITION")


async def test_the_async_client_covers_the_same_flow_with_sessions(booth: Booth) -> None:
    async with AsyncClient(booth.url, booth.license_key) as client:
        activation = await client.activate("booth-pc-async")
        session = await client.open_session(activation.id)
        assert session.status == "open"
        assert session.share_url.endswith(session.share_code)
        photo = await client.log_photo(JPEG, session_id=session.id)
        assert photo.session_id == session.id
        assert photo.uploaded_at is not None
        fetched = await client.get_photo(photo.id)
        assert fetched.download_url is not None
        assert await client.download(fetched.download_url) == JPEG
        closed = await client.close_session(session.id)
        assert closed.status == "closed"
        assert (await client.close_session(session.id)).status == "closed"  # idempotent
        assert (await client.get_session(session.id)).closed_at == closed.closed_at
        listed = await client.activations()
        assert [a.id for a in listed.items] == [activation.id]


def test_errors_carry_the_problem_fields(booth: Booth) -> None:
    with Client(booth.url, booth.license_key) as client:
        with pytest.raises(BoothcloudError) as unknown:
            client.get_photo("0190aaaa-0000-7000-8000-000000000000")
        error = unknown.value
        assert (error.status, error.title) == (404, "Resource not found")
        assert error.type == "https://boothcloud.dev/problems/not-found"
        assert "not found" in error.detail
        assert not error.transient
        with pytest.raises(BoothcloudError) as invalid:
            client.create_printer("P", "toaster", "usb")
        assert invalid.value.status == 422
        assert [problem.field for problem in invalid.value.errors] == ["type"]
    with Client(booth.url, "PB-WRONG") as stranger, pytest.raises(BoothcloudError) as denied:
        stranger.printers()
    assert denied.value.status == 401


def test_an_error_names_its_line_in_the_servers_request_log(server: Served) -> None:
    """`request_id` is the answer's `Request-Id`: the server logged exactly that call under
    it (a 404 for that path), and the error's message ends with it."""
    booth = new_booth(server.url)
    missing = str(uuid.uuid4())
    with Client(booth.url, booth.license_key) as client, pytest.raises(BoothcloudError) as no:
        client.get_photo(missing)
    request_id = no.value.request_id
    assert request_id is not None
    assert re.fullmatch(r"req_[0-9a-f]{16}", request_id)
    assert str(no.value).endswith(f"(Request-Id {request_id})")
    deadline = time.monotonic() + 10  # request lines are written in batches (0.2 s)
    lines: list[str] = []
    while not lines and time.monotonic() < deadline:
        text = server.log.read_text(errors="replace")
        lines = [line for line in text.splitlines() if f"request_id={request_id}" in line]
        time.sleep(0.1)
    assert len(lines) == 1
    assert f"path=/api/photos/{missing}" in lines[0]
    assert "status=404" in lines[0]


def test_another_booths_photo_answers_like_an_unknown_one(server: Served) -> None:
    owner, other = new_booth(server.url), new_booth(server.url)
    with (
        Client(owner.url, owner.license_key) as mine,
        Client(other.url, other.license_key) as theirs,
    ):
        photo = mine.create_photo()
        with pytest.raises(BoothcloudError) as hidden:
            theirs.get_photo(photo.id)
        with pytest.raises(BoothcloudError) as missing:
            theirs.get_photo(str(uuid.uuid4()))
    assert hidden.value.status == missing.value.status == 404
    assert hidden.value.title == missing.value.title


def test_a_payment_key_makes_its_retry_the_same_payment(booth: Booth) -> None:
    """No Xendit is configured here: the server answers a problem, the same one each time
    (the key replays it), and it carries the problem+json fields."""
    with Client(booth.url, booth.license_key, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(BoothcloudError) as first:
            client.create_payment(25_000, idempotency_key="pay-attempt-1")
        with pytest.raises(BoothcloudError) as second:
            client.create_payment(25_000, idempotency_key="pay-attempt-1")
    assert first.value.status == second.value.status
    assert first.value.detail == second.value.detail


def test_heartbeat_printer_states_serialize_for_the_route() -> None:
    state = PrinterState("DNP", "stopped", reason="media-empty-error")
    assert state.to_json()["state"] == "stopped"
    assert state.to_json()["markers"] == []


def test_429_waits_for_retry_after_then_succeeds(server: Served) -> None:
    """Validation is rate limited per client (60 a minute by default): past the limit the
    server answers 429 with `Retry-After`; a client without retries sees it, one with
    retries waits it out and gets the answer."""
    with Client(server.url, retry=RetryPolicy(attempts=1)) as impatient:
        for _ in range(200):
            try:
                impatient.validate("PB-NOPE")
            except BoothcloudError as error:
                limited = error
                break
        else:
            pytest.fail("the validation limit never answered 429")
    assert limited.status == 429
    assert limited.transient
    assert limited.retry_after is not None
    assert limited.retry_after >= 1
    with Client(server.url, retry=RetryPolicy(attempts=5, max_delay=5)) as patient:
        assert patient.validate("PB-NOPE").code == "NOT_FOUND"


def test_connection_refused_is_retried_then_raised_as_unsent() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    retry = RetryPolicy(attempts=3, base_delay=0.01)
    with Client(url, "PB-X", retry=retry) as client, pytest.raises(BoothcloudError) as down:
        client.claim("prn_x")  # not replay-safe, yet an unsent request is retried
    assert down.value.status is None
    assert down.value.transient
    assert down.value.request_sent is False
    assert isinstance(down.value.__cause__, httpx.ConnectError)


def test_a_booth_call_without_a_license_key_fails_at_once_and_for_good(server: Served) -> None:
    with Client(server.url) as anonymous, pytest.raises(BoothcloudError) as refused:
        anonymous.printers()
    assert refused.value.type.endswith("/no-credentials")
    assert not refused.value.transient
