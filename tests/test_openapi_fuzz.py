"""Schema-driven fuzzing of every documented route with schemathesis, over real HTTP.

For each operation in /openapi.json, schemathesis generates valid and invalid requests
(as the operator and as a booth) and checks: no 5xx, every status code and content type
is documented, and every response body matches its documented schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from boothcloud.app import create_app
from tests.conftest import ADMIN, make_settings
from tests.fakes.xendit_server import SECRET_KEY, RunningFake
from tests.live import serve_in_thread

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The real app over real HTTP, with payments going to the local Xendit test server."""
    data: Path = tmp_path_factory.mktemp("schemathesis") / "data"
    xendit = RunningFake()
    fake = xendit.start()
    settings = make_settings(
        data,
        validate_rate_limit_per_minute=1_000_000,
        xendit_secret_key=SECRET_KEY,
        xendit_base_url=fake.url,
    )
    app = create_app(settings, apply_migrations=True)
    try:
        with serve_in_thread(app) as url:
            customer = httpx.post(
                f"{url}/api/customers",
                json={"name": "Fuzz", "email": "fuzz@example.com"},
                headers=ADMIN,
            ).json()
            yield {"url": url, "booth": {"Authorization": f"License {customer['license_key']}"}}
    finally:
        xendit.stop()


SCHEMA = schemathesis.openapi.from_dict(create_app(make_settings(Path("unused"))).openapi())
OPERATIONS = {op.ok().label: op.ok() for op in SCHEMA.get_all_operations()}
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def fuzz(label: str, live_api: dict[str, Any], headers: dict[str, str], examples: int) -> None:
    operation = OPERATIONS[label]
    strategy = st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in MODES))

    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=live_api["url"], headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operator_requests_conform(label: str, live_api: dict[str, Any]) -> None:
    fuzz(label, live_api, ADMIN, examples=40)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_booth_requests_conform(label: str, live_api: dict[str, Any]) -> None:
    fuzz(label, live_api, live_api["booth"], examples=15)
