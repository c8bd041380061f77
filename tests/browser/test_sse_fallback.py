"""The web client's fallback to Server-Sent Events in a real Chromium, with WebSockets truly
blocked: the page goes through a proxy (devkit/netproxy.py, WebSocketGate) that answers
every WebSocket upgrade with HTTP 403, as some corporate proxies do, and passes every
other request, the event stream included.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page

from devkit import scrape
from devkit.hostdata import add_post, add_user, comment
from devkit.netproxy import WebSocketGate
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.browser.helpers import page_items, post_id, user_id, wait_until_live

pytestmark = pytest.mark.timeout(180)

# The client, with short delays so the test runs in seconds: records every applied change
# (with the transport that was current), and each status event.
START_CLIENT = """
async ([token]) => {
  const { NotificationsClient } = await import('/web/notifications-client.js');
  window.applied = [];
  window.statuses = [];
  const client = new NotificationsClient({
    getToken: () => token,
    backoff: { initialDelay: 300, maxDelay: 1500, stableAfter: 1000 },
    fallback: { after: 3, retryWebSocket: 3000 },
    BroadcastChannel: null,
  });
  client.subscribe((event) => {
    if (event.type === 'status') {
      window.statuses.push([event.status, event.transport, event.close ? event.close.code : null]);
    } else if (!['reset', 'resync'].includes(event.type)) {
      window.applied.push([event.position, client.transport, event.notification?.comment_preview]);
    }
  });
  window.client = client;
  client.start();
}
"""


def sse_streams(svc: ServiceProcess) -> int:
    return int(scrape.metric(svc.base_url, "notifications_sse_open_streams"))


def wait(page: Page, condition: str, timeout: float = 30_000) -> None:
    page.wait_for_function(condition, timeout=timeout)


def applied(page: Page) -> list[list[Any]]:
    result: list[list[Any]] = page.evaluate("() => window.applied")
    return result


def wait_applied(page: Page, count: int) -> list[list[Any]]:
    wait(page, f"() => window.applied.length >= {count}")
    return applied(page)


def test_blocked_websockets_fall_back_to_sse_and_back_losing_and_doubling_nothing(
        context: BrowserContext, database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Live on a socket; the proxy starts refusing upgrades and cuts the socket; after three
    attempts that fail to open, the client is on the event stream by itself. Comments
    committed before the block, while it fails, on the stream, while the socket is being
    let through again and after the client is back on it: each applied once, in order."""
    owner, actor = add_user(conn, "listener"), add_user(conn, "actor")
    post = add_post(conn, owner)
    with running_service(database_url) as svc, \
            contextlib.closing(WebSocketGate("127.0.0.1", svc.port)) as gate:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{gate.port}/health/live")  # the page's origin: the proxy
        page.evaluate(START_CLIENT, [make_token(owner, svc.secret)])
        wait(page, "() => window.client.status === 'open'")
        assert page.evaluate("() => window.client.transport") == "websocket"
        comment(conn, post, actor, "before the block")
        wait_applied(page, 1)

        gate.block()
        comment(conn, post, actor, "while the socket fails")
        wait(page, "() => window.client.transport === 'sse' && window.client.status === 'open'")
        # The socket truly failed to open, three times, and the stream is a real EventSource.
        assert gate.refused >= 3
        closes_before = [code for status, transport, code in page.evaluate("() => window.statuses")
                         if status == "waiting" and transport == "websocket"]
        assert closes_before[-3:] == [1006, 1006, 1006], closes_before
        assert page.evaluate("() => window.client.connection.link.raw instanceof EventSource")
        assert sse_streams(svc) == 1
        comment(conn, post, actor, "on the stream")
        wait_applied(page, 3)
        # The client keeps trying the socket (refused) and stays on the stream meanwhile.
        refused = gate.refused
        deadline = time.monotonic() + 20
        while gate.refused == refused:
            assert time.monotonic() < deadline, "no probe of the socket"
            time.sleep(0.1)
        assert page.evaluate("() => window.client.transport") == "sse"
        comment(conn, post, actor, "still on the stream")
        wait_applied(page, 4)

        gate.allow()
        comment(conn, post, actor, "while the socket is let through")
        wait(page, "() => window.client.transport === 'websocket'"
                   " && window.client.status === 'open'")
        comment(conn, post, actor, "back on the socket")
        rows = wait_applied(page, 6)
        time.sleep(1)  # anything doubled would arrive now
        rows = applied(page)
        assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6], rows
        assert [r[2] for r in rows] == [
            "before the block", "while the socket fails", "on the stream", "still on the stream",
            "while the socket is let through", "back on the socket"]
        assert rows[0][1] == "websocket" and rows[2][1] == rows[3][1] == "sse"
        assert rows[5][1] == "websocket"
        assert page.evaluate("() => window.client.unreadCount") == 6
        transports = [t for _, t, _ in page.evaluate("() => window.statuses")]
        switches = [t for i, t in enumerate(transports) if i == 0 or t != transports[i - 1]]
        assert switches == ["websocket", "sse", "websocket"], transports
        assert page.evaluate("() => window.client.connection.link.raw instanceof WebSocket")  # not the stream
        deadline = time.monotonic() + 10
        while sse_streams(svc) != 0:
            assert time.monotonic() < deadline, "the service still holds the stream"
            time.sleep(0.1)


def test_the_notifications_page_behind_a_proxy_that_always_blocks_websockets(
        context: BrowserContext, database_url: str, conn: psycopg.Connection[Any]) -> None:
    """The demo's notifications page, with its default client, loaded through a proxy that
    never lets a WebSocket through: it goes live over the event stream by itself, and
    comments committed before the page loaded, while it was falling back and once on the
    stream each show exactly once; the badge agrees."""
    with running_service(database_url, demo=True) as svc, \
            contextlib.closing(WebSocketGate("127.0.0.1", svc.port, blocking=True)) as gate:
        alice, bob = user_id(conn, "alice"), user_id(conn, "bob")
        post = post_id(conn, "p-alice-1")
        comment(conn, post, bob, "before the page")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"http://127.0.0.1:{gate.port}/demo/notifications?as=alice")
        wait(page, "() => window.notificationsClient"
                   " && window.notificationsClient.transport === 'websocket'")
        comment(conn, post, bob, "while falling back")
        wait(page, "() => window.notificationsClient.transport === 'sse'", timeout=40_000)
        wait_until_live(page, timeout=20_000)
        comment(conn, post, bob, "on the stream")
        wait(page, """() => [...document.querySelector('notifications-page').shadowRoot
                        .querySelectorAll('li.item')].length >= 3""")
        time.sleep(1)
        items = page_items(page)
        texts = [i["text"] for i in items]
        for body in ("before the page", "while falling back", "on the stream"):
            assert sum(body in t for t in texts) == 1, texts
        assert len({i["id"] for i in items}) == len(items) == 3
        assert gate.refused >= 3
        unread = conn.execute("SELECT count(*) FROM notifications WHERE user_id = %s"
                              " AND NOT is_read", (alice,)).fetchone()
        assert unread is not None
        assert page.evaluate("() => window.notificationsClient.unreadCount") == unread[0]
        assert errors == []
