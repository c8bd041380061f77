"""Read a running service's /metrics the way Prometheus does: with the library's parser."""

from __future__ import annotations

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families


def families(text: str) -> dict[str, Metric]:
    """The exposition parsed: metric families by name (a counter's without `_total`)."""
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(text: str) -> dict[str, float]:
    """Every sample's value, keyed `name` or `name{label="value",...}` (labels sorted)."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return values


def scrape(base_url: str, timeout: float = 10.0) -> dict[str, float]:
    """GET /metrics and parse it; fails on anything but a 200."""
    response = httpx.get(base_url + "/metrics", timeout=timeout)
    response.raise_for_status()
    return samples(response.text)


def metric(base_url: str, name: str) -> float:
    """One unlabelled sample's value, e.g. `notifications_ws_open_sockets`."""
    values = scrape(base_url)
    assert name in values, f"{name} not in /metrics: {sorted(values)}"
    return values[name]
