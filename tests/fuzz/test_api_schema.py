"""The REST API fuzzed against its own OpenAPI schema (schemathesis): never a 5xx, responses match it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import given
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from devkit.hostdata import add_post, add_user, comment, react
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.fuzz.profile import fuzz
from tests.integration.service_fixtures import shared_database_url

__all__ = ["shared_database_url"]
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def fuzzed_service(shared_database_url: str) -> Iterator[ServiceProcess]:
    """A service whose user 1 has notifications to list, mark, group and delete."""
    with psycopg.connect(shared_database_url, autocommit=True) as conn:
        owner, actor = add_user(conn, "fuzz_owner"), add_user(conn, "<b>fuzz</b>'; --")
        post = add_post(conn, owner, "<script>x</script>")
        for emoji in ("🔥", "👩‍👩‍👧‍👦", "\x07"):
            react(conn, post, actor, emoji)
        comment(conn, post, actor, "\u202e" + "long " * 60)
    with running_service(shared_database_url) as svc:
        yield svc


def operations(svc: ServiceProcess) -> list[Any]:
    schema = schemathesis.openapi.from_url(svc.base_url + "/schema/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 8, [op.label for op in found]
    return found


def can_be_invalid(parameter: dict[str, Any]) -> bool:
    """A parameter has an invalid form unless the schema lets it be any string at all."""
    schema = parameter.get("schema", {})
    constraints = ("format", "pattern", "enum", "minLength", "maxLength")
    return not (schema.get("type") == "string" and not any(k in schema for k in constraints))


def operations_with_input(svc: ServiceProcess) -> set[str]:
    """Labels ("METHOD /path") of the operations with an input that can be invalid (a body, or
    a parameter that is not a free string), read from the schema itself: the negative run must
    reach every one. (DELETE /{notification_id} takes a free string, parsed by the service:
    its malformed ids are tested in tests/integration/test_api.py.)"""
    spec = httpx.get(svc.base_url + "/schema/openapi.json", timeout=10).json()
    return {f"{method.upper()} {path}"
            for path, item in spec["paths"].items()
            for method, op in item.items()
            if method in ("get", "post", "put", "delete", "patch")
            and (op.get("requestBody")
                 or any(can_be_invalid(p) for p in op.get("parameters", []) + item.get("parameters", [])))}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_never_fails_and_matches_its_schema(fuzzed_service: ServiceProcess,
                                                mode: GenerationMode) -> None:
    """Generated requests, valid and invalid, to every operation get a non-5xx, documented answer."""
    headers = {"Authorization": f"Bearer {make_token(1, fuzzed_service.secret)}"}
    checked: list[str] = []
    for operation in operations(fuzzed_service):

        @fuzz(60, filtering=mode == GenerationMode.NEGATIVE)
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            response = case.call(headers=headers, timeout=10)
            assert response.status_code < 500, (case.as_curl_command(), response.text[:300])
            if mode == GenerationMode.POSITIVE and response.status_code < 300:
                case.validate_response(response)

        try:
            run()
        except Unsatisfiable:
            # An operation without parameters or body has no invalid form to generate.
            assert mode == GenerationMode.NEGATIVE, operation.label
            continue
        checked.append(operation.label)
    print(f"{mode.value}: fuzzed {checked}")
    every = {op.label for op in operations(fuzzed_service)}
    with_input = operations_with_input(fuzzed_service)
    assert with_input >= {"POST /api/notifications/mark-read", "GET /api/notifications",
                          "PUT /api/notifications/preferences"}, with_input
    # Positive: every operation. Negative: every operation that takes any input (only one
    # without parameters or body has no invalid form to generate).
    expected = every if mode == GenerationMode.POSITIVE else with_input
    assert expected <= set(checked), sorted(expected - set(checked))
