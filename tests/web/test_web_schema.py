"""Schemathesis against the OpenAPI schema: whatever a caller sends, never a 5xx.

Every operation is called with generated requests (valid and invalid bodies, queries,
paths) carrying a token of the role the operation is for, so the generated input
reaches the handler and the services behind it rather than stopping at the role check.
The responses are also checked against the schema's documented status codes, content
types and response documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_web_matrix import API
from web_support import ROLE_USER, SECRET, WebState, build_state

from accord.web import create_app

# Not positive_data_acceptance: a schema-valid request may still be refused for the state
# it meets (an unknown person, another recipient's disclosure), which is a 4xx by design.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OPERATIONS_USER = {path: ROLE_USER[sorted(roles)[0]] for (_, path), roles in API.items()}


@pytest.fixture
def api_state(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebState:
    monkeypatch.setenv("ACCORD_LEDGER_KEY", str(tmp_path / "ledger.key"))
    return build_state(db_url, tmp_path)


class CurrentApp:
    """The ASGI app under test, swapped per test so each backend's database is used.

    (Schemathesis's fixture-based loader does not run under pytest 9, so the schema is
    loaded once from this stand-in, which forwards to the app the fixture made.)
    """

    def __init__(self) -> None:
        self.app: Any = create_app("sqlite://", secret=SECRET)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


CURRENT = CurrentApp()
schema = schemathesis.openapi.from_asgi("/api/openapi.json", CURRENT)


@pytest.fixture
def api_app(api_state: WebState) -> Iterator[None]:
    CURRENT.app = create_app(api_state.url, secret=SECRET)
    yield
    CURRENT.app = create_app("sqlite://", secret=SECRET)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
def test_no_input_makes_a_server_error(
    case: schemathesis.Case, api_state: WebState, api_app: None
) -> None:
    user = OPERATIONS_USER[case.operation.path]
    response = case.call(headers=api_state.bearer(user))
    assert response.status_code < 500, (case.method, case.path, response.text)
    case.validate_response(response, checks=CHECKS)
