"""Cookie auth (NOTIFICATIONS_JWT_COOKIE) against a real service: the host's JWT in its session
cookie authenticates REST, the WebSocket and the event stream, and a request a page on
another site can make the browser send (a write, an upgrade) needs a trusted Origin.

`cookie_service` trusts its own origin only (http://127.0.0.1:<port>, from the Host
header), as a same-origin site is served; `listed_service` also trusts
https://art.example (NOTIFICATIONS_ALLOWED_ORIGINS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from devkit.hostdata import add_post, react, wait_until_sequenced
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, new_user, service, shared_database_url
from tests.integration.sse_client import open_stream
from tests.integration.ws_client import close_code, connect, recv_json

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(90)
API = "/api/notifications"
COOKIE = "art_session"
LISTED = "https://art.example"
EVIL = "https://evil.example"
Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def cookie_service(shared_database_url: str) -> Iterator[ServiceProcess]:
    """A service that reads the JWT from the `art_session` cookie."""
    with running_service(shared_database_url, env={"NOTIFICATIONS_JWT_COOKIE": COOKIE}) as svc:
        yield svc


@pytest.fixture(scope="module")
def listed_service(shared_database_url: str) -> Iterator[ServiceProcess]:
    """The same, with https://art.example in NOTIFICATIONS_ALLOWED_ORIGINS."""
    with running_service(shared_database_url, env={
            "NOTIFICATIONS_JWT_COOKIE": COOKIE, "NOTIFICATIONS_ALLOWED_ORIGINS": LISTED}) as svc:
        yield svc


def own_origin(svc: ServiceProcess) -> Origin:
    return Origin(svc.base_url)  # what a page served by the service has: http://127.0.0.1:<port>


def cookie_header(token: str) -> dict[str, str]:
    """The Cookie header a browser sends: the host's session cookie among others."""
    return {"Cookie": f"theme=dark; {COOKIE}={token}; tracking=1"}


def cookie_client(svc: ServiceProcess, user: int, origin: str | None = None,
                  token: str | None = None) -> httpx.Client:
    headers = cookie_header(token or make_token(user, svc.secret))
    if origin is not None:
        headers["Origin"] = origin
    return httpx.Client(base_url=svc.base_url + API, headers=headers, timeout=10)


def owner_with_notification(db: Conn) -> tuple[int, int, int, str]:
    """An owner with one unread notification, sequenced: (owner, actor, post, its id)."""
    owner, actor = new_user(db), new_user(db, "actor")
    post = add_post(db, owner)
    react(db, post, actor, "🔥")
    wait_until_sequenced(db)
    row = db.execute("SELECT id FROM notifications WHERE user_id = %s", (owner,)).fetchone()
    assert row is not None
    return owner, actor, post, str(row[0])


def is_read(db: Conn, notification_id: str) -> bool:
    row = db.execute("SELECT is_read FROM notifications WHERE id = %s", (notification_id,)).fetchone()
    assert row is not None
    return bool(row[0])


def test_reads_by_cookie_need_no_origin(cookie_service: ServiceProcess, db: Conn) -> None:
    """GET the list and the unread count with only the cookie (no Origin, as a same-origin
    fetch sends none): the cookie's user's data."""
    owner, _, _, notification_id = owner_with_notification(db)
    with cookie_client(cookie_service, owner) as c:
        page = c.get("/")
        assert page.status_code == 200, page.text
        assert notification_id in page.text  # (whatever the list's field is called)
        assert c.get("/unread-count").json()["unread_count"] == 1
        assert c.head("/unread-count").status_code == 200
    with cookie_client(cookie_service, owner, origin=EVIL) as c:
        # A cross-site page may make the browser send this, but cannot read the answer
        # (CORS allows no credentials): a read changes nothing, so it is not refused.
        assert c.get("/unread-count").status_code == 200


@pytest.mark.parametrize("origin", [EVIL, None, "null", "https://art.example.evil.example",
                                    "http://127.0.0.1", "https://127.0.0.1"])
