"""Timestamps in answers: every stored form becomes one API form, `...Z`, in whole seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from boothcloud.timeutil import Timestamp, to_api, to_db


class Stamped(BaseModel):
    at: Timestamp
    maybe: Timestamp | None = None


@pytest.mark.parametrize(
    ("stored", "api"),
    [
        ("2026-11-25 10:00:00", "2026-11-25T10:00:00Z"),  # D1's datetime('now')
        ("2026-11-25T10:00:00", "2026-11-25T10:00:00Z"),
        ("2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z"),
        ("2026-11-25T17:00:00+07:00", "2026-11-25T10:00:00Z"),
        ("2026-11-25 17:00+07", "2026-11-25T10:00:00Z"),  # as long as D1's text, with a zone
        ("2026-11-25 10:00:00.123456", "2026-11-25T10:00:00Z"),
        (datetime(2026, 11, 25, 10, 0, 0, 999), "2026-11-25T10:00:00Z"),  # naive is UTC
        (
            datetime(2026, 11, 25, 3, 0, tzinfo=timezone(timedelta(hours=-7))),
            "2026-11-25T10:00:00Z",
        ),
    ],
)
def test_every_stored_form_answers_in_utc_with_z(stored: object, api: str) -> None:
    stamped = Stamped.model_validate({"at": stored})
    assert stamped.model_dump(mode="json")["at"] == api
    assert stamped.model_dump_json() == f'{{"at":"{api}","maybe":null}}'
    assert stamped.at.utcoffset() == timedelta(0)


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_the_api_form_is_to_api_of_the_stored_text(moment: datetime) -> None:
    """The serializer pydantic-core writes and `to_api` (CLI listings) never disagree."""
    stored = to_db(moment.replace(tzinfo=UTC))
    answered = Stamped.model_validate({"at": stored}).model_dump(mode="json")["at"]
    assert answered == to_api(moment)


def test_unreadable_text_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        Stamped.model_validate({"at": "not a time at all!!"})  # 19 characters, like D1's


def test_response_schemas_declare_date_time() -> None:
    schema = Stamped.model_json_schema(mode="serialization")
    assert schema["properties"]["at"] == {"format": "date-time", "title": "At", "type": "string"}
