"""Request and response bodies for printers.

Accepted values are closed sets, so a booth's typo (`USB`, `wi-fi`) is a 422 rather than a
printer the booth software cannot drive later.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from boothcloud.schemas import STRICT_BODY, Name, Ref
from boothcloud.timeutil import Timestamp

PrinterType = Literal["dye-sublimation", "inkjet", "laser", "thermal", "other"]
ConnectionType = Literal["usb", "network", "wifi", "bluetooth"]
PRINTER_TYPES: tuple[PrinterType, ...] = ("dye-sublimation", "inkjet", "laser", "thermal", "other")
CONNECTION_TYPES: tuple[ConnectionType, ...] = ("usb", "network", "wifi", "bluetooth")


class PrinterCreate(BaseModel):
    model_config = STRICT_BODY

    name: Name
    type: PrinterType
    connection_type: ConnectionType
    is_default: bool | None = Field(
        default=None,
        description="true: becomes the default (the previous one is unset). "
        "A customer's first printer is the default whatever this says.",
    )
    customer_id: Ref | None = Field(
        default=None,
        description="Required for the operator: whose printer this is; a booth "
        "registers its own (its own id, or omitted).",
    )


class PrinterPatch(BaseModel):
    """Only the fields sent change. `is_default: false` on the default printer is a 409:
    make another printer the default instead."""

    model_config = STRICT_BODY

    name: Name | None = None
    type: PrinterType | None = None
    connection_type: ConnectionType | None = None
    is_default: bool | None = None


class Printer(BaseModel):
    id: str
    customer_id: str
    name: str
    type: str = Field(description="One of " + ", ".join(PRINTER_TYPES) + ".")
    connection_type: str = Field(description="One of " + ", ".join(CONNECTION_TYPES) + ".")
    is_default: bool
    created_at: Timestamp


class PrinterPage(BaseModel):
    items: list[Printer]
    next_cursor: str | None