def test_a_cross_site_write_by_cookie_is_refused_and_changes_nothing(
        cookie_service: ServiceProcess, db: Conn, origin: str | None) -> None:
    """mark-read, mark-all-read, DELETE, PUT preferences and the stream ticket, by cookie,
    from another origin (or with none): 403 with the API's error JSON, and the
    notification stays unread, undeleted, the preference unchanged."""
    owner, _, _, notification_id = owner_with_notification(db)
    with cookie_client(cookie_service, owner, origin=origin) as c:
        answers = [
            c.post("/mark-read", json=[notification_id]),
            c.post("/mark-all-read"),
            # A form on the other site can post text/plain that happens to be JSON.
            c.post("/mark-read", content=json.dumps([notification_id]),
                   headers={"Content-Type": "text/plain"}),
            c.delete(f"/{notification_id}"),
            c.put("/preferences", json={"notify_on_post_reactions": False}),
            c.post("/stream/ticket"),
        ]
    for answer in answers:
        assert answer.status_code == 403, (answer.request.method, answer.request.url, answer.text)
        assert answer.json() == {"status_code": 403, "detail": (
            f"a {answer.request.method} authenticated by cookie needs an Origin header"
            if origin is None else "origin not allowed for a request authenticated by cookie")}
    assert is_read(db, notification_id) is False
    row = db.execute("SELECT notify_on_post_reactions FROM notification_preferences"
                     " WHERE user_id = %s", (owner,)).fetchone()
    assert row is None or row[0] is True
    with cookie_client(cookie_service, owner) as c:
        assert c.get("/unread-count").json()["unread_count"] == 1


def test_a_write_by_cookie_from_a_trusted_origin_works(
        cookie_service: ServiceProcess, listed_service: ServiceProcess, db: Conn) -> None:
    """The service's own origin, and a listed one where listed, may mark read, delete and
    ticket by cookie."""
    owner, actor, post, first = owner_with_notification(db)
    with cookie_client(cookie_service, owner, origin=own_origin(cookie_service)) as c:
        marked = c.post("/mark-read", json=[first])
        assert marked.status_code == 200, marked.text
        assert (marked.json()["marked"], marked.json()["unread_count"]) == (1, 0)
        assert c.post("/stream/ticket").status_code == 200
    assert is_read(db, first) is True
    react(db, post, actor, "second")
    wait_until_sequenced(db)
    with cookie_client(cookie_service, owner, origin=LISTED) as c:
        assert c.post("/mark-all-read").status_code == 403  # not listed there
    with cookie_client(listed_service, owner, origin=LISTED) as c:
        assert c.post("/mark-all-read").json()["unread_count"] == 0
        assert c.delete(f"/{first}").status_code == 204
        assert c.put("/preferences", json={"aggregate_same_type": False}).status_code == 200
    assert db.execute("SELECT count(*) FROM notifications WHERE id = %s", (first,)).fetchone() == (0,)


def test_bearer_wins_and_needs_no_origin(cookie_service: ServiceProcess, db: Conn) -> None:
    """A write by Bearer needs no Origin, even from another site (a page cannot send the header
    without the token); with a cookie too, the header's user is the caller."""
    owner, _, _, notification_id = owner_with_notification(db)
    other = new_user(db, "other")
    bearer = {"Authorization": f"Bearer {make_token(owner, cookie_service.secret)}"}
    with httpx.Client(base_url=cookie_service.base_url + API, timeout=10) as c:
        both = {**bearer, **cookie_header(make_token(other, cookie_service.secret)),
                "Origin": EVIL}
        assert c.get("/unread-count", headers=both).json()["unread_count"] == 1
        marked = c.post("/mark-read", json=[notification_id], headers=bearer)
        assert marked.status_code == 200 and marked.json()["marked"] == 1
        assert c.post("/mark-all-read", headers=both).status_code == 200
    assert is_read(db, notification_id) is True


