"""boothcloud-client: what a booth PC needs to talk to a boothcloud server.

`Client` (blocking) and `AsyncClient` (asyncio) cover the booth's routes; every failure is
a `BoothcloudError` carrying the server's problem+json fields. See README.md.
"""

from boothcloud_client.client import AsyncClient, Client
from boothcloud_client.core import SUPPORTED_API_VERSIONS, Call, RetryPolicy, __version__
from boothcloud_client.errors import BoothcloudError, FieldProblem, IncompatibleServer
from boothcloud_client.models import (
    Activation,
    ActivationList,
    Certificate,
    Heartbeat,
    Marker,
    Page,
    Payment,
    Photo,
    Printer,
    PrinterState,
    ServerVersion,
    Session,
    ValidationResult,
)

__all__ = [
    "SUPPORTED_API_VERSIONS",
    "Activation",
    "ActivationList",
    "AsyncClient",
    "BoothcloudError",
    "Call",
    "Certificate",
    "Client",
    "FieldProblem",
    "Heartbeat",
    "IncompatibleServer",
    "Marker",
    "Page",
    "Payment",
    "Photo",
    "Printer",
    "PrinterState",
    "RetryPolicy",
    "ServerVersion",
    "Session",
    "ValidationResult",
    "__version__",
]
