"""Server ids sort in creation order, even within one millisecond or if the clock steps back;
content digests hash pinned bytes."""

from __future__ import annotations

import re
import time
from hashlib import sha256

import pytest

from boothcloud import ids


def test_ulids_are_prefixed_unique_and_monotonic() -> None:
    made = [ids.new_id("cus") for _ in range(20_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"cus_[0-9a-hjkmnp-tv-z]{26}", value) for value in made[:100])


def test_uuid7s_are_valid_unique_and_monotonic() -> None:
    made = [ids.uuid7() for _ in range(20_000)]
    assert [str(u) for u in made] == sorted(str(u) for u in made)
    assert len(set(made)) == len(made)
    assert {(u.version, u.variant) for u in made} == {(7, "specified in RFC 4122")}
    millis = made[0].int >> 80
    assert abs(millis - time.time_ns() // 1_000_000) < 60_000


def test_order_survives_a_clock_stepping_back(monkeypatch: pytest.MonkeyPatch) -> None:
    before = [ids.new_id("pay"), str(ids.uuid7())]
    real = time.time_ns
    monkeypatch.setattr(ids.time, "time_ns", lambda: real() - 3_600 * 10**9)
    after = [ids.new_id("pay"), str(ids.uuid7())]
    assert after[0] > before[0]
    assert after[1] > before[1]


def test_digest_is_sha256_of_json_with_sorted_keys() -> None:
    """Payments, photos, refunds and split rules store `digest`s and compare later requests
    with them, so the bytes hashed are pinned: compact JSON, keys sorted, UTF-8 as is (a
    photo's request hash is a list, hashed as before it moved here)."""
    assert (
        ids.digest({"b": 1, "a": "Foto ✓", "c": None})
        == sha256('{"a":"Foto ✓","b":1,"c":null}'.encode()).hexdigest()
    )
    assert ids.digest({"b": 1, "a": 2}) == ids.digest({"a": 2, "b": 1})
    assert (
        ids.digest(["cus_1", "photos/k.jpg", None])
        == sha256(b'["cus_1","photos/k.jpg",null]').hexdigest()
    )