def test_only_listed_origins_may_read_what_the_cookie_opens(
        cookie_service: ServiceProcess, listed_service: ServiceProcess, db: Conn) -> None:
    """CORS with credentials for the listed origins of a cookie site (a host page on another
    origin of the site may fetch with the cookie), for no one else; without a list, any
    origin, and never with credentials."""
    owner, _, _, _ = owner_with_notification(db)
    headers = cookie_header(make_token(owner, listed_service.secret))
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    url = listed_service.base_url + API
    read = httpx.get(url + "/unread-count", headers={**headers, "Origin": LISTED}, timeout=10)
    assert (read.headers.get("access-control-allow-origin"),
            read.headers.get("access-control-allow-credentials")) == (LISTED, "true")
    asked = httpx.options(url + "/mark-read", headers={"Origin": LISTED, **preflight}, timeout=10)
    assert asked.status_code in (200, 204)
    assert asked.headers.get("access-control-allow-credentials") == "true"
    for answer in (httpx.get(url + "/unread-count", headers={**headers, "Origin": EVIL}, timeout=10),
                   httpx.options(url + "/mark-read", headers={"Origin": EVIL, **preflight},
                                 timeout=10)):
        # No Allow-Origin: the browser lets the page read nothing (Litestar still says
        # Allow-Credentials, which means nothing without it).
        assert "access-control-allow-origin" not in answer.headers
    anyone = httpx.get(cookie_service.base_url + API + "/unread-count",
                       headers={**headers, "Origin": EVIL}, timeout=10)
    # Any origin (echoed, as the request has cookies), never with credentials: a page that
    # sent the cookie may not read the answer.
    assert anyone.headers.get("access-control-allow-origin") in ("*", EVIL)
    assert "access-control-allow-credentials" not in anyone.headers


def test_the_cookie_is_ignored_when_no_cookie_is_configured(service: ServiceProcess,
                                                            db: Conn) -> None:
    """Without NOTIFICATIONS_JWT_COOKIE a valid token in a cookie authenticates nothing: 401."""
    owner, _, _, _ = owner_with_notification(db)
    token = make_token(owner, service.secret)
    for origin in (None, service.base_url):
        with cookie_client(service, owner, origin=origin, token=token) as c:
            answer = c.get("/unread-count")
            assert answer.status_code == 401
            assert answer.json() == {"status_code": 401,
                                     "detail": "missing Authorization: Bearer <token> header"}
            assert c.post("/mark-all-read").status_code == 401


def test_expired_forged_or_malformed_cookie_tokens_are_401(cookie_service: ServiceProcess,
                                                           db: Conn) -> None:
    """The cookie's token obeys the header's rules: expired, forged or malformed is 401 with
    the reason (a write from a trusted origin too); another cookie name is no credential."""
    owner, _, _, notification_id = owner_with_notification(db)
    secret = cookie_service.secret
    for token, detail in ((make_token(owner, secret, ttl=-5), "token expired"),
                          (make_token(owner, "wrong-secret-wrong-secret-wrong-1"),
                           "invalid token signature"),
                          ("garbage", "malformed token")):
        with cookie_client(cookie_service, owner, origin=own_origin(cookie_service),
                           token=token) as c:
            for answer in (c.get("/"), c.post("/mark-read", json=[notification_id])):
                assert answer.status_code == 401
                assert answer.json() == {"status_code": 401, "detail": detail}
                assert answer.headers["www-authenticate"].startswith("Bearer")
    answer = httpx.get(cookie_service.base_url + API + "/unread-count", timeout=10,
                       headers={"Cookie": f"session={make_token(owner, secret)}"})
    assert answer.status_code == 401
    assert answer.json()["detail"] == (
        f"missing Authorization: Bearer <token> header or {COOKIE} cookie")
    assert is_read(db, notification_id) is False


