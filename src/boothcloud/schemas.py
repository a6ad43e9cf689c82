"""Field types shared by every domain's request bodies and query parameters.

Every number and string a client sends reaches SQLite through one of these types, so the
bounds are stated once: integers within SQLite's signed 64-bit INTEGER range, text that
UTF-8 can encode (JSON's `\\ud800` escape carries a lone surrogate, which SQLite's driver
cannot encode), without control characters (NUL included), of bounded length. Each type
also states its rule in the OpenAPI document (`pattern`, `maxLength`, `minimum`), so a
schema-driven client knows in advance what the server refuses. A pattern is checked by
Python's `re` with the very string the document shows, so the two cannot drift.

Only `Name` is stripped of surrounding whitespace, after its length is checked: the
document's `maxLength` counts the string as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

# Request bodies reject unknown fields: a typo such as `licence_type` must not be ignored.
STRICT_BODY = ConfigDict(extra="forbid")

# The integers the API takes: those every backend stores exactly. SQLite's INTEGER is 64-bit,
# but D1 carries values as JavaScript numbers, exact only within 2**53 - 1
# (`Number.MAX_SAFE_INTEGER`); the D1 client refuses to round beyond (`db.d1.encode_param`),
# which a bound of 2**63 - 1 turned into a 500 on D1. A bound a double holds exactly also
# keeps JSON Schema tools that compare in floating point (schemathesis) consistent with us.
INTEGER_MIN = -(2**53 - 1)
INTEGER_MAX = 2**53 - 1


def not_a_boolean(value: object) -> object:
    """JSON `true` is not a number, though pydantic's lax int would read it as 1."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


"""An integer SQLite can store: its INTEGER is signed 64-bit."""


@dataclass(frozen=True, slots=True)
class Matches:
    """Refuse a string that `pattern` does not match in full, and document the pattern."""

    pattern: str
    message: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        regex = re.compile(self.pattern)

        def check(value: str) -> str:
            if not regex.fullmatch(value):
                raise ValueError(self.message)
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("must be valid Unicode (no lone surrogates)") from error
    return value


_CONTROL = r"\x00-\x1f\x7f"
# Whitespace spelled out, never `\s`: Python's and JSON Schema's (ECMA-262) `\s` differ
# (\x85, \ufeff), and clients generate from the document's pattern with the latter.
_SPACE_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)
_SPACE = "".join(f"\\u{ord(c):04x}" for c in _SPACE_CHARS)
_PLAIN = rf"[^{_CONTROL}]"
_VISIBLE = rf"[^{_SPACE}{_CONTROL}]"
Utf8 = AfterValidator(_encodable)
NoControl = Matches(rf"^{_PLAIN}*$", "must not contain control characters")
# Free text is `Annotated[str, StringConstraints(max_length=...), Utf8, NoControl]`: the
# length first, so its error reads as a string's, then what SQLite can store.

Name = Annotated[
    str,
    StringConstraints(max_length=200),
    Utf8,
    Matches(
        rf"^[{_SPACE}]*{_VISIBLE}(?:{_PLAIN}*{_VISIBLE})?[{_SPACE}]*$",
        "must not be blank or contain control characters",
    ),
    AfterValidator(str.strip),
]
Email = Annotated[
    str,
    StringConstraints(max_length=254),
    Utf8,
    Matches(
        rf"^[^@{_SPACE}{_CONTROL}]{{1,64}}@[^@.{_SPACE}{_CONTROL}]+(?:\.[^@.{_SPACE}{_CONTROL}]+)+$",
        "not a valid email address",
    ),
]
Phone = Annotated[str, Matches(r"^\+?[0-9][0-9 \-]{4,30}$", "not a valid phone number")]
Fingerprint = Annotated[str, StringConstraints(min_length=8, max_length=256), Utf8, NoControl]
Ref = Annotated[
    str,
    Matches(r"^[A-Za-z0-9_\-]{1,64}$", "not an id: 1-64 letters, digits, `_` or `-`"),
]
"""An id the client names (customer_id, printer_id): the alphabet of the server's ids."""
Cursor = Annotated[str, Matches(r"^[A-Za-z0-9_\-]{1,512}$", "not a cursor this API issued")]

_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_text(value: object) -> object:
    """Only ISO 8601 text: pydantic's lax mode would read `12345`, `"12345"` or `1e-05` as a
    Unix time (a `datetime` given by Python code passes)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.match(value):
        raise ValueError("must be an ISO 8601 date-time such as 2026-11-25T10:00:00Z")
    return value


def _in_utc_range(value: datetime) -> datetime:
    """Stored as UTC text: `9999-12-31T23:00:00-05:00` has no UTC year to store."""
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("is out of range once converted to UTC") from error


InputDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    AfterValidator(_in_utc_range),
    Field(description="ISO 8601 with a UTC offset."),
]
