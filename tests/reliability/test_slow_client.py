"""A client that never reads is cut off with bounded server memory, and loses nothing when it returns."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import psutil
import psycopg
import pytest

from devkit.servers import running_service
from devkit.stream import (
    StreamClient,
    cancel_all,
    catch_up,
    make_world,
    verify_against_database,
)
from devkit.tokens import make_token
from tests.reliability.test_dropped_clients import handshake, reset
from tests.reliability.test_faults import log_on_failure, metric

pytestmark = pytest.mark.timeout(120)
ROUNDS, PER_ROUND = 40, 500
MESSAGE_BYTES = 2000  # roughly, with the long URL, title and avatar below
RSS_BOUND = 16 * 2**20


def burst(conn: psycopg.Connection[Any], post: int, actor: int) -> None:
    conn.execute("INSERT INTO reactions (post_id, user_id, emoji)"
                 " SELECT %s, %s, 'e' || g FROM generate_series(1, %s) g", (post, actor, PER_ROUND))


async def test_never_reading_client_is_cut_off_with_bounded_memory_and_resumes(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """40 MB of messages for a client that never reads: closed 4409, RSS flat, others and its return exact."""
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = NULL")  # volume, not spam
    world = make_world(conn, owners=2, actors=1, art_url="https://art.example/" + "a" * 980)
    conn.execute("UPDATE posts SET title = repeat('T', 128)")
    conn.execute("UPDATE users SET avatar_url = 'https://art.example/' || repeat('v', 480)")
    owner, other = world.owners
    post, actor = world.posts[owner], world.actors[0]
    with running_service(database_url, env={"NOTIFICATIONS_WS_QUEUE_SIZE": "32",
                                            "NOTIFICATIONS_WS_REPLAY_LIMIT": "100000"}) as svc, \
            log_on_failure(svc):
        assert svc.process is not None
        process = psutil.Process(svc.process.pid)
        fast = StreamClient(owner, svc.secret, [svc.ws_url])
        bystander = StreamClient(other, svc.secret, [svc.ws_url])
        tasks = [asyncio.create_task(fast.run()), asyncio.create_task(bystander.run())]
        slow: socket.socket | None = None
        try:
            await asyncio.gather(fast.connected.wait(), bystander.connected.wait())
            burst(conn, post, actor)  # warm up caches and pools before the baseline
            await catch_up([fast], database_url)
            rss_start = process.memory_info().rss
            slow = handshake(svc.port, f"/api/notifications/ws?token={make_token(owner, svc.secret)}")
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            peak = rss_start
            for round_ in range(ROUNDS):
                burst(conn, post, actor)
                conn.execute("INSERT INTO reactions (post_id, user_id, emoji) VALUES (%s, %s, %s)",
                             (world.posts[other], actor, str(round_)))
                await catch_up([fast, bystander], database_url, settle=0.0)  # no load between
                peak = max(peak, process.memory_info().rss)
            assert metric(svc, "notifications_ws_slow_client_closes_total") == 1
            assert metric(svc, "notifications_ws_open_sockets") == 2
            growth = peak - rss_start
            sent_to_slow = ROUNDS * PER_ROUND * MESSAGE_BYTES
            print(f"RSS start {rss_start / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB,"
                  f" growth {growth / 2**20:.1f} MiB for {sent_to_slow / 2**20:.0f} MiB of messages")
            assert growth < RSS_BOUND
            # The slow client comes back and resumes from the last position it applied (none).
            returning = StreamClient(owner, svc.secret, [svc.ws_url])
            tasks.append(asyncio.create_task(returning.run()))
            await catch_up([returning], database_url)
        finally:
            if slow is not None:
                reset(slow)
            await cancel_all(tasks)
        with psycopg.connect(database_url, autocommit=True) as check:
            for client in (fast, bystander, returning):
                verify_against_database(client, check)
        assert fast.connects == 1 and bystander.connects == 1
        assert len(returning.current) == (ROUNDS + 1) * PER_ROUND