async def test_a_socket_by_cookie_gets_hello_the_replay_and_live(
        cookie_service: ServiceProcess, listed_service: ServiceProcess, db: Conn) -> None:
    """An upgrade from the service's own origin with the cookie, then `{"type": "auth",
    "since": 0}`: hello, the replay, then a live notification; `{"type": "auth"}` alone,
    from a listed origin, gets hello and live changes."""
    owner, actor, post, _ = owner_with_notification(db)
    headers = cookie_header(make_token(owner, cookie_service.secret))
    async with connect(cookie_service.ws_url, origin=own_origin(cookie_service),
                       additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "auth", "since": 0}))
        hello = await recv_json(ws)
        assert (hello["type"], hello["user_id"], hello["unread_count"], hello["position"]) == (
            "hello", owner, 1, 1)
        replayed = await recv_json(ws)
        assert (replayed["type"], replayed["position"]) == ("notification", 1)
        react(db, post, actor, "live")
        live = await recv_json(ws)
        assert (live["type"], live["position"], live["notification"]["emoji"]) == (
            "notification", 2, "live")
    async with connect(listed_service.ws_url, origin=Origin(LISTED),
                       additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "auth"}))
        assert (await recv_json(ws))["position"] == 2
        react(db, post, actor, "again")
        assert (await recv_json(ws))["notification"]["emoji"] == "again"


async def refused_with(url: str, headers: dict[str, str], auth: dict[str, Any]
                       ) -> tuple[list[str], int | None]:
    """Upgrade with exactly `headers` (Origin included, or none), send `auth`: the messages
    received before the server closed, and its close code."""
    received: list[str] = []
    async with connect(url, origin=None, additional_headers=headers) as ws:
        # With an allow-list the socket is closed on arrival: the send may find it closed.
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(auth))
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(5):
                async for raw in ws:
                    received.append(str(raw))
        return received, ws.close_code


async def test_a_cross_site_socket_by_cookie_is_refused_4403(
        cookie_service: ServiceProcess, listed_service: ServiceProcess, db: Conn) -> None:
    """The cookie on an upgrade from another site (or with no Origin) closes 4403 with no
    message sent; a token in the auth message still wins over the cookie; a socket with
    neither, or with an expired cookie, closes 4401."""
    owner, _, _, _ = owner_with_notification(db)
    other = new_user(db, "other")
    headers = cookie_header(make_token(owner, cookie_service.secret))
    for svc in (cookie_service, listed_service):
        for origin in (EVIL, None, "null", "http://127.0.0.1", LISTED + ".evil.example"):
            sent = {**headers, **({"Origin": origin} if origin is not None else {})}
            assert await refused_with(svc.ws_url, sent, {"type": "auth", "since": 0}) == (
                [], 4403), (svc.env, origin)
    assert await refused_with(cookie_service.ws_url, {**headers, "Origin": LISTED},
                              {"type": "auth"}) == ([], 4403)  # listed elsewhere only
    # From another site with a token in the message: that token's user, not the cookie's
    # (the page holds the token itself; the cookie is not used).
    async with connect(cookie_service.ws_url, origin=Origin(EVIL),
                       additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "auth",
                                  "token": make_token(other, cookie_service.secret)}))
        assert (await recv_json(ws))["user_id"] == other
    async with connect(cookie_service.ws_url, origin=own_origin(cookie_service)) as ws:
        await ws.send(json.dumps({"type": "auth"}))
        assert await close_code(ws) == 4401
    async with connect(cookie_service.ws_url, origin=own_origin(cookie_service),
                       additional_headers=cookie_header(
                           make_token(owner, cookie_service.secret, ttl=-5))) as ws:
        await ws.send(json.dumps({"type": "auth"}))
        assert await close_code(ws) == 4401


async def test_a_socket_without_a_configured_cookie_ignores_it(service: ServiceProcess,
                                                              db: Conn) -> None:
    """Without NOTIFICATIONS_JWT_COOKIE, an auth message without a token closes 4401."""
    owner, _, _, _ = owner_with_notification(db)
    async with connect(service.ws_url, origin=own_origin(service),
                       additional_headers=cookie_header(make_token(owner, service.secret))) as ws:
        await ws.send(json.dumps({"type": "auth"}))
        assert await close_code(ws) == 4401


