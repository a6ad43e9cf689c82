"""Field types shared by every domain's request and response models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, StringConstraints

# Request bodies reject unknown fields: a typo such as `licence_type` must not be ignored.
STRICT_BODY = ConfigDict(extra="forbid", str_strip_whitespace=True)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, AfterValidator(_no_control_characters)]
Name = Annotated[Text, StringConstraints(min_length=1, max_length=200)]
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def _email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[Text, AfterValidator(_email)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{4,30}$")]
Fingerprint = Annotated[Text, StringConstraints(min_length=8, max_length=256)]
InputDatetime = Annotated[AwareDatetime, Field(description="ISO 8601 with a UTC offset.")]
