"""HEAD answers like GET; /web/ serves the web components, and the demo only with --demo;
/metrics parses as Prometheus text, or OpenMetrics when asked."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from devkit.scrape import families
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, new_user, service, shared_database_url

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics",
                                  "/web/notifications-client.js", "/schema/openapi.json"])
def test_head_is_answered_like_get_without_a_body(service: ServiceProcess, path: str) -> None:
    get = httpx.get(service.base_url + path, timeout=10)
    head = httpx.head(service.base_url + path, timeout=10)
    assert get.status_code == head.status_code == 200, (head.status_code, head.text)
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_head_on_the_api_checks_the_token_like_get(service: ServiceProcess, db: object) -> None:
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
        service: ServiceProcess, path: str, status: int) -> None:
    assert httpx.get(service.base_url + path, timeout=10).status_code == status


def test_demo_mode_serves_the_demo_folders_but_never_the_tests(shared_database_url: str) -> None:
    with running_service(shared_database_url, demo=True) as svc:
        for path in ("/web/demo/demo.js", "/web/demo-art/fox.png", "/web/notifications-client.js"):
            assert httpx.get(svc.base_url + path, timeout=10).status_code == 200, path
        assert httpx.get(svc.base_url + "/web/tests/client.test.mjs", timeout=10).status_code == 404


def test_metrics_parse_as_prometheus_text_or_openmetrics(service: ServiceProcess) -> None:
    """A real scrape parses with the Prometheus client's own parsers, in the format asked for,
    every family with its HELP, no `pid` label (workers are summed, not told apart)."""
    plain = httpx.get(service.base_url + "/metrics", timeout=10)
    assert plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    parsed = families(plain.text)
    assert parsed["notifications_ws_messages_delivered"].type == "counter"
    assert parsed["notifications_delivery_lag_seconds"].type == "histogram"
    assert parsed["notifications_ws_open_sockets"].type == "gauge"
    for family in parsed.values():
        assert family.name.startswith("notifications_") and family.documentation, family
        assert all("pid" not in sample.labels for sample in family.samples), family
    open_metrics = httpx.get(service.base_url + "/metrics", timeout=10,
                             headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert open_metrics.headers["content-type"].startswith(
        "application/openmetrics-text; version=1.0.0")
    assert open_metrics.text.endswith("# EOF\n")
    assert {f.name for f in text_string_to_metric_families(open_metrics.text)} == set(parsed)