async def test_a_stream_by_cookie_opens_directly(
        cookie_service: ServiceProcess, listed_service: ServiceProcess, db: Conn) -> None:
    """GET the event stream with the cookie and no ticket (a same-origin EventSource sends no
    Origin): hello and a live notification; resumed with `since`; from another site's
    page 403, a forged cookie 401."""
    owner, actor, post, _ = owner_with_notification(db)
    headers = cookie_header(make_token(owner, cookie_service.secret))
    async with open_stream(cookie_service.base_url, headers=headers) as (response, events):
        assert response.status_code == 200
        hello = await events.next()
        assert (hello.id, hello.json()["type"], hello.json()["user_id"]) == ("1", "hello", owner)
        react(db, post, actor, "streamed")
        live = await events.next()
        assert (live.id, live.json()["notification"]["emoji"]) == ("2", "streamed")
    for svc, origin in ((cookie_service, cookie_service.base_url), (listed_service, LISTED)):
        async with open_stream(svc.base_url, since=0, headers={**headers, "Origin": origin}) as (
                response, events):
            assert response.status_code == 200
            assert [(await events.next()).id for _ in range(3)] == ["0", "1", "2"]
    for svc, detail in ((cookie_service, "origin not allowed for a stream authenticated by cookie"),
                        (listed_service, "origin not allowed")):
        async with open_stream(svc.base_url, headers={**headers, "Origin": EVIL}) as (
                response, _):
            await response.aread()
            assert (response.status_code, response.json()) == (
                403, {"status_code": 403, "detail": detail})
    async with open_stream(cookie_service.base_url, headers=cookie_header(
            make_token(owner, "wrong-secret-wrong-secret-wrong-1"))) as (response, _):
        await response.aread()
        assert (response.status_code, response.json()["detail"]) == (401, "invalid token signature")


async def test_the_cookie_never_reaches_the_logs(shared_database_url: str, db: Conn) -> None:
    """Cookie tokens (valid, expired, forged, opaque), used on REST, socket and stream,
    allowed or refused, never appear in the service's output, even at debug."""
    owner, _, _, notification_id = owner_with_notification(db)
    env = {"NOTIFICATIONS_JWT_COOKIE": COOKIE, "NOTIFICATIONS_LOG_LEVEL": "debug"}
    with running_service(shared_database_url, env=env) as svc:
        valid = make_token(owner, svc.secret)
        tokens = [valid, make_token(owner, svc.secret, ttl=-60),
                  make_token(owner, "not-the-secret-but-long-enough-0123456789"),
                  "opaque-session-credential-" + uuid.uuid4().hex]
        async with httpx.AsyncClient(base_url=svc.base_url + API, timeout=10) as http:
            for token in tokens:
                for origin in ({}, {"Origin": EVIL}, {"Origin": svc.base_url}):
                    headers = {**cookie_header(token), **origin}
                    await http.get("/", headers=headers)
                    await http.post("/mark-read", json=[notification_id], headers=headers)
                    async with http.stream("GET", "/stream", headers=headers) as stream:
                        await stream.aclose()
                async with connect(svc.ws_url, origin=own_origin(svc),
                                   additional_headers=cookie_header(token)) as ws:
                    await ws.send(json.dumps({"type": "auth"}))
                    with pytest.raises(ConnectionClosed):
                        async with asyncio.timeout(5):
                            while True:
                                if json.loads(await ws.recv())["type"] == "hello":
                                    await ws.close()
        svc.stop()
        log = svc.log_text()
    assert "WebSocket /api/notifications/ws" in log  # the handshakes were logged, scrubbed
    for token in tokens:
        assert token not in log
        assert token.rsplit(".", 1)[-1] not in log
