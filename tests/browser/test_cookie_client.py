"""The web client on a cookie-session site, in Chromium: `auth: "cookie"`, no token in
script. The host's HttpOnly session cookie (NOTIFICATIONS_JWT_COOKIE) authenticates the
REST calls, the socket and, where WebSockets are refused, the event stream."""

from __future__ import annotations

from typing import Any

import psycopg
from playwright.sync_api import BrowserContext

from devkit.hostdata import add_post, add_user, react
from devkit.servers import running_service
from devkit.tokens import make_token

COOKIE = "art_session"
START = """async (fallback) => {
  const { NotificationsClient } = await import("/web/notifications-client.js");
  window.client = new NotificationsClient(
    // A socket whose upgrade a proxy refuses: it closes without a close frame.
    fallback ? { auth: "cookie", fallback: { after: 1 }, backoff: { initialDelay: 100 },
                 WebSocket: class { constructor() { setTimeout(() => this.onclose?.({ code: 1006 }), 10); }
                                    send() {} close() {} } }
             : { auth: "cookie" }).start();
}"""


def test_the_web_client_by_cookie_alone_badge_live_and_mark_read(
        context: BrowserContext, database_url: str, conn: psycopg.Connection[Any]) -> None:
    owner, actor = add_user(conn, "cookie-owner"), add_user(conn, "actor")
    post = add_post(conn, owner)
    react(conn, post, actor, "before")
    with running_service(database_url, env={"NOTIFICATIONS_JWT_COOKIE": COOKIE}) as svc:
        context.add_cookies([{"name": COOKIE, "value": make_token(owner, svc.secret), "url": svc.base_url,
                              "httpOnly": True, "sameSite": "Lax"}])
        page = context.new_page()
        page.goto(svc.base_url + "/health/live")  # a page of the service's own origin
        assert COOKIE not in page.evaluate("() => document.cookie")  # script never sees it
        page.evaluate(START, False)
        page.wait_for_function("() => window.client.status === 'open' && window.client.unreadCount === 1",
                               timeout=15000)
        assert page.evaluate("() => window.client.transport") == "websocket"
        react(conn, post, actor, "live")
        page.wait_for_function("() => window.client.unreadCount === 2", timeout=15000)
        # A write: the browser sends the page's Origin with it, the service's own.
        marked = page.evaluate("() => window.client.markAllRead()")
        assert marked["marked"] == 2 and marked["unread_count"] == 0
        assert conn.execute("SELECT count(*) FROM notifications WHERE user_id = %s AND NOT is_read",
                            (owner,)).fetchone() == (0,)

        # Where WebSockets never get through, the event stream, by cookie, with no ticket.
        other = context.new_page()
        other.goto(svc.base_url + "/health/live")
        other.evaluate(START, True)
        other.wait_for_function("() => window.client.transport === 'sse' && window.client.status === 'open'",
                                timeout=20000)
        react(conn, post, actor, "on the stream")
        other.wait_for_function("() => window.client.unreadCount === 1", timeout=15000)
        page.wait_for_function("() => window.client.unreadCount === 1", timeout=15000)
        # The stream opened without asking for a ticket (it would have come first).
        assert "/stream/ticket" not in svc.log_text()
