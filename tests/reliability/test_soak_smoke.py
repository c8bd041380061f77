"""A 20-second run of bench/soak.py: mixed load, then exact counters, exact clients, flat memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.commands import run_for_report

pytestmark = pytest.mark.timeout(150)


def test_soak_smoke(database_url: str, tmp_path: Path) -> None:
    """20 s of writers, REST markers and churning sockets: no drift, loss, duplicate, 5xx, leak, deadlock."""
    report = run_for_report(["-m", "bench.soak", "--duration", "20", "--rss-bound-mib", "32",
                             "--out", str(tmp_path), "--database-url", database_url],
                            tmp_path / "soak.json")
    print({k: v for k, v in report.items() if k != "rss_samples_mib"})
    assert report["problems"] == []
    assert report["writes_committed"] > 500 and report["ws_messages"] > 500
    assert report["ws_reconnects"] > 5  # the churn really cut sockets off
    assert report["drift"] == [] and report["duplicates"] == 0
    assert (report["writer_deadlocks"], report["writer_serialization_failures"]) == (0, 0), report
