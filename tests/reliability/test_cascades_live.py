"""Hard deletes that cascade across many users reach every open socket exactly."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

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
from tests.reliability.test_faults import log_on_failure

pytestmark = pytest.mark.timeout(90)


async def test_account_purge_and_takedown_reach_every_socket(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Purging an actor and taking down a post retract across users; every client ends exact."""
    world = make_world(conn, owners=5, actors=3)
    purged, kept, other = world.actors
    for owner, post in world.posts.items():
        for actor in world.actors:
            conn.execute("INSERT INTO reactions (post_id, user_id, emoji)"
                         " SELECT %s, %s, 'e' || g FROM generate_series(1, 5) g", (post, actor))
            conn.execute("INSERT INTO comments (id, post_id, author_id, body) VALUES (%s, %s, %s, %s)",
                         (uuid.uuid4(), post, actor, f"from {actor} to {owner}"))
    with running_service(database_url) as svc, log_on_failure(svc):
        clients = [StreamClient(o, svc.secret, [svc.ws_url]) for o in world.owners]
        tasks = [asyncio.create_task(c.run()) for c in clients]
        try:
            await catch_up(clients, database_url)
            with conn.transaction():  # one host transaction touching every recipient
                conn.execute("DELETE FROM users WHERE id = %s", (purged,))
                conn.execute("DELETE FROM posts WHERE id = %s", (world.posts[world.owners[1]],))
                conn.execute("DELETE FROM reactions WHERE user_id = %s AND emoji = 'e1'", (kept,))
            conn.execute("UPDATE comments SET hidden_by_mod = true WHERE author_id = %s", (other,))
            await catch_up(clients, database_url)
        finally:
            await cancel_all(tasks)
        remaining = conn.execute("SELECT count(*) FROM notifications").fetchone()
        assert remaining == (4 * (4 + 1 + 5),)  # kept: 4 reactions + comment; other: 5 reactions
        for client in clients:
            verify_against_database(client, conn)
            assert client.connects == 1
