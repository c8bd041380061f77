"""Faults under live load: nothing committed is lost for any client after it resumes, nothing twice.

Every test runs real host writers (plain SQL), real service processes and
real WebSocket clients (`StreamClient`) that resume by position, breaks
something in the middle, and then checks each client against the database.
Each also proves the load really ran (host writes committed, socket messages
delivered: an idle stream would pass the oracle at position 0) and that no
host write met a deadlock or serialization failure.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from devkit import scrape
from devkit.servers import ServiceProcess, running_service
from devkit.stream import (
    StreamClient,
    WriterStats,
    cancel_all,
    catch_up,
    check_load,
    finish,
    host_writer,
    make_world,
    rest_marker,
    verify_against_database,
)
from tests.conftest import PgServer

pytestmark = pytest.mark.timeout(120)
# Floors for a few seconds of two host writers (each does hundreds a second when idle).
MIN_COMMITS, MIN_MESSAGES = 100, 50


def metric(svc: ServiceProcess, name: str) -> float:
    return scrape.metric(svc.base_url, name)


@contextmanager
def log_on_failure(*services: ServiceProcess) -> Iterator[None]:
    """Print the services' log tails when the block fails, for whoever reads the CI output."""
    try:
        yield
    except BaseException:
        for svc in services:
            print(f"--- log of the service on port {svc.port} ---")
            print("\n".join(line for line in svc.log_text().splitlines()[-60:]
                            if "/health/" not in line and "/metrics" not in line))
        raise


async def kill_listener(conn: psycopg.Connection[Any], timeout: float = 10.0) -> int:
    """Terminate the LISTEN backend once it is (back) up; how many were killed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        row = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE application_name = 'notifications-listener'"
                           " AND datname = current_database()"
                           # up: its last statement was the LISTEN, or the idle probe after it
                           " AND (query LIKE '%LISTEN notifications_v2%'"
                           "      OR query LIKE '-- health_check:%')").fetchone()
        if row and row[0] or asyncio.get_running_loop().time() > deadline:
            return int(row[0]) if row else 0
        await asyncio.sleep(0.05)


def sockets_served(process: psutil.Process, port: int) -> int:
    """Established client connections on the service's port held by this process."""
    try:
        return sum(1 for c in process.net_connections(kind="tcp")
                   if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port)
    except psutil.Error:
        return 0


