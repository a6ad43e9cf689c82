"""Object key rules shared by every backend: relative, no `..`, at most 1024 bytes."""

from __future__ import annotations

import re

MAX_KEY_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # one search, not a Python test per character


class InvalidKey(ValueError):
    """The key could escape its prefix or the local folder."""


def check_key(key: str) -> str:
    if not key or len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidKey("key must be 1-1024 bytes")
    if key.startswith("/") or "\\" in key:
        raise InvalidKey("key must be relative and use `/`")
    parts = key.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise InvalidKey("key must not contain empty, `.` or `..` segments")
    if _CONTROL.search(key):
        raise InvalidKey("key must not contain control characters")
    return key
