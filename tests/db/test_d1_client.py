"""The D1 client's own rules that need no bridge: value encoding, settings, a dead bridge."""

from __future__ import annotations

import math
import socket
from typing import Any

import pytest
from pydantic import SecretStr

from boothcloud.db import open_database
from boothcloud.db.d1 import D1Database, D1Error, decode_value, encode_param
from boothcloud.settings import Settings


def test_parameters_encode_as_the_bridge_expects() -> None:
    assert encode_param(None) is None
    assert encode_param("x") == "x"
    assert encode_param(True) == 1
    assert encode_param(2**53 - 1) == 2**53 - 1
    assert encode_param(-1.5) == -1.5
    assert encode_param(b"\x00\xff") == {"$blob": "AP8="}
    assert decode_value({"$blob": "AP8="}) == b"\x00\xff"
    assert decode_value(3) == 3
    assert encode_param(-math.inf) == {"$float": "-inf"}
    assert decode_value({"$float": "inf"}) == math.inf


@pytest.mark.parametrize("value", [2**53, -(2**63), math.nan])
def test_values_d1_cannot_carry_exactly_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="D1"):
        encode_param(value)


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(TypeError, match="not supported"):
        encode_param(object())


async def test_an_unreachable_bridge_is_a_d1_error() -> None:
    with socket.socket() as sock:  # a real loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db = D1Database(f"http://127.0.0.1:{port}/", "s3cret")
    with pytest.raises(D1Error, match="unreachable"):
        await db.executescript("SELECT 1;")
    await db.close()


def test_settings_select_the_d1_backend() -> None:
    settings = Settings(
        database_backend="d1", d1_url="http://127.0.0.1:8787", d1_token=SecretStr("t")
    )
    db = open_database(settings)
    assert isinstance(db, D1Database)
    assert db.url == "http://127.0.0.1:8787"
    with pytest.raises(ValueError, match="BOOTHCLOUD_D1_URL"):
        open_database(Settings(database_backend="d1"))
