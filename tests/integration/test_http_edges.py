"""HEAD answers like GET; /web/ serves the web components, and the demo only with --demo;
/metrics prints every counter exactly."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integration.service_fixtures import db, new_user, service, shared_database_url
from tests.servers import RunningService, running_service
from tests.tokens import make_token

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics",
                                  "/web/notifications-client.js", "/schema/openapi.json"])
def test_head_is_answered_like_get_without_a_body(service: RunningService, path: str) -> None:
    get = httpx.get(service.base_url + path, timeout=10)
    head = httpx.head(service.base_url + path, timeout=10)
    assert get.status_code == head.status_code == 200, (head.status_code, head.text)
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_head_on_the_api_checks_the_token_like_get(service: RunningService, db: object) -> None:
    url = service.base_url + "/api/notifications/unread-count"
    assert httpx.head(url, timeout=10).status_code == 401
    token = make_token(new_user(db), service.secret)  # type: ignore[arg-type]
    head = httpx.head(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize(("path", "status"), [
    ("/web/notifications-client.js", 200), ("/web/notifications-page.js", 200),
    ("/web/demo/demo.js", 404), ("/web/demo/index.html", 404), ("/web/demo-art/fox.png", 404),
    ("/web/tests/client.test.mjs", 404), ("/web/tests/fakes.mjs", 404),
])
def test_web_serves_the_components_and_no_demo_outside_demo_mode(
        service: RunningService, path: str, status: int) -> None:
    assert httpx.get(service.base_url + path, timeout=10).status_code == status


def test_demo_mode_serves_the_demo_folders_but_never_the_tests(shared_database_url: str) -> None:
    with running_service(shared_database_url, demo=True) as svc:
        for path in ("/web/demo/demo.js", "/web/demo-art/fox.png", "/web/notifications-client.js"):
            assert httpx.get(svc.base_url + path, timeout=10).status_code == 200, path
        assert httpx.get(svc.base_url + "/web/tests/client.test.mjs", timeout=10).status_code == 404


def test_metrics_are_whole_numbers_in_full(service: RunningService, db: object) -> None:
    text = httpx.get(service.base_url + "/metrics", timeout=10).text
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert samples
    for line in samples:
        value = line.rsplit(" ", 1)[1]
        assert re.fullmatch(r"-?\d+|-?\d+\.\d+(e-?\d+)?|\+Inf", value), line
        assert "e+" not in value, line
