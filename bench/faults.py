"""Faults, again and again, under live load: then every client is checked against the database.

Two service processes share one PostgreSQL. Host writers, REST markers and
one resuming WebSocket client per owner (failing over between the two
services) run the whole time while, every few seconds, one fault is injected
in turn:

- `listener`: the LISTEN backends are killed (pg_terminate_backend);
- `service`:  one service process is SIGKILLed, then started again;
- `clients`:  every socket is cut off without a close frame;
- `postgres`: PostgreSQL restarts (only with the embedded server this command starts).

Afterwards: no counter or replay-log drift, and every client holds exactly its
user's committed notifications, none shown twice.

    .venv/bin/python -m bench.faults --rounds 40 [--out bench/results]

The suite runs a short version (tests/reliability/test_faults_smoke.py); each
fault also has its own test in tests/reliability/test_faults.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from pg_social_notifications.embedded_db import EmbeddedPostgres

FAULTS = ("listener", "service", "clients", "postgres")


def kill_listeners(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE application_name = 'notifications-listener'"
                           " AND datname = current_database()").fetchone()
    return int(row[0]) if row else 0


async def inject(fault: str, database_url: str, services: list[ServiceProcess],
                 clients: list[StreamClient], server: EmbeddedPostgres | None,
                 round_: int) -> None:
    if fault == "listener":
        await asyncio.to_thread(kill_listeners, database_url)
    elif fault == "service":
        victim = services[round_ % len(services)]
        await asyncio.to_thread(victim.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(victim.start)
    elif fault == "clients":
        for client in clients:
            await client.drop()
    elif fault == "postgres" and server is not None:
        try:
            await asyncio.to_thread(server.stop, "fast")
            await asyncio.sleep(0.5)
        finally:
            await asyncio.to_thread(server.start)


async def fault_rounds(database_url: str, rounds: int, *, server: EmbeddedPostgres | None,
                       interval: float = 3.0, owners: int = 12) -> dict[str, Any]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        world = make_world(conn, owners=owners, actors=24)
    faults = [f for f in FAULTS if f != "postgres" or server is not None]
    injected: list[str] = []
    statuses: dict[int, int] = {}
    with running_service(database_url) as first, running_service(database_url) as second:
        services = [first, second]
        urls = [first.ws_url, second.ws_url]
        clients = [StreamClient(o, first.secret, urls[i % 2:] + urls[:i % 2])
                   for i, o in enumerate(world.owners)]
        stop, stats = asyncio.Event(), WriterStats()
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.gather(*(c.connected.wait() for c in clients))
        tasks += [asyncio.create_task(host_writer(database_url, world, stop, stats, seed=i))
                  for i in range(2)]
        tasks.append(asyncio.create_task(rest_marker(
            [first.base_url, second.base_url], world.owners, first.secret, stop, statuses)))
        started = time.monotonic()
        try:
            for round_ in range(rounds):
                await asyncio.sleep(interval)
                fault = faults[round_ % len(faults)]
                await inject(fault, database_url, services, clients, server, round_)
                injected.append(fault)
            await asyncio.sleep(interval)
            stop.set()
            await catch_up(clients, database_url, timeout=60)
        finally:
            stop.set()
            await cancel_all(tasks)
        elapsed = time.monotonic() - started
    problems: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        for client in clients:
            try:
                verify_against_database(client, conn)
            except AssertionError as exc:
                problems.append(str(exc).splitlines()[0])
    problems += find_drift(database_url)
    if stats.deadlocks or stats.serialization_failures:
        problems.append(f"writers met {stats.deadlocks} deadlock(s) and "
                        f"{stats.serialization_failures} serialization failure(s)")
    return {
        "rounds": rounds, "faults": injected, "seconds": round(elapsed, 1),
        "writes_committed": stats.commits, "writer_reconnects": stats.failures,
        # The core promises none of these: a host write never fails on our account.
        "writer_deadlocks": stats.deadlocks,
        "writer_serialization_failures": stats.serialization_failures,
        "ws_messages": sum(c.messages for c in clients),
        "ws_reconnects": sum(c.connects - 1 for c in clients),
        # REST calls to a killed service fail to connect (no status); 5xx would be listed here.
        "rest_statuses": statuses, "problems": problems,
    }


def run(rounds: int, out_dir: Path | None = None, *, database_url: str | None = None,
        interval: float = 3.0) -> dict[str, Any]:
    with bench_database("faults", database_url=database_url) as db:
        report = asyncio.run(fault_rounds(db.url, rounds, server=db.server, interval=interval))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "faults.json").write_text(json.dumps(report, indent=2))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between faults")
    parser.add_argument("--out", type=Path, default=None, help="folder for faults.json")
    add_database_url(parser)
    args = parser.parse_args(argv)
    report = run(args.rounds, args.out, database_url=args.database_url, interval=args.interval)
    print(json.dumps(report, indent=2))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
