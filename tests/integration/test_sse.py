"""Server-Sent Events, `GET /api/notifications/stream`, against a real service: the socket's
messages over plain HTTP streaming, resumed by `Last-Event-ID`, with the socket's rules.

The reader (tests/integration/sse_client.py) parses the stream as a browser's
EventSource does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import Any

import httpx
import psycopg
import pytest

from devkit import scrape
from devkit.hostdata import add_post, react, wait_until_sequenced
from devkit.netproxy import FaultProxy
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from pg_social_notifications.auth import Caller
from pg_social_notifications.stream_tickets import StreamTickets
from tests.integration.service_fixtures import db, new_user, service, shared_database_url
from tests.integration.sse_client import EventReader, open_stream, stream_url, ticket_for
from tests.integration.ws_client import connect

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(90)


def owner_with_post(db: psycopg.Connection[Any]) -> tuple[int, int, int]:
    owner, actor = new_user(db), new_user(db, "actor")
    return owner, actor, add_post(db, owner)


def metric(svc: ServiceProcess, name: str) -> float:
    return scrape.metric(svc.base_url, name)


async def test_hello_then_live_with_the_stream_headers(service: ServiceProcess,
                                                       db: psycopg.Connection[Any]) -> None:
    """200 text/event-stream, uncached and unbuffered; `retry:`, hello (id = its position),
    then a live notification whose `id:` is its position."""
    owner, actor, post = owner_with_post(db)
    async with open_stream(service.base_url, token=make_token(owner, service.secret)) as (
            response, events):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "no-cache" in response.headers["cache-control"]
        assert response.headers["x-accel-buffering"] == "no"
        hello = await events.next()
        assert events.retry is not None and 1000 <= events.retry <= 5000
        assert (hello.id, hello.event) == ("0", "message")
        assert hello.json() == {"type": "hello", "user_id": owner, "unread_count": 0,
                                "position": 0}
        react(db, post, actor, "live")
        live = await events.next()
        message = live.json()
        assert (live.id, message["type"], message["position"], message["unread_count"]) == (
            "1", "notification", 1, 1)
        assert message["notification"]["emoji"] == "live"
        assert metric(service, "notifications_sse_open_streams") == 1


async def test_the_stream_carries_the_sockets_messages_byte_for_byte(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """The same user's socket and stream, open together, get identical JSON text."""
    owner, actor, post = owner_with_post(db)
    react(db, post, actor, "before")
    wait_until_sequenced(db)
    token = make_token(owner, service.secret)
    async with connect(f"{service.ws_url}?token={token}&since=0") as ws, \
            open_stream(service.base_url, token=token, since=0) as (_, events):
        socket_texts: list[str] = []
        stream_events = []
        # Step by step: a message shows its row as it is when sent (docs/WEBSOCKET.md).
        for change, count in ((None, 2), (lambda: react(db, post, actor, "after"), 1), (
                lambda: db.execute("UPDATE notifications SET is_read = true WHERE user_id = %s",
                                   (owner,)), 1)):
            if change is not None:
                change()
            socket_texts += [str(await asyncio.wait_for(ws.recv(), 5)) for _ in range(count)]
            stream_events += [await events.next() for _ in range(count)]
    assert [e.data for e in stream_events] == socket_texts
    assert [json.loads(t)["type"] for t in socket_texts] == [
        "hello", "notification", "notification", "read"]
    # hello's id is where the stream continues (the replay follows), the others' their own.
    assert [e.id for e in stream_events] == ["0", "1", "2", "3"]


