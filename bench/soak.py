"""Sustained mixed load, then proof that nothing drifted, leaked, got lost or came twice.

For `--duration` seconds (default 300): host writers (plain-SQL reactions,
un-reacts, comments, soft deletes, each its own transaction), REST readers
and markers (list, mark-read, mark-all-read up to the seen position), and one
WebSocket client per owner that resumes by position (a share of them are cut
off now and then, the hard way, and come back with `since`). The service's
RSS is sampled every second. Afterwards:

- every counter and replay log is exact (`service.consistency.find_drift` is empty);
- every client holds exactly its user's committed notifications, none shown twice
  (`devkit.stream.verify_against_database`);
- no REST call got a 5xx;
- the service's RSS at the end is within `--rss-bound-mib` of the RSS after warm-up,
  and (runs of 2 minutes or more) grows by at most a quarter of that in the second half.

Measured on the 2-core machine, 300 s, one worker: 114k host writes, 149k socket
messages, 745 socket resumes, 10k REST calls; nothing lost, duplicated or
drifted, no 5xx; RSS 61.6 → 76.9 MiB, levelling off (+2.6 MiB in the second half).

    .venv/bin/python -m bench.soak --duration 300 [--workers 2] [--out bench/results]

A 20-second run is part of the test suite (tests/reliability/test_soak_smoke.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench.common import add_database_url, bench_database
from devkit.servers import ServiceProcess, running_service
from devkit.stream import (
    StreamClient,
    WriterStats,
    cancel_all,
    catch_up,
    host_writer,
    make_world,
    rest_marker,
    verify_against_database,
)
from pg_social_notifications.consistency import find_drift

MIB = 2**20


@dataclass
class SoakResult:
    duration_s: float
    workers: int
    writes_committed: int = 0
    writer_reconnects: int = 0
    writer_deadlocks: int = 0  # the core promises none of these two
    writer_serialization_failures: int = 0
    rest_statuses: dict[int, int] = field(default_factory=dict)
    ws_messages: int = 0
    ws_reconnects: int = 0
    clients: int = 0
    lost_or_extra: list[str] = field(default_factory=list)
    duplicates: int = 0
    drift: list[str] = field(default_factory=list)
    rss_start_mib: float = 0.0
    rss_end_mib: float = 0.0
    rss_peak_mib: float = 0.0
    rss_samples_mib: list[float] = field(default_factory=list)
    notifications: int = 0
    events: int = 0

    @property
    def rss_growth_mib(self) -> float:
        return self.rss_end_mib - self.rss_start_mib

    def problems(self, rss_bound_mib: float) -> list[str]:
        found = list(self.drift) + list(self.lost_or_extra)
        if self.duplicates:
            found.append(f"{self.duplicates} message(s) shown twice")
        if any(code >= 500 for code in self.rest_statuses):
            found.append(f"REST 5xx: {self.rest_statuses}")
        if self.writes_committed == 0 or self.ws_messages == 0:
            found.append("no load was generated")
        if self.writer_deadlocks or self.writer_serialization_failures:
            found.append(f"writers met {self.writer_deadlocks} deadlock(s) and "
                         f"{self.writer_serialization_failures} serialization failure(s)")
        if self.rss_growth_mib > rss_bound_mib:
            found.append(f"RSS grew {self.rss_growth_mib:.1f} MiB (bound {rss_bound_mib} MiB)")
        return found


def service_rss(svc: ServiceProcess) -> int:
    """Resident memory of the service: the process and its workers, if any."""
    assert svc.process is not None
    root = psutil.Process(svc.process.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


async def soak(database_url: str, duration: float, *, workers: int = 1, owners: int = 20,
               actors: int = 40, writers: int = 3, markers: int = 2,
               churn_every: float = 2.0) -> SoakResult:
    """Run the mixed load against a migrated database and check everything afterwards."""
    result = SoakResult(duration_s=duration, workers=workers)
    with psycopg.connect(database_url, autocommit=True) as conn:
        world = make_world(conn, owners=owners, actors=actors)
    with running_service(database_url, workers=workers) as svc:
        clients = [StreamClient(o, svc.secret, [svc.ws_url]) for o in world.owners]
        # A second tab for a quarter of the owners.
        clients += [StreamClient(o, svc.secret, [svc.ws_url]) for o in world.owners[::4]]
        result.clients = len(clients)
        stop = asyncio.Event()
        stats = WriterStats()
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.gather(*(c.connected.wait() for c in clients))
        tasks += [asyncio.create_task(host_writer(database_url, world, stop, stats, seed=i))
                  for i in range(writers)]
        tasks += [asyncio.create_task(rest_marker([svc.base_url], world.owners, svc.secret, stop,
                                                  result.rest_statuses, seed=i, pause=0.1))
                  for i in range(markers)]
        started = time.monotonic()
        warmup = min(10.0, duration * 0.25)
        next_churn = started + churn_every
        try:
            while (elapsed := time.monotonic() - started) < duration:
                await asyncio.sleep(1.0)
                rss = service_rss(svc) / MIB
                result.rss_samples_mib.append(round(rss, 2))
                if elapsed >= warmup and result.rss_start_mib == 0.0:
                    result.rss_start_mib = rss
                if time.monotonic() >= next_churn:
                    # Cut a few sockets off without a close frame; they resume with since.
                    for client in clients[int(elapsed) % 5::5]:
                        await client.drop()
                    next_churn += churn_every
            stop.set()
            await catch_up(clients, database_url, timeout=60)
        finally:
            stop.set()
            await cancel_all(tasks)
        result.rss_end_mib = service_rss(svc) / MIB
        result.rss_peak_mib = max(result.rss_samples_mib or [result.rss_end_mib])
    result.writes_committed = stats.commits
    result.writer_reconnects = stats.failures
    result.writer_deadlocks = stats.deadlocks
    result.writer_serialization_failures = stats.serialization_failures
    result.ws_messages = sum(c.messages for c in clients)
    result.ws_reconnects = sum(c.connects - 1 for c in clients)
    result.duplicates = sum(len(c.duplicates) for c in clients)
    with psycopg.connect(database_url, autocommit=True) as conn:
        for client in clients:
            try:
                verify_against_database(client, conn)
            except AssertionError as exc:
                result.lost_or_extra.append(str(exc).splitlines()[0])
        counts = conn.execute("SELECT (SELECT count(*) FROM notifications),"
                              " (SELECT count(*) FROM notification_events)").fetchone()
        assert counts is not None
        result.notifications, result.events = int(counts[0]), int(counts[1])
    result.drift = find_drift(database_url)
    return result


def run(duration: float, out_dir: Path | None = None, *, database_url: str | None = None,
        workers: int = 1, rss_bound_mib: float = 32.0) -> dict[str, Any]:
    """Soak for `duration` seconds; return (and optionally write) the report."""
    with bench_database("soak", database_url=database_url) as db:
        result = asyncio.run(soak(db.url, duration, workers=workers))
    samples = result.rss_samples_mib
    half = samples[len(samples) // 2] if samples else result.rss_end_mib
    report = {**asdict(result), "rss_growth_mib": round(result.rss_growth_mib, 2),
              # A leak keeps growing; a warming allocator levels off in the second half.
              "rss_second_half_growth_mib": round(result.rss_end_mib - half, 2),
              "rss_trend_mib": samples[:: max(1, len(samples) // 12)],
              "rss_bound_mib": rss_bound_mib, "problems": result.problems(rss_bound_mib)}
    if duration >= 120 and report["rss_second_half_growth_mib"] > rss_bound_mib / 4:
        report["problems"].append(f"RSS still growing in the second half: "
                                  f"{report['rss_second_half_growth_mib']} MiB")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "soak.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument("--rss-bound-mib", type=float, default=32.0)
    parser.add_argument("--out", type=Path, default=None, help="folder for soak.json")
    add_database_url(parser)
    args = parser.parse_args(argv)
    report = run(args.duration, args.out, database_url=args.database_url, workers=args.workers,
                 rss_bound_mib=args.rss_bound_mib)
    summary = {k: v for k, v in report.items() if k != "rss_samples_mib"}
    print(json.dumps(summary, indent=2, default=str))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
