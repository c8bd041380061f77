"""Tools for fault and load tests: clients that check their stream, writers that keep writing.

`StreamClient` is what a browser tab does, made strict: it reconnects with
`since` = the last position it applied, and records every message it would
show twice or a position it would apply twice. At the end,
`verify_against_database` proves that what it holds is exactly what the
database committed, and that every position it never received belongs to a
change that no longer matters (a notification retracted before it could be
sent, which docs/WEBSOCKET.md allows).

Stream positions are given by the service's sequencer a few milliseconds
after a host commit, so `catch_up` first waits for it to take every commit.
The load (host writers, REST markers) must neither vanish nor fail quietly:
`cancel_all` re-raises what a background task died of, `WriterStats` counts
deadlocks and serialization failures apart from lost connections, and
`check_load` asserts there were none and that the load really ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from devkit.hostdata import add_post, add_user, wait_until_sequenced
from devkit.tokens import make_token

RECONNECT_ERRORS = (ConnectionClosed, InvalidHandshake, OSError, TimeoutError, EOFError)


@dataclass(eq=False)
class StreamClient:
    """One user's socket that resumes by position across any number of servers and failures."""

    user_id: int
    secret: str
    ws_urls: list[str]
    position: int = 0
    unread_count: int = 0
    current: dict[str, dict[str, Any]] = field(default_factory=dict)
    shown: set[str] = field(default_factory=set)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    resyncs: int = 0
    connects: int = 0
    messages: int = 0
    close_codes: list[int | None] = field(default_factory=list)
    preferred: int = 0
    # Cut the connection (no close frame) after this many messages, `cuts_left` times.
    cut_every: int = 0
    cuts_left: int = 0
    token_ttl: float = 3600.0  # a fresh token on every connect, as the web client does
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    history: list[tuple[int, int, str, list[str]]] = field(default_factory=list)
    _ws: Any = None

    def url(self) -> str:
        base = self.ws_urls[self.preferred % len(self.ws_urls)]
        token = make_token(self.user_id, self.secret, ttl=self.token_ttl)
        return f"{base}?token={token}&since={self.position}"

    async def run(self) -> None:
        """Stay connected until cancelled; on any failure, reconnect (to the next server)."""
        while True:
            try:
                async with websockets.connect(self.url(), open_timeout=3, close_timeout=1,
                                              ping_interval=None, max_size=2**22) as ws:
                    self._ws = ws
                    self.connects += 1
                    self.connected.set()
                    received = 0
                    async for raw in ws:
                        self.apply(raw)
                        received += 1
                        if self.cuts_left > 0 and received >= self.cut_every > 0:
                            self.cuts_left -= 1
                            ws.transport.abort()  # mid-stream: more is in flight
                            break
                    self.close_codes.append(ws.close_code)
            except RECONNECT_ERRORS as exc:
                if isinstance(exc, ConnectionClosed):
                    self.close_codes.append(exc.rcvd.code if exc.rcvd else None)
                self.preferred += 1
            finally:
                self._ws = None
                self.connected.clear()
            await asyncio.sleep(random.uniform(0.05, 0.2))

    async def drop(self) -> None:
        """Cut the connection the hard way (no close frame), as a lost network would."""
        ws = self._ws
        if ws is not None:
            ws.transport.abort()

    def apply(self, raw: str | bytes) -> None:
        """Apply one server message the way a careful client must."""
        if raw == "pong":
            return
        message: dict[str, Any] = json.loads(raw)
        kind = message["type"]
        if kind in ("hello", "pong", "error"):
            return
        if kind == "resync":
            self.resyncs += 1
            return
        position = int(message["position"])
        if position <= self.position:
            self.duplicates.append(f"position {position} again after {self.position}")
            return
        # One change may carry several rows (`notifications`, docs/WEBSOCKET.md).
        notes: list[dict[str, Any]] = (
            list(message.get("notifications") or [message["notification"]])
            if kind in ("notification", "notification_updated") else [])
        ids = [n["id"] for n in notes] if notes else list(message["ids"])
        self.history.append((self.connects, position, kind, ids))
        self.skipped.extend(range(self.position + 1, position))
        self.position = position
        self.unread_count = int(message["unread_count"])
        self.messages += 1
        if kind == "notification":
            for note in notes:
                if note["id"] in self.shown:
                    self.duplicates.append(f"notification {note['id']} shown twice")
                self.shown.add(note["id"])
                self.current[note["id"]] = note
        elif kind == "notification_updated":
            for note in notes:
                self.current[note["id"]] = note
        elif kind == "notification_deleted":
            for nid in message["ids"]:
                self.current.pop(nid, None)
        elif kind in ("read", "unread"):
            for nid in message["ids"]:
                if nid in self.current:
                    self.current[nid]["is_read"] = kind == "read"

    async def wait_for(self, position: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.position < position:
            if time.monotonic() > deadline:
                raise AssertionError(f"user {self.user_id}: stuck at position {self.position},"
                                     f" database at {position} (connects={self.connects},"
                                     f" closes={self.close_codes[-5:]})")
            await asyncio.sleep(0.05)


def stream_heads(conn: psycopg.Connection[Any], user_ids: list[int]) -> dict[int, int]:
    rows = conn.execute("SELECT user_id, last_seq FROM notification_counters"
                        " WHERE user_id = ANY(%s)", (user_ids,)).fetchall()
    heads = {u: 0 for u in user_ids}
    heads.update({int(u): int(s) for u, s in rows})
    return heads


def sequenced_heads(database_url: str, user_ids: list[int], timeout: float) -> dict[int, int]:
    """The users' stream heads once the running sequencer has taken every commit so far."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        wait_until_sequenced(conn, timeout=timeout)
        return stream_heads(conn, user_ids)


async def catch_up(clients: list[StreamClient], database_url: str, timeout: float = 30.0,
                   settle: float = 0.25) -> None:
    """Wait until every client has reached its user's stream head, and the heads stay put.

    Positions come from the service's sequencer after the commit, so the heads
    are read once it has taken every commit; they are read again after the
    clients reach them (`settle` seconds later) until they no longer move, so
    a write or mark-read still in flight when the load stopped is waited for.
    """
    deadline = time.monotonic() + timeout
    users = sorted({c.user_id for c in clients})
    reached: dict[int, int] | None = None
    while True:
        left = max(0.1, deadline - time.monotonic())
        heads = await asyncio.to_thread(sequenced_heads, database_url, users, left)
        if heads == reached:
            return
        await asyncio.gather(*(c.wait_for(heads[c.user_id], max(0.1, deadline - time.monotonic()))
                               for c in clients))
        reached = heads
        await asyncio.sleep(settle)


def verify_against_database(client: StreamClient, conn: psycopg.Connection[Any]) -> None:
    """The client holds exactly the user's committed notifications; nothing shown twice."""
    user = client.user_id
    pending = conn.execute("SELECT (SELECT count(*) FROM notification_changes WHERE user_id = %s)"
                           " + (SELECT count(*) FROM notification_requests)", (user,)).fetchone()
    assert pending == (0,), f"user {user}: changes not sequenced yet (catch_up first): {pending}"
    assert client.duplicates == [], f"user {user}: {client.duplicates[:5]}"
    assert client.resyncs == 0, f"user {user}: told to resync {client.resyncs} time(s)"
    row = conn.execute("SELECT unread_count, last_seq FROM notification_counters WHERE user_id = %s",
                       (user,)).fetchone()
    unread, head = (0, 0) if row is None else (int(row[0]), int(row[1]))
    assert client.position == head, f"user {user}: at {client.position}, stream head {head}"
    assert client.unread_count == unread
    rows = conn.execute("SELECT id::text, is_read FROM notifications WHERE user_id = %s",
                        (user,)).fetchall()
    in_db = {nid: is_read for nid, is_read in rows}
    held = {nid: bool(n["is_read"]) for nid, n in client.current.items()}
    missing, extra = set(in_db) - set(held), set(held) - set(in_db)
    assert not missing and not extra, (
        f"user {user}: {len(missing)} committed notification(s) never shown, {len(extra)} shown"
        f" that no longer exist")
    assert held == in_db, f"user {user}: read state differs"
    if client.skipped:
        # A skipped position is allowed only for a change whose rows are gone by now.
        still_there = conn.execute(
            "SELECT e.seq FROM notification_events e WHERE e.user_id = %s AND e.seq = ANY(%s)"
            " AND (e.kind NOT IN ('created', 'updated') OR EXISTS (SELECT 1 FROM notifications n"
            " WHERE n.id = ANY(e.notification_ids)))", (user, client.skipped)).fetchall()
        assert still_there == [], f"user {user}: positions {still_there[:5]} were never delivered"


@dataclass
class World:
    """Owners with a post each, and actors to react and comment on them."""

    owners: list[int]
    posts: dict[int, int]
    actors: list[int]


def make_world(conn: psycopg.Connection[Any], owners: int, actors: int,
               art_url: str = "https://art.example/a.png") -> World:
    tag = uuid.uuid4().hex[:8]  # the world may be made in a database that has users already
    owner_ids = [add_user(conn, f"owner{i}_{tag}") for i in range(owners)]
    actor_ids = [add_user(conn, f"actor{i}_{tag}") for i in range(actors)]
    posts = {o: add_post(conn, o, f"post of {o}", art_url) for o in owner_ids}
    return World(owner_ids, posts, actor_ids)


@dataclass
class WriterStats:
    """What the host writers did: commits, lost connections, and conflicts that must not happen."""

    commits: int = 0
    failures: int = 0  # lost or refused connections (an outage the test causes), by type below
    failure_kinds: dict[str, int] = field(default_factory=dict)
    # Our triggers must never cause these in a host write (the contract: no new error, no
    # deadlock); counted apart from outages so that no test can take one for a lost connection.
    deadlocks: int = 0
    serialization_failures: int = 0

    def failed(self, exc: BaseException) -> None:
        if isinstance(exc, psycopg.errors.DeadlockDetected):
            self.deadlocks += 1
        elif isinstance(exc, psycopg.errors.SerializationFailure):
            self.serialization_failures += 1
        else:
            self.failures += 1
            name = type(exc).__name__
            self.failure_kinds[name] = self.failure_kinds.get(name, 0) + 1


def check_load(stats: WriterStats, clients: list[StreamClient], *, min_commits: int,
               min_messages: int = 1) -> None:
    """The load really ran (so the oracle cannot pass at position 0) and met no conflict."""
    assert stats.deadlocks == 0, f"host writes met {stats.deadlocks} deadlock(s)"
    assert stats.serialization_failures == 0, (
        f"host writes met {stats.serialization_failures} serialization failure(s)")
    assert stats.commits >= min_commits, f"only {stats.commits} host writes committed"
    delivered = sum(c.messages for c in clients)
    assert delivered >= min_messages, f"only {delivered} socket messages delivered"


async def host_writer(database_url: str, world: World, stop: asyncio.Event, stats: WriterStats,
                      *, pause: float = 0.005, seed: int = 0) -> None:
    """Plain-SQL host writes (react, un-react, comment, soft-delete) until `stop`; survives outages."""
    rng = random.Random(seed)
    mine: list[int] = []
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True,
                                                             connect_timeout=3) as conn:
                while not stop.is_set():
                    owner = rng.choice(world.owners)
                    actor = rng.choice(world.actors)
                    post = world.posts[owner]
                    roll = rng.random()
                    if roll < 0.6 or not mine:
                        cur = await conn.execute(
                            "INSERT INTO reactions (post_id, user_id, emoji) VALUES (%s, %s, %s)"
                            " RETURNING id", (post, actor, rng.choice("🔥❤️👍✨")))
                        row = await cur.fetchone()
                        assert row is not None
                        mine.append(int(row[0]))
                    elif roll < 0.75:
                        await conn.execute("DELETE FROM reactions WHERE id = %s",
                                           (mine.pop(rng.randrange(len(mine))),))
                    elif roll < 0.95:
                        await conn.execute(
                            "INSERT INTO comments (id, post_id, author_id, body)"
                            " VALUES (%s, %s, %s, %s)", (uuid.uuid4(), post, actor, f"c{roll}"))
                    else:
                        await conn.execute(
                            "UPDATE comments SET deleted_by_owner = true, original_body = body,"
                            " body = '[deleted]' WHERE id = (SELECT id FROM comments"
                            " WHERE post_id = %s AND NOT deleted_by_owner LIMIT 1)", (post,))
                    stats.commits += 1
                    await asyncio.sleep(pause)
        except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as exc:
            # DeadlockDetected and SerializationFailure are OperationalErrors too: counted apart.
            stats.failed(exc)
            await asyncio.sleep(0.1)