async def test_last_event_id_resumes_with_exactly_the_missed_ones(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """Disconnect after position 2, miss three changes, come back with Last-Event-ID: 2 —
    exactly 3, 4, 5 replayed, then live; `since` does the same for a first connect, and
    Last-Event-ID (an EventSource's own reconnect) wins over a stale `since` in the URL."""
    owner, actor, post = owner_with_post(db)
    token = make_token(owner, service.secret)
    async with open_stream(service.base_url, token=token) as (_, events):
        await events.next()
        react(db, post, actor, "1")
        react(db, post, actor, "2")
        seen = [await events.next() for _ in range(2)]
    assert [e.id for e in seen] == ["1", "2"]
    for emoji in "345":
        react(db, post, actor, emoji)
    wait_until_sequenced(db)
    async with open_stream(service.base_url, token=token, since=0, last_event_id="2") as (
            _, events):
        hello = (await events.next()).json()
        assert (hello["position"], hello["unread_count"]) == (5, 5)
        replayed = [await events.next() for _ in range(3)]
        assert [(e.id, e.json()["notification"]["emoji"]) for e in replayed] == [
            ("3", "3"), ("4", "4"), ("5", "5")]
        react(db, post, actor, "6")
        assert (await events.next()).id == "6"
        assert await events.nothing()
    async with open_stream(service.base_url, token=token, since=4) as (_, events):
        first = await events.next()
        assert first.id == "4"  # hello: the stream continues after 4, not after 6
        assert [e.id for e in [await events.next() for _ in range(2)]] == ["5", "6"]
        assert await events.nothing()


async def test_since_ahead_or_too_old_gets_resync(service: ServiceProcess,
                                                  db: psycopg.Connection[Any]) -> None:
    owner, actor, post = owner_with_post(db)
    for emoji in "abc":
        react(db, post, actor, emoji)
    wait_until_sequenced(db)
    async with open_stream(service.base_url, token=make_token(owner, service.secret),
                           last_event_id="99") as (_, events):
        await events.next()
        resync = await events.next()
        assert resync.id == "3"
        assert resync.json() == {"type": "resync", "position": 3, "unread_count": 3}


@pytest.mark.parametrize(("header", "value"), [
    ("Last-Event-ID", "abc"), ("Last-Event-ID", "-1"), ("Last-Event-ID", "²"),
    ("Last-Event-ID", "1.5"), ("Last-Event-ID", "9" * 30), ("since", "x"), ("since", "-3"),
    ("since", "²"), ("since", "１"),
])
def test_a_bad_position_is_400_with_a_json_body(service: ServiceProcess, db: psycopg.Connection[Any],
                                                header: str, value: str) -> None:
    token = make_token(new_user(db), service.secret)
    headers: dict[str, str | bytes] = {"Authorization": f"Bearer {token}"}
    params = {}
    if header == "since":
        params["since"] = value
    else:
        headers[header] = value.encode()  # raw UTF-8 bytes for "²"
    answer = httpx.get(stream_url(service.base_url), headers=headers, params=params, timeout=10)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"status_code": 400,
                             "detail": f"{header} must be a non-negative integer"}


