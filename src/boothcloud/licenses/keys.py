"""License keys: `PB-` and six groups of five base32 characters (150 random bits).

Grouped base32 reads aloud and types without ambiguity (no 0/O, 1/l confusion in
base32's alphabet), and keys are case-insensitive: a booth owner typing lowercase works.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets

PREFIX = "PB"
GROUPS = 6
GROUP_LENGTH = 5
KEY_PATTERN = re.compile(rf"^{PREFIX}(-[A-Z2-7]{{{GROUP_LENGTH}}}){{{GROUPS}}}$")


def generate_license_key() -> str:
    chars = base64.b32encode(secrets.token_bytes(20)).decode()[: GROUPS * GROUP_LENGTH]
    groups = [chars[i : i + GROUP_LENGTH] for i in range(0, len(chars), GROUP_LENGTH)]
    return "-".join([PREFIX, *groups])


def normalize_license_key(raw: str) -> str:
    return raw.strip().upper()


def secrets_equal(given: str, expected: str) -> bool:
    """Constant-time comparison: a wrong guess takes as long whatever prefix it shares."""
    return hmac.compare_digest(given.encode(), expected.encode())