async def rest_marker(base_urls: list[str], user_ids: list[int], secret: str, stop: asyncio.Event,
                      statuses: dict[int, int], *, pause: float = 0.05, seed: int = 0) -> None:
    """REST readers and markers: list, mark some read, mark all read up to the seen position."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(timeout=5) as http:
        while not stop.is_set():
            base = rng.choice(base_urls) + "/api/notifications"
            user = rng.choice(user_ids)
            headers = {"Authorization": f"Bearer {make_token(user, secret)}"}
            with contextlib.suppress(httpx.HTTPError):
                page = await http.get(base + "/", headers=headers, params={"limit": 20})
                statuses[page.status_code] = statuses.get(page.status_code, 0) + 1
                if page.status_code == 200:
                    body = page.json()
                    if rng.random() < 0.5 and body["items"]:
                        ids = [n["id"] for n in body["items"][:3]]
                        r = await http.post(base + "/mark-read", headers=headers, json=ids)
                    else:
                        r = await http.post(base + "/mark-all-read", headers=headers,
                                            json={"up_to": body["position"]})
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            await asyncio.sleep(pause)


async def finish(stop: asyncio.Event, load: list[asyncio.Task[Any]], timeout: float = 10.0) -> None:
    """Stop the load and wait for its tasks to end by themselves; re-raise what any died of."""
    stop.set()
    async with asyncio.timeout(timeout):
        await asyncio.gather(*load)


async def cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel background tasks and re-raise what any of them died of: a crash must not vanish."""
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results
              if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BaseExceptionGroup(f"{len(errors)} background tasks failed", errors)