def verify_all(clients: list[StreamClient], database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for client in clients:
            verify_against_database(client, conn)
        assert sum(len(c.shown) for c in clients) > 0


async def test_postgres_restart_mid_stream_loses_nothing(
        pg_server: PgServer, database_url: str, conn: psycopg.Connection[Any]) -> None:
    """PostgreSQL restarts under writers, markers and sockets; every client ends exact, once each."""
    assert pg_server.embedded is not None, "this test restarts the embedded PostgreSQL"
    world = make_world(conn, owners=4, actors=8)
    with running_service(database_url) as svc:
        clients = [StreamClient(o, svc.secret, [svc.ws_url]) for o in world.owners]
        # A second tab of the first owner, which will lose its connection during the outage.
        clients.append(StreamClient(world.owners[0], svc.secret, [svc.ws_url]))
        stop, stats, statuses = asyncio.Event(), WriterStats(), dict[int, int]()
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.gather(*(c.connected.wait() for c in clients))
        load = [asyncio.create_task(host_writer(database_url, world, stop, stats, seed=i))
                for i in range(2)]
        load.append(asyncio.create_task(rest_marker([svc.base_url], world.owners, svc.secret,
                                                    stop, statuses)))
        try:
            await asyncio.sleep(1.5)
            before = stats.commits
            down = asyncio.create_task(asyncio.to_thread(pg_server.embedded.stop, "fast"))
            await asyncio.sleep(0.3)
            await clients[-1].drop()  # reconnects while the database is away, then resumes
            await down
            await asyncio.sleep(1.0)
            await asyncio.to_thread(pg_server.embedded.start)
            await asyncio.sleep(2.5)
            await finish(stop, load)
            assert stats.commits > before + 20 and stats.failures > 0
            await catch_up(clients, database_url)
        finally:
            stop.set()
            pg_server.embedded.start()  # never leave the shared server down
            await cancel_all(tasks + load)
        print(stats, statuses)
        verify_all(clients, database_url)
        check_load(stats, clients, min_commits=MIN_COMMITS, min_messages=MIN_MESSAGES)
        assert clients[-1].connects >= 2
        # The service is whole again: ready, and REST answers on the first try.
        assert httpx.get(svc.base_url + "/health/ready", timeout=5).status_code == 200
        assert metric(svc, "notifications_listener_reconnects_total") >= 1


async def test_first_rest_requests_after_postgres_restart_succeed(
        pg_server: PgServer, database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Pooled connections killed by a PostgreSQL restart are never handed to a request (no 5xx)."""
    assert pg_server.embedded is not None, "this test restarts the embedded PostgreSQL"
    world = make_world(conn, owners=1, actors=1)
    conn.execute("INSERT INTO reactions (post_id, user_id, emoji) VALUES (%s, %s, 'x')",
                 (world.posts[world.owners[0]], world.actors[0]))
    with running_service(database_url, env={"NOTIFICATIONS_POOL_MIN_SIZE": "4"}) as svc, log_on_failure(svc):
        from devkit.tokens import make_token

        headers = {"Authorization": f"Bearer {make_token(world.owners[0], svc.secret)}"}
        url = svc.base_url + "/api/notifications/"
        async with httpx.AsyncClient(timeout=10) as http:
            # Warm every pooled connection.
            assert {r.status_code for r in await asyncio.gather(
                *(http.get(url, headers=headers) for _ in range(8)))} == {200}
            try:
                await asyncio.to_thread(pg_server.embedded.restart)
            finally:
                pg_server.embedded.start()
            statuses = [(await http.get(url, headers=headers)).status_code for _ in range(8)]
        assert statuses == [200] * 8, statuses


async def test_listen_connection_terminated_loses_nothing(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """The LISTEN backend is killed repeatedly under load; sockets stay up and miss nothing."""
    world = make_world(conn, owners=4, actors=8)
    with running_service(database_url) as svc, log_on_failure(svc):
        clients = [StreamClient(o, svc.secret, [svc.ws_url]) for o in world.owners]
        stop, stats = asyncio.Event(), WriterStats()
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.gather(*(c.connected.wait() for c in clients))
        load = [asyncio.create_task(host_writer(database_url, world, stop, stats, seed=i))
                for i in range(2)]
        killed = 0
        try:
            for _ in range(3):
                await asyncio.sleep(0.8)
                killed += await kill_listener(conn)
            await finish(stop, load)
            await asyncio.sleep(0.5)
            # Killed, then a write committed while nobody listens and no write after it:
            # only the resynchronisation after the reconnect can deliver it.
            killed += await kill_listener(conn)
            lonely = world.owners[0]
            conn.execute("INSERT INTO comments (id, post_id, author_id, body)"
                         " VALUES (gen_random_uuid(), %s, %s, 'while nobody listened')",
                         (world.posts[lonely], world.actors[0]))
            await catch_up(clients, database_url)
        finally:
            stop.set()
            await cancel_all(tasks + load)
        print(stats)
        assert killed == 4
        verify_all(clients, database_url)
        check_load(stats, clients, min_commits=MIN_COMMITS, min_messages=MIN_MESSAGES)
        assert [c.connects for c in clients] == [1] * len(clients), "no socket had to reconnect"
        assert any(n["comment_preview"] == "while nobody listened"
                   for n in clients[0].current.values())
        assert metric(svc, "notifications_listener_reconnects_total") >= 4


async def test_one_of_two_service_processes_killed_under_load(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """SIGKILL one of two services mid-stream; its clients resume on the other with nothing lost."""
    world = make_world(conn, owners=6, actors=10)
    with running_service(database_url) as first, running_service(database_url) as second:
        urls = [first.ws_url, second.ws_url]
        clients = [StreamClient(o, first.secret, urls[i % 2:] + urls[:i % 2])
                   for i, o in enumerate(world.owners)]
        # Two tabs of one user, one on each process.
        clients.append(StreamClient(world.owners[0], first.secret, [second.ws_url, first.ws_url]))
        stop, stats, statuses = asyncio.Event(), WriterStats(), dict[int, int]()
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.gather(*(c.connected.wait() for c in clients))
        load = [asyncio.create_task(host_writer(database_url, world, stop, stats, seed=i))
                for i in range(2)]
        load.append(asyncio.create_task(rest_marker(
            [second.base_url], world.owners, first.secret, stop, statuses)))
        try:
            await asyncio.sleep(1.5)
            await asyncio.to_thread(first.kill)
            await asyncio.sleep(2.0)
            await finish(stop, load)
            await catch_up(clients, database_url)
        finally:
            stop.set()
            await cancel_all(tasks + load)
        print(stats, statuses)
        verify_all(clients, database_url)
        check_load(stats, clients, min_commits=MIN_COMMITS, min_messages=MIN_MESSAGES)
        moved = [c for c in clients if c.ws_urls[0] == first.ws_url]
        assert moved and all(c.connects >= 2 for c in moved)
        assert statuses and all(code < 500 for code in statuses), statuses


async def test_one_uvicorn_worker_killed_under_load(database_url: str,
                                                    conn: psycopg.Connection[Any]) -> None:
    """`serve --workers 2`: SIGKILL one worker mid-stream; its clients reconnect and lose nothing."""
    world = make_world(conn, owners=8, actors=10)
    with running_service(database_url, workers=2) as svc, log_on_failure(svc):
        assert svc.process is not None
        workers = psutil.Process(svc.process.pid).children(recursive=True)
        assert len(workers) >= 2, workers
        clients = [StreamClient(o, svc.secret, [svc.ws_url]) for o in world.owners]
        stop, stats, statuses = asyncio.Event(), WriterStats(), dict[int, int]()
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.gather(*(c.connected.wait() for c in clients))
        load = [asyncio.create_task(host_writer(database_url, world, stop, stats, seed=i))
                for i in range(2)]
        load.append(asyncio.create_task(rest_marker([svc.base_url], world.owners, svc.secret,
                                                    stop, statuses)))
        try:
            await asyncio.sleep(1.5)
            victim = max(workers, key=lambda p: sockets_served(p, svc.port))
            assert sockets_served(victim, svc.port) > 0
            victim.send_signal(signal.SIGKILL)
            await asyncio.sleep(3.0)
            await finish(stop, load)
            await catch_up(clients, database_url)
        finally:
            stop.set()
            await cancel_all(tasks + load)
        print(stats, statuses)
        verify_all(clients, database_url)
        check_load(stats, clients, min_commits=MIN_COMMITS, min_messages=MIN_MESSAGES)
        assert any(c.connects >= 2 for c in clients), "no client was on the killed worker"
        assert all(code < 500 for code in statuses), statuses
        assert httpx.get(svc.base_url + "/health/ready", timeout=5).status_code == 200
