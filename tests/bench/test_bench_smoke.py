"""Smoke-size runs of every benchmark, so the suite in bench/ never rots.

Each runs the real benchmark the way its user does (`python -m bench <name> --size
smoke`, in a subprocess) in a fresh test database (and, where it needs one, a real
service process and real client processes), small enough to take seconds, then
checks in the JSON report it wrote properties that must hold at any size. The tests
import nothing from bench/: the report is the interface.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devkit.commands import run_for_report
from devkit.haproxy import haproxy_or_skip
from pg_social_notifications.consistency import find_drift


def _run(name: str, out: Path, database_url: str) -> dict[str, Any]:
    """`python -m bench <name> --size smoke` in the test's database; its report's data,
    once the report's files are checked."""
    doc: dict[str, Any] = run_for_report(
        ["-m", "bench", name, "--size", "smoke", "--out", str(out), "--database-url", database_url],
        out / f"{name}.json")
    for suffix in ("json", "md"):
        assert (out / f"{name}.{suffix}").stat().st_size > 0
    assert list(out.glob(f"{name}_*.png")) or name == "dataset"
    assert "2 CPU cores" in doc["meta"]["machine"]["note"]
    return doc


def test_write_path_smoke(database_url: str, tmp_path: Path) -> None:
    """Both modes commit without failures, nothing drifts, the sequencer announces, COPY runs at each size."""
    data = _run("write_path", tmp_path, database_url)["data"]
    assert data["cells"], "no pgbench cells ran"
    for cell in data["cells"]:
        assert cell["transactions"] > 0 and cell["failed"] == 0, cell
    assert data["drift"] == []
    assert data["notifying_transactions"] > 0 and data["listener_received"] > 0
    assert data["size"]["copy_rows"] and data["modes"], data["size"]
    assert {(r["rows"], r["mode"]) for r in data["copy_and_delete"]} == {
        (n, m) for n in data["size"]["copy_rows"] for m in data["modes"]}
    assert find_drift(database_url) == []


def test_dataset_smoke(database_url: str, tmp_path: Path) -> None:
    """The generated dataset has the requested size and no counter or replay-log drift."""
    doc = _run("dataset", tmp_path, database_url)
    info = doc["data"]["dataset"]
    assert info["notifications"] == doc["data"]["size"]["notifications"]
    assert info["drift"] == []
    assert find_drift(database_url) == []
    assert 0 < info["unread"] < info["notifications"] and info["events"] > 0
    assert doc["targets"][0]["met"] is True


def test_api_smoke(database_url: str, tmp_path: Path) -> None:
    """Every endpoint answers every request with 2xx under concurrency, and counters stay exact."""
    data = _run("api", tmp_path, database_url)["data"]
    for load in data["results"]:
        where = (load["endpoint"], load["concurrency"])
        assert load["requests"] > 0, where
        assert load["errors"] == 0 and load["non_2xx"] == 0, (where, load["statuses"],
                                                             load["sample_bodies"])
    assert find_drift(database_url) == []
    assert [w["count"] > 0 for w in data["workers_2"]] == [True, True, True]


def test_ws_smoke(database_url: str, tmp_path: Path) -> None:
    """Every socket connects, and every committed notification arrives once, in position order."""
    data = _run("ws", tmp_path, database_url)["data"]
    assert data["connected"] == data["users"]
    assert data["lost"] == 0 and data["duplicates"] == 0
    assert data["counters"].get("gaps", 0) == 0
    assert data["deliveries"], "no delivery phase ran"
    for delivery in data["deliveries"]:
        assert delivery["committed"] > 0
        assert delivery["received"] == delivery["committed"], delivery
        assert delivery["misrouted"] == 0


def test_reconnect_smoke(database_url: str, tmp_path: Path) -> None:
    """After a restart every client comes back and holds what was committed while it was away."""
    data = _run("reconnect", tmp_path, database_url)["data"]
    assert data["complete"]
    assert data["gap"] > 0, "nothing was committed during the restart"
    assert data["lost"] == 0 and data["duplicates"] == 0


def test_deploy_smoke(database_url: str, tmp_path: Path) -> None:
    """A planned restart: every socket moves to the new process, nothing lost or doubled."""
    data = _run("deploy", tmp_path, database_url)["data"]
    assert data["committed_during"] > 0, "nothing was committed during the deploy"
    assert data["lost"] == 0 and data["counters"].get("duplicates", 0) == 0
    assert data["counters"].get("gaps", 0) == 0
    assert data["all_moved_seconds"] == data["all_moved_seconds"], "not every socket moved"
    # JSON object keys are strings: the close code is "1012"
    assert data["counters"]["closes"] == {"1012": data["users"]}, data["counters"]


def test_nodes_smoke(database_url: str, tmp_path: Path) -> None:
    """Three nodes behind HAProxy: sockets spread over all three; kill -9 of the sequencer's
    node loses, repeats and skips nothing, and every socket comes back on the survivors."""
    haproxy_or_skip()
    data = _run("nodes", tmp_path, database_url)["data"]
    assert data["lost"] == 0 and data["duplicates"] == 0 and data["gaps"] == 0
    assert all(held > 0 for held in data["spread"].values()), data["spread"]
    kill = data["kill"]
    assert kill["complete"] and kill["moved"], kill["complete_seconds"]
    assert sum(kill["open_after"].values()) == data["size"]["users"]
    assert kill["takeover"] == kill["takeover"], "no survivor took over the sequencer"
    assert find_drift(database_url) == []
