"""Request and response bodies for photos."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from boothcloud.pagination import SCOPE_HELP, PageQuery
from boothcloud.schemas import STRICT_BODY, InputDatetime, Matches, Ref, Utf8
from boothcloud.storage.keys import MAX_KEY_BYTES, InvalidKey, check_key
from boothcloud.timeutil import Timestamp

PrintStatus = Literal["pending", "printing", "completed", "failed"]
PRINT_STATUSES: tuple[PrintStatus, ...] = ("pending", "printing", "completed", "failed")


def _valid_key(value: str) -> str:
    try:
        return check_key(value)
    except InvalidKey as error:
        raise ValueError(str(error)) from error


# The document's pattern says what check_key refuses that JSON Schema can say: segments
# separated by single `/`, none empty, `.` or `..`, no `\\` or control character.
_SEGMENT = r"(?!\.\.?(?:/|$))[^/\\\x00-\x1f\x7f]+"
ObjectKey = Annotated[
    str,
    Field(
        max_length=MAX_KEY_BYTES,
        description="Relative object key under `photos/<customer_id>/`; no `..`, no leading "
        "`/`, at most 1024 bytes (UTF-8).",
    ),
    Utf8,
    Matches(rf"^{_SEGMENT}(?:/{_SEGMENT})*$", "not a relative key of `/`-separated segments"),
    AfterValidator(_valid_key),
]


class PhotoCreate(BaseModel):
    model_config = STRICT_BODY

    id: UUID | None = Field(
        default=None,
        description="The booth's own UUID for this photo: a retried request with the same "
        "id and body answers 200 with the same photo instead of logging it twice.",
    )
    r2_key: ObjectKey | None = Field(
        default=None,
        description="Where the booth stored the photo; omit it and the server chooses "
        "`photos/<customer_id>/<yyyy>/<mm>/<dd>/<id>.jpg` and answers with `upload_url`.",
    )
    printer_id: Ref | None = Field(
        default=None, description="Print on this printer; null: any printer may claim it."
    )
    customer_id: Ref | None = Field(
        default=None,
        description="Required for the operator: whose photo this is; a booth logs its own "
        "(its own id, or omitted).",
    )
    session_id: Ref | None = Field(
        default=None, description="The guest session it belongs to (its gallery)."
    )


class PhotoPatch(BaseModel):
    """`print_status` moves only pending->printing->completed|failed and failed->pending;
    any other change is 409. `printer_id: null` returns the photo to the shared queue."""

    model_config = STRICT_BODY

    print_status: PrintStatus | None = None
    printer_id: Ref | None = None


class Photo(BaseModel):
    id: str
    customer_id: str
    r2_key: str
    print_status: str = Field(description="pending, printing, completed or failed.")
    printer_id: str | None
    session_id: str | None = Field(default=None, description="The guest session, if any.")
    created_at: Timestamp
    updated_at: Timestamp
    claimed_at: Timestamp | None = Field(
        default=None, description="When the photo last went to `printing`."
    )
    uploaded_at: Timestamp | None = Field(
        default=None,
        description="When its object was confirmed (a signed PUT to the local store, or "
        "`POST /api/photos/{id}/uploaded`); only uploaded photos are claimed or printed.",
    )
    object_size: int | None = Field(default=None, description="Bytes of the uploaded object.")
    content_type: str | None = Field(
        default=None, description="Content-Type of the uploaded object."
    )
    purged_at: Timestamp | None = Field(
        default=None, description="When the gallery's retention deleted its objects."
    )
    upload_url: str | None = Field(
        default=None,
        description="Presigned PUT for the photo's bytes, when the server chose the key.",
    )
    download_url: str | None = Field(
        default=None, description="Presigned GET (single-photo reads and claims)."
    )


class PhotoPage(BaseModel):
    items: list[Photo]
    next_cursor: str | None


class PhotoFilters(BaseModel):
    print_status: PrintStatus | None = None
    printer_id: Ref | None = None
    uploaded: bool | None = Field(
        default=None, description="true: only uploaded photos; false: only those waiting."
    )
    created_from: InputDatetime | None = None
    created_to: InputDatetime | None = None


class PhotoListQuery(PhotoFilters, PageQuery):
    """Every query parameter of `GET /api/photos` (see `PageQuery`)."""

    customer_id: Ref | None = Field(default=None, description=SCOPE_HELP)
