"""What the web client does on each way the service ends its socket, in a real Chromium.

The page is any page of the service's origin; the test imports
`web/notifications-client.js` into it and hands it a `getToken` whose
answers the test controls. Every close comes from the real service: an
expired token (4401, then a refresh), a message over the size limit (4400),
a burst past the per-socket queue on a slow network (4409), a restart (1012 from uvicorn, or
1001 from the service), an Origin not on the allow-list (4403), and an
upgrade refused at the handshake limit (HTTP 403, which a browser sees as
1006). After each the client must come back by itself and miss nothing.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page
from websockets.sync.client import connect as ws_connect

from devkit.hostdata import add_post, add_user, comment
from devkit.netproxy import FaultProxy
from devkit.scrape import metric
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token

pytestmark = pytest.mark.timeout(180)

# Loads the client into the page with a getToken that records each call and answers
# from window.tokens (set by the test), and records every status event and close.
START_CLIENT = """
async ([plain, fresh, wsUrl]) => {
  const { NotificationsClient } = await import('/web/notifications-client.js');
  window.tokens = { plain, fresh };
  window.calls = [];
  window.events = [];
  window.applied = [];
  const client = new NotificationsClient({
    getToken: (opts) => {
      const refresh = Boolean(opts && opts.refresh);
      window.calls.push(refresh ? 'refresh' : 'plain');
      return refresh ? window.tokens.fresh : window.tokens.plain;
    },
    backoff: { initialDelay: 300, maxDelay: 1500 },
    wsUrl: wsUrl || undefined,
    BroadcastChannel: null,
  });
  client.subscribe((event) => {
    if (event.type === 'status') {
      window.events.push([event.status, event.close ? event.close.code : null, performance.now()]);
    }
    else if (!['reset', 'resync'].includes(event.type)) window.applied.push(event.position);
  });
  window.client = client;
  client.start();
}
"""
OPEN = "() => window.client.status === 'open'"


@pytest.fixture
def owner(conn: psycopg.Connection[Any]) -> Iterator[tuple[int, int, int]]:
    """(owner, their post, an actor)."""
    owner = add_user(conn, "listener")
    yield owner, add_post(conn, owner), add_user(conn, "actor")


def start_client(context: BrowserContext, svc: ServiceProcess, plain: str, fresh: str,
                 ws_url: str | None = None, page_origin: str | None = None) -> Page:
    page = context.new_page()
    page.goto((page_origin or svc.base_url) + "/health/live")  # any page of that origin
    page.evaluate(START_CLIENT, [plain, fresh, ws_url])
    return page


def slow_closes(svc: ServiceProcess) -> int:
    return int(metric(svc.base_url, "notifications_ws_slow_client_closes_total"))


def closes(page: Page) -> list[int]:
    return [code for status, code, _ in page.evaluate("() => window.events") if status == "waiting"]


def wait_applied(page: Page, count: int, timeout: float = 20_000) -> list[int]:
    page.wait_for_function(f"() => window.applied.length >= {count}", timeout=timeout)
    applied: list[int] = page.evaluate("() => window.applied")
    assert applied == list(range(applied[0], applied[0] + len(applied))), applied  # no gap, no repeat
    return applied


def test_4401_asks_for_a_fresh_token_then_resumes(
        context: BrowserContext, database_url: str, conn: psycopg.Connection[Any],
        owner: tuple[int, int, int]) -> None:
    user, post, actor = owner
    with running_service(database_url) as svc:
        expired = make_token(user, svc.secret, ttl=-60)
        short = make_token(user, svc.secret, ttl=4)  # expires while the socket is open
        page = start_client(context, svc, expired, short)
        page.wait_for_function(OPEN, timeout=20_000)
        # The socket and the badge's REST call each tried the token once and, refused
        # (4401 and 401), asked once for a fresh one.
        assert sorted(page.evaluate("() => window.calls")) == ["plain", "plain", "refresh", "refresh"]
        assert closes(page) == [4401]
        comment(conn, post, actor, "one")
        wait_applied(page, 1)
        # The open socket's token runs out: 4401 again, refresh, and the stream resumes.
        page.evaluate("(t) => { window.tokens.fresh = t; }", make_token(user, svc.secret))
        page.wait_for_function("() => window.calls.length >= 5", timeout=20_000)
        page.wait_for_function(OPEN, timeout=20_000)
        assert page.evaluate("() => window.calls")[4:] == ["refresh"]
        assert closes(page) == [4401, 4401]
        comment(conn, post, actor, "two")
        assert len(wait_applied(page, 2)) == 2


def test_4400_and_a_restart_each_reconnect_and_miss_nothing(
        context: BrowserContext, database_url: str, conn: psycopg.Connection[Any],
        owner: tuple[int, int, int]) -> None:
    user, post, actor = owner
    with running_service(database_url) as svc:
        token = make_token(user, svc.secret)
        page = start_client(context, svc, token, token)
        page.wait_for_function(OPEN, timeout=20_000)

        # 4400: a client message over the 4096-byte limit.
        page.evaluate("() => window.client.connection.link.raw.send('x'.repeat(5000))")
        page.wait_for_function("() => window.events.some(([s, c]) => c === 4400)", timeout=20_000)
        page.wait_for_function(OPEN, timeout=20_000)
        comment(conn, post, actor, "after the 4400")
        assert len(wait_applied(page, 1)) == 1

        # A restart: the service closes every socket as it stops (1001, or uvicorn's 1012);
        # what is committed while it is down arrives once it is back.
        svc.stop()
        comment(conn, post, actor, "while the service was down")
        svc.start()
        assert len(wait_applied(page, 2, timeout=40_000)) == 2
        assert page.evaluate("() => window.client.unreadCount") == 2, page.evaluate(
            "() => [window.events, window.applied, window.client.position]")
        restart_closes = set(closes(page)) - {4400}
        assert restart_closes and restart_closes <= {1001, 1012, 1006}, closes(page)
        page.wait_for_function(OPEN, timeout=20_000)


def test_4409_on_a_slow_network_reconnects_and_misses_nothing(
        context: BrowserContext, database_url: str, conn: psycopg.Connection[Any],
        owner: tuple[int, int, int]) -> None:
    """The socket goes through a proxy that stops reading from the service, as a slow
    network would: a burst backs up past a queue of four, the service closes 4409, and
    the client's resume replays the whole burst."""
    user, post, actor = owner
    burst = 4000
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = NULL")  # one actor
    # Each notification carries the artwork's URL and the actor's avatar, long here, so
    # the burst (7 MB) outgrows every buffer between the service and the proxy (the
    # kernel's alone may hold 4 MB).
    conn.execute("UPDATE posts SET art_url = 'https://art.example/' || repeat('a', 970)"
                 " WHERE id = %s", (post,))
    conn.execute("UPDATE users SET avatar_url = 'https://avatars.example/' || repeat('b', 470)"
                 " WHERE id = %s", (actor,))
    # The replay limit above the burst: the resume replays it instead of asking for a reload.
    env = {"NOTIFICATIONS_WS_QUEUE_SIZE": "4", "NOTIFICATIONS_WS_REPLAY_LIMIT": "10000"}
    with running_service(database_url, env=env) as svc, \
            contextlib.closing(FaultProxy("127.0.0.1", svc.port, receive_buffer=4096)) as proxy:
        token = make_token(user, svc.secret)
        page = start_client(context, svc, token, token,
                            ws_url=f"ws://127.0.0.1:{proxy.port}/api/notifications/ws")
        page.wait_for_function(OPEN, timeout=20_000)
        proxy.pause()
        conn.execute("INSERT INTO comments (id, post_id, author_id, body)"
                     " SELECT gen_random_uuid(), %s, %s, 'burst ' || g"
                     " FROM generate_series(1, %s) g", (post, actor, burst))
        deadline = time.monotonic() + 30
        while slow_closes(svc) < 1:  # the service gave up on the backed-up socket
            assert time.monotonic() < deadline, svc.log_text()[-2000:]
            time.sleep(0.2)
        proxy.resume()
        page.wait_for_function("() => window.events.some(([s, c]) => c === 4409)", timeout=30_000)
        applied = wait_applied(page, burst, timeout=60_000)
        assert len(applied) == burst
        assert page.evaluate("() => window.client.unreadCount") == burst


