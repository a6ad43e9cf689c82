"""The booth's heartbeat through the client, against the live server: the device stays
ALIVE, a stopped printer reaches the operator's list, the certificate is refreshed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from boothcloud_client import AsyncClient, Client, Marker, PrinterState

from boothcloud.licenses.certificates import verify_certificate
from tests.clients.conftest import Booth
from tests.conftest import ADMIN

pytestmark = pytest.mark.s3


def test_a_heartbeat_reports_printers_and_refreshes_the_certificate(booth: Booth) -> None:
    with Client(booth.url, booth.license_key) as client:
        activation = client.activate("booth-pc-beat")
        assert activation.certificate is not None
        printer = client.create_printer("DNP")
        stopped = PrinterState(
            "DNP_DS620",
            "stopped",
            printer_id=printer.id,
            reason="media-empty-error",
            markers=(Marker("Ribbon", 4, "ribbon"),),
        )
        # The certificate just issued is far from expiry: none comes back.
        kept = client.heartbeat(
            activation.id,
            agent_version="0.1.0",
            free_disk_bytes=5_000_000_000,
            queue_depth=1,
            printers=[stopped],
            certificate_expires_at=activation.certificate.expires_at,
        )
        assert kept.certificate is None
        assert kept.activation.status == "ALIVE"
        assert (kept.activation.agent_version, kept.activation.queue_depth) == ("0.1.0", 1)

        soon = datetime.now(UTC) + timedelta(hours=1)
        fresh = client.heartbeat(activation.id, agent_version="0.1.0", certificate_expires_at=soon)
        assert fresh.certificate is not None
        assert fresh.certificate.expires_at > soon
        claims = verify_certificate(fresh.certificate.token, client.public_key())
        assert claims["sub"] == activation.id

    listed = httpx.get(f"{booth.url}/api/licenses/stopped-printers", headers=ADMIN).json()
    mine = [item for item in listed["items"] if item["customer_id"] == booth.customer_id]
    assert mine == []  # the second heartbeat reported no printers: the report was replaced


async def test_the_operator_sees_the_stopped_printer(booth: Booth) -> None:
    async with AsyncClient(booth.url, booth.license_key) as client:
        activation = await client.activate("booth-pc-stopped")
        await client.heartbeat(
            activation.id,
            agent_version="0.1.0",
            printers=[PrinterState("Canon", "stopped", reason="paused")],
        )
    params = {"customer_id": booth.customer_id}
    async with httpx.AsyncClient(base_url=booth.url, headers=ADMIN) as operator:
        listed = (await operator.get("/api/licenses/stopped-printers", params=params)).json()
    assert [(p["name"], p["reason"]) for p in listed["items"]] == [("Canon", "paused")]
