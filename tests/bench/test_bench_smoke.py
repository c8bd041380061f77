"""Smoke-size runs of every benchmark, so the suite in bench/ never rots.

Each runs the real benchmark against a fresh test database (and, where it
needs one, a real service process and real client processes), small enough
to take seconds, and checks properties that must hold at any size.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench import api, dataset, deploy, nodes, reconnect, write_path, ws
from devkit.haproxy import haproxy_or_skip
from pg_social_notifications.consistency import find_drift


def _report(out: Path, name: str) -> dict:  # type: ignore[type-arg]
    for suffix in ("json", "md"):
        assert (out / f"{name}.{suffix}").stat().st_size > 0
    assert list(out.glob(f"{name}_*.png")) or name == "dataset"
    doc = json.loads((out / f"{name}.json").read_text())
    assert "2 CPU cores" in doc["meta"]["machine"]["note"]
    return doc  # type: ignore[no-any-return]


def test_write_path_smoke(database_url: str, tmp_path: Path) -> None:
    """Both modes commit without failures, nothing drifts, the sequencer announces, COPY runs at each size."""
    result = write_path.run("smoke", tmp_path, database_url=database_url)
    assert result["cells"], "no pgbench cells ran"
    for cell in result["cells"]:
        assert cell["transactions"] > 0 and cell["failed"] == 0, cell
    assert result["drift"] == []
    assert result["notifying_transactions"] > 0 and result["listener_received"] > 0
    assert {(r["rows"], r["mode"]) for r in result["copy_and_delete"]} == {
        (n, m) for n in write_path.SIZES["smoke"].copy_rows for m in write_path.MODES}
    assert find_drift(database_url) == []
    _report(tmp_path, "write_path")


def test_dataset_smoke(database_url: str, tmp_path: Path) -> None:
    """The generated dataset has the requested size and no counter or replay-log drift."""
    result = dataset.run("smoke", tmp_path, database_url=database_url)
    info = result["info"]
    assert info.notifications == dataset.SIZES["smoke"].notifications
    assert info.drift == ()
    assert find_drift(database_url) == []
    assert 0 < info.unread < info.notifications and info.events > 0
    doc = _report(tmp_path, "dataset")
    assert doc["targets"][0]["met"] is True


def test_api_smoke(database_url: str, tmp_path: Path) -> None:
    """Every endpoint answers every request with 2xx under concurrency, and counters stay exact."""
    result = api.run("smoke", tmp_path, database_url=database_url)
    for (name, concurrency), load in result["results"].items():
        assert load.requests > 0, (name, concurrency)
        assert load.errors == 0 and load.non_2xx == 0, (name, concurrency, load.statuses,
                                                        load.sample_bodies[-1:])
    assert find_drift(database_url) == []
    doc = _report(tmp_path, "api")
    assert [w["count"] > 0 for w in doc["data"]["workers_2"]] == [True, True, True]


def test_ws_smoke(database_url: str, tmp_path: Path) -> None:
    """Every socket connects, and every committed notification arrives once, in position order."""
    result = ws.run("smoke", tmp_path, database_url=database_url)
    assert result["connected"] == ws.SIZES["smoke"].users
    assert result["lost"] == 0 and result["duplicates"] == 0
    assert result["counters"].get("gaps", 0) == 0
    for delivery in result["deliveries"]:
        assert len(delivery.commits) > 0
        assert len(delivery.latencies_s) == len(delivery.commits)
        assert delivery.misrouted == 0
    _report(tmp_path, "ws")


def test_reconnect_smoke(database_url: str, tmp_path: Path) -> None:
    """After a restart every client comes back and holds what was committed while it was away."""
    result = reconnect.run("smoke", tmp_path, database_url=database_url)
    assert result["complete"]
    assert result["gap"] > 0, "nothing was committed during the restart"
    assert result["lost"] == 0 and result["duplicates"] == 0
    _report(tmp_path, "reconnect")


def test_deploy_smoke(database_url: str, tmp_path: Path) -> None:
    """A planned restart: every socket moves to the new process, nothing lost or doubled."""
    result = deploy.run("smoke", tmp_path, database_url=database_url)
    data = result["report"].data
    assert data["committed_during"] > 0, "nothing was committed during the deploy"
    assert result["lost"] == 0 and data["counters"].get("duplicates", 0) == 0
    assert data["counters"].get("gaps", 0) == 0
    assert data["all_moved_seconds"] == data["all_moved_seconds"], "not every socket moved"
    assert data["counters"]["closes"] == {"1012": deploy.SIZES["smoke"].users} or \
        data["counters"]["closes"] == {1012: deploy.SIZES["smoke"].users}, data["counters"]
    _report(tmp_path, "deploy")


def test_nodes_smoke(database_url: str, tmp_path: Path) -> None:
    """Three nodes behind HAProxy: sockets spread over all three; kill -9 of the sequencer's
    node loses, repeats and skips nothing, and every socket comes back on the survivors."""
    haproxy_or_skip()
    result = nodes.run("smoke", tmp_path, database_url=database_url)
    assert result["lost"] == 0 and result["duplicates"] == 0 and result["gaps"] == 0
    assert all(held > 0 for held in result["spread"].values()), result["spread"]
    kill = result["kill"]
    assert kill.complete and kill.moved, kill.complete_seconds
    assert sum(kill.open_after.values()) == nodes.SIZES["smoke"].users
    assert kill.takeover == kill.takeover, "no survivor took over the sequencer"
    assert find_drift(database_url) == []
    _report(tmp_path, "nodes")