def test_4403_backs_off_and_never_opens(
        context: BrowserContext, database_url: str, owner: tuple[int, int, int]) -> None:
    user = owner[0]
    env = {"NOTIFICATIONS_ALLOWED_ORIGINS": "https://elsewhere.example"}
    with running_service(database_url, env=env) as svc:
        token = make_token(user, svc.secret)
        # A page of another origin (localhost is not 127.0.0.1) opening the service's
        # socket: neither listed nor the service's own origin.
        page = start_client(context, svc, token, token, ws_url=svc.ws_url,
                            page_origin=f"http://localhost:{svc.port}")
        page.wait_for_function("() => window.events.filter(([s, c]) => c === 4403).length >= 3",
                               timeout=30_000)
        assert set(closes(page)) == {4403}
        assert "open" not in [status for status, _, _ in page.evaluate("() => window.events")]
        assert page.evaluate("() => window.calls").count("refresh") == 0  # not a token problem


def test_4429_with_a_retry_hint_is_honoured_then_connects(
        context: BrowserContext, database_url: str, owner: tuple[int, int, int]) -> None:
    """A user at their socket cap: the service closes 4429 "... retry after N ms" and the
    client waits at least that long (its own backoff here would retry within 0.3 s)."""
    user = owner[0]
    with running_service(database_url, env={"NOTIFICATIONS_WS_MAX_SOCKETS_PER_USER": "1"}) as svc:
        token = make_token(user, svc.secret)
        with ws_connect(f"{svc.ws_url}?token={token}", open_timeout=5) as other_tab:
            assert '"hello"' in str(other_tab.recv(timeout=10))
            page = start_client(context, svc, token, token)
            page.wait_for_function("() => window.events.some(([s, c]) => c === 4429)",
                                   timeout=20_000)
            reason = page.evaluate("() => window.client.lastClose.reason")
            hint = re.search(r"retry after (\d+) ms", reason)
            assert hint and 1000 <= int(hint.group(1)) <= 5000, reason
            # The next attempt after the first 4429: not sooner than the hint.
            retried = ("() => { const i = window.events.findIndex(([s, c]) => c === 4429);"
                       " return window.events.slice(i).find(([s]) => s === 'connecting'); }")
            page.wait_for_function(retried, timeout=20_000)
            refused_at = page.evaluate("() => window.events.find(([s, c]) => c === 4429)[2]")
            waited = page.evaluate(retried)[2] - refused_at
            assert waited >= int(hint.group(1)) - 50, (waited, reason)  # the hint, not 0.3 s
        # The other tab is gone: the next attempt gets in.
        page.wait_for_function(OPEN, timeout=30_000)
        assert set(closes(page)) == {4429}