def test_bad_credentials_are_401_with_a_json_body(service: ServiceProcess,
                                                  db: psycopg.Connection[Any]) -> None:
    """No credentials, a forged, expired or malformed token, a forged, tampered or spent
    ticket: 401 with the reason and WWW-Authenticate, before any stream starts."""
    user = new_user(db)
    url = stream_url(service.base_url)
    forged_tickets = StreamTickets("another-secret-another-secret-0123")
    ours = StreamTickets(service.secret)
    good = ours.issue(Caller(user, time.time() + 600))
    payload, _, mac = good.partition(".")
    cases: list[tuple[dict[str, str], dict[str, str], str]] = [
        ({}, {}, "missing Authorization: Bearer <token> header or ?ticket="),
        ({"Authorization": f"Bearer {make_token(user, 'wrong-secret-wrong-secret-wrong-1')}"}, {},
         "invalid token signature"),
        ({"Authorization": f"Bearer {make_token(user, service.secret, ttl=-5)}"}, {},
         "token expired"),
        ({"Authorization": "Bearer garbage"}, {}, "malformed token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, {}, "Authorization header must be 'Bearer <token>'"),
        ({}, {"ticket": forged_tickets.issue(Caller(user, time.time() + 600))},
         "invalid stream ticket signature"),
        ({}, {"ticket": payload[:-2] + "AA." + mac}, "invalid stream ticket signature"),
        ({}, {"ticket": "x" * 300}, "malformed stream ticket"),
        ({}, {"ticket": ours.issue(Caller(user, time.time() + 600), now=time.time() - 60)},
         "stream ticket expired"),
    ]
    for headers, params, detail in cases:
        answer = httpx.get(url, headers=headers, params=params, timeout=10)
        assert answer.status_code == 401, (detail, answer.text)
        assert answer.json() == {"status_code": 401, "detail": detail}
        assert answer.headers["www-authenticate"].startswith("Bearer")
    # A ticket opens one stream: the second use is refused.
    token = make_token(user, service.secret)
    ticket = httpx.post(service.base_url + "/api/notifications/stream/ticket",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["ticket"]
    with httpx.stream("GET", url, params={"ticket": ticket}, timeout=10) as first:
        assert first.status_code == 200
        again = httpx.get(url, params={"ticket": ticket}, timeout=10)
        assert again.status_code == 401 and again.json()["detail"] == "stream ticket already used"
    assert httpx.post(service.base_url + "/api/notifications/stream/ticket",
                      timeout=10).status_code == 401


async def test_a_ticket_opens_its_users_stream_only(service: ServiceProcess,
                                                    db: psycopg.Connection[Any]) -> None:
    """Tickets are issued for the token's user; A's stream, even from since=0, never carries
    B's replay or live changes, and the ticket never appears in the service's log."""
    a, actor, post_a = owner_with_post(db)
    b, _, post_b = owner_with_post(db)
    react(db, post_b, actor, "b-before")
    wait_until_sequenced(db)
    issued = httpx.post(service.base_url + "/api/notifications/stream/ticket",
                        headers={"Authorization": f"Bearer {make_token(a, service.secret)}"},
                        timeout=10)
    assert issued.status_code == 200 and issued.json()["expires_in"] == 30
    ticket = issued.json()["ticket"]
    async with open_stream(service.base_url, ticket=ticket, since=0) as (_, events):
        assert (await events.next()).json()["user_id"] == a
        react(db, post_b, actor, "b-live")
        react(db, post_a, actor, "mine")
        message = (await events.next()).json()
        assert (message["type"], message["notification"]["emoji"]) == ("notification", "mine")
        assert message["notification"]["content_id"] == post_a
        assert await events.nothing()
    assert ticket not in service.log_text() and ticket.partition(".")[2] not in service.log_text()


async def test_token_expiry_ends_the_stream_with_4401(service: ServiceProcess,
                                                      db: psycopg.Connection[Any]) -> None:
    """The stream ends when the token (or the ticket's token) expires, as a socket does:
    a last `close` event with the socket's code, then the end of the response."""
    user = new_user(db)
    for how in ("header", "ticket"):
        token = make_token(user, service.secret, ttl=3)
        ticket = await ticket_for(service.base_url, token) if how == "ticket" else None
        async with open_stream(service.base_url, token=None if ticket else token,
                               ticket=ticket) as (_, events):
            await events.next()
            closed = await events.next(timeout=10)
            assert (closed.event, closed.json()) == ("close", {"code": 4401,
                                                               "reason": "token expired"})
            with pytest.raises(EOFError):
                await events.next()


def test_head_answers_the_headers_without_a_stream(service: ServiceProcess,
                                                   db: psycopg.Connection[Any]) -> None:
    token = make_token(new_user(db), service.secret)
    started = time.monotonic()
    head = httpx.head(stream_url(service.base_url), headers={"Authorization": f"Bearer {token}"},
                      timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/event-stream")
    assert time.monotonic() - started < 2
    assert httpx.head(stream_url(service.base_url), timeout=10).status_code == 401


async def read_comments(events: EventReader, count: int, timeout: float) -> list[str]:
    async with asyncio.timeout(timeout):
        while len(events.comments) < count:
            await asyncio.sleep(0.05)
    return events.comments


async def test_heartbeats_origins_caps_and_busy(database_url: str,
                                                conn: psycopg.Connection[Any]) -> None:
    """With a 0.5 s heartbeat: `: ping` comments while idle. With an Origin allow-list: a
    foreign Origin is 403 on the stream and the ticket (a same-origin GET carries none and
    passes). Two streams per user: the third is 429 with Retry-After. One handshake slot and
    no waiting: part of a wave of 40 is 503 with Retry-After, the rest get hello."""
    users = [new_user(conn, "wave") for _ in range(40)]
    env = {"NOTIFICATIONS_SSE_HEARTBEAT_INTERVAL": "0.5",
           "NOTIFICATIONS_ALLOWED_ORIGINS": "https://art.example",
           "NOTIFICATIONS_WS_MAX_SOCKETS_PER_USER": "2"}
    with running_service(database_url, env=env) as svc:
        token = make_token(users[0], svc.secret)
        async with open_stream(svc.base_url, token=token,
                               headers={"Origin": "https://art.example"}) as (allowed, events):
            # CORS as on the REST API: a page on that origin may read the stream.
            assert allowed.headers["access-control-allow-origin"] == "https://art.example"
            await events.next()
            assert (await read_comments(events, 3, timeout=5))[:3] == ["ping"] * 3
            async with open_stream(svc.base_url, token=token) as (second, _):
                assert second.status_code == 200
                third = httpx.get(stream_url(svc.base_url), timeout=10,
                                  headers={"Authorization": f"Bearer {token}"})
                assert third.status_code == 429, third.text
                assert "at most 2 sockets per user" in third.json()["detail"]
                assert 1 <= int(third.headers["retry-after"]) <= 5
        for origin in ("https://evil.example", "null", "https://art.example.evil.example"):
            foreign = httpx.get(stream_url(svc.base_url), timeout=10,
                                headers={"Authorization": f"Bearer {token}", "Origin": origin})
            assert foreign.status_code == 403, foreign.text
            assert foreign.json() == {"status_code": 403, "detail": "origin not allowed"}
            issued = httpx.post(svc.base_url + "/api/notifications/stream/ticket", timeout=10,
                                headers={"Authorization": f"Bearer {token}", "Origin": origin})
            assert issued.status_code == 403, issued.text
    env = {"NOTIFICATIONS_WS_MAX_HANDSHAKES": "1", "NOTIFICATIONS_WS_ADMISSION_WAIT": "0.001"}
    with running_service(database_url, env=env) as svc:
        async def one(user: int) -> tuple[int, str, str]:
            async with open_stream(svc.base_url, token=make_token(user, svc.secret)) as (
                    response, events):
                if response.status_code != 200:
                    await response.aread()
                    return response.status_code, response.headers.get("retry-after", ""), \
                        response.json()["detail"]
                return 200, "", (await events.next()).json()["type"]

        outcomes = await asyncio.gather(*(one(u) for u in users))
        refused = [o for o in outcomes if o[0] != 200]
        assert refused and any(o == (200, "", "hello") for o in outcomes), outcomes
        for status, retry_after, detail in refused:
            assert status == 503 and 1 <= int(retry_after) <= 5, (status, retry_after, detail)
            assert re.fullmatch(r"busy; retry after \d+ ms", detail), detail
        assert metric(svc, "notifications_ws_handshakes_refused_total") == len(refused)


async def test_a_consumer_that_does_not_read_is_ended_like_4409_and_resumes_exactly(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Through a proxy that stops reading, as a slow network would: a burst backs up past a
    queue of four, the service ends the stream as it closes such a socket with 4409
    (counted in /metrics), and a resume with Last-Event-ID replays the rest exactly."""
    owner, actor = new_user(conn), new_user(conn, "actor")
    post = add_post(conn, owner)
    burst = 3000
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = NULL")
    # Long URLs make the burst (about 5 MB) outgrow every buffer on the way.
    conn.execute("UPDATE posts SET art_url = 'https://art.example/' || repeat('a', 970)"
                 " WHERE id = %s", (post,))
    conn.execute("UPDATE users SET avatar_url = 'https://avatars.example/' || repeat('b', 470)"
                 " WHERE id = %s", (actor,))
    env = {"NOTIFICATIONS_WS_QUEUE_SIZE": "4", "NOTIFICATIONS_WS_REPLAY_LIMIT": "10000"}
    with running_service(database_url, env=env) as svc, \
            contextlib.closing(FaultProxy("127.0.0.1", svc.port, receive_buffer=4096)) as proxy:
        token = make_token(owner, svc.secret)
        base = f"http://127.0.0.1:{proxy.port}"
        seen: list[int] = []
        async with open_stream(base, token=token) as (_, events):
            await events.next()
            proxy.pause()
            conn.execute("INSERT INTO comments (id, post_id, author_id, body)"
                         " SELECT gen_random_uuid(), %s, %s, 'burst ' || g"
                         " FROM generate_series(1, %s) g", (post, actor, burst))
            deadline = time.monotonic() + 30
            while metric(svc, "notifications_ws_slow_client_closes_total") < 1:
                assert time.monotonic() < deadline, svc.log_text()[-2000:]
                await asyncio.sleep(0.2)
            proxy.resume()
            with contextlib.suppress(EOFError):
                while True:
                    event = await events.next(timeout=20)
                    if event.event == "close":
                        assert event.json()["code"] == 4409
                        continue
                    seen.append(int(event.json()["position"]))
        assert seen == list(range(1, len(seen) + 1)) and len(seen) < burst
        assert metric(svc, "notifications_sse_open_streams") == 0
        async with open_stream(svc.base_url, token=token, last_event_id=str(seen[-1])) as (
                _, events):
            assert (await events.next()).json()["position"] == burst
            while len(seen) < burst:
                seen.append(int((await events.next(timeout=20)).json()["position"]))
        assert seen == list(range(1, burst + 1))
        assert "Traceback" not in svc.log_text()


async def test_a_restart_ends_open_streams_at_once_with_1001(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """SIGTERM: every open stream gets `close` 1001 and ends at once, so the service exits
    promptly (uvicorn would otherwise wait its graceful timeout for the responses, then
    cancel them with a traceback each)."""
    users = [new_user(conn) for _ in range(3)]
    with running_service(database_url) as svc:
        async with contextlib.AsyncExitStack() as stack:
            readers = [(await stack.enter_async_context(
                open_stream(svc.base_url, token=make_token(u, svc.secret))))[1] for u in users]
            for events in readers:
                await events.next()
            started = time.monotonic()
            stopping = asyncio.create_task(asyncio.to_thread(svc.stop))
            for events in readers:
                closed = await events.next(timeout=5)
                assert (closed.event, closed.json()) == ("close", {
                    "code": 1001, "reason": "service shutting down"})
                with pytest.raises(EOFError):
                    await events.next(timeout=5)
            await stopping
            assert time.monotonic() - started < 4
        log = svc.log_text()
        assert "Traceback" not in log and "timeout graceful shutdown exceeded" not in log, log
