"""Write transactions survive a real deadlock: PostgreSQL aborts one, the service runs it again."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from devkit.hostdata import add_user
from pg_social_notifications import store

pytestmark = pytest.mark.timeout(60)


async def test_deadlocked_write_is_retried(database_url: str,
                                           conn: psycopg.Connection[Any]) -> None:
    """Two transactions locking two rows in opposite order both commit in the end."""
    first, second = add_user(conn, "one"), add_user(conn, "two")
    attempts = {"a": 0, "b": 0}
    both_hold_one = asyncio.Barrier(2)

    def locker(name: str, order: tuple[int, int]) -> Any:
        async def work(c: store.AConn) -> str:
            attempts[name] += 1
            await c.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (order[0],))
            if attempts[name] == 1:
                await both_hold_one.wait()
            await c.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (order[1],))
            await c.execute("UPDATE users SET avatar_url = %s WHERE id = %s", (name, order[0]))
            return name
        return work

    async with AsyncConnectionPool(database_url, min_size=2, max_size=2, open=False) as pool:
        await pool.open()
        results = await asyncio.gather(
            store.run(pool, locker("a", (first, second))),
            store.run(pool, locker("b", (second, first))))
    assert sorted(results) == ["a", "b"]
    assert sorted(attempts.values()) == [1, 2]  # exactly one was the deadlock victim
    rows = dict(conn.execute("SELECT id, avatar_url FROM users").fetchall())
    assert rows == {first: "a", second: "b"}
