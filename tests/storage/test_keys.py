"""Key validation, property-based: whatever a client sends, an accepted key stays inside
the object folder, and an accepted photo key stays inside its customer's prefix."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boothcloud.photos.service import customer_prefix
from boothcloud.storage.keys import MAX_KEY_BYTES, InvalidKey, check_key
from boothcloud.storage.local import LocalStore

segment = st.one_of(
    st.sampled_from(["", ".", "..", "...", "a", "b.jpg", "..a", "a..", "~", "%2e%2e", "C:"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)
keys = st.lists(segment, min_size=1, max_size=8).map("/".join) | st.text(max_size=40)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    return LocalStore(tmp_path_factory.mktemp("objects"), "http://testserver", "secret")


@settings(max_examples=400, deadline=None)
@given(key=keys)
def test_accepted_keys_never_escape_the_folder(store: LocalStore, key: str) -> None:
    try:
        check_key(key)
    except InvalidKey:
        return
    parts = key.split("/")
    assert ".." not in parts
    assert "." not in parts
    assert "" not in parts
    assert not key.startswith("/")
    assert "\\" not in key
    assert len(key.encode()) <= MAX_KEY_BYTES
    path = store.path_for(key)
    assert path.is_relative_to(store.root)
    assert path != store.root


@settings(max_examples=400, deadline=None)
@given(rest=keys)
def test_accepted_photo_keys_stay_under_the_customer_prefix(store: LocalStore, rest: str) -> None:
    prefix = customer_prefix("cus_one")
    key = prefix + rest
    try:
        check_key(key)
    except InvalidKey:
        return
    own = (store.root / "photos" / "cus_one").resolve()
    assert store.path_for(key).is_relative_to(own)
    assert not store.path_for(key).is_relative_to(store.root / "photos" / "cus_two")


@given(key=st.lists(st.sampled_from(["a", "b", ".."]), min_size=1, max_size=6).map("/".join))
def test_any_dotdot_segment_is_refused(key: str) -> None:
    if ".." in key.split("/"):
        with pytest.raises(InvalidKey):
            check_key(key)


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "a//b", "a/./b", "a/../b", "..", "a\\b", "a/\x00", "x" * 1025, "é" * 513],
)
def test_bad_keys(key: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)
    with pytest.raises(InvalidKey):
        LocalStore(tmp_path, "http://testserver", "s").presign_put(key, 60)
