"""Helpers for the browser tests: demo users and posts, reading the elements' shadow DOM,
and pushes delivered to the service worker."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from playwright.sync_api import BrowserContext, Page, ViewportSize

from devkit.servers import ServiceProcess

DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}


def user_id(conn: psycopg.Connection[Any], handle: str) -> int:
    row = conn.execute("SELECT id FROM users WHERE handle = %s", (handle,)).fetchone()
    assert row is not None, handle
    return int(row[0])


def post_id(conn: psycopg.Connection[Any], sqid: str) -> int:
    row = conn.execute("SELECT id FROM posts WHERE public_sqid = %s", (sqid,)).fetchone()
    assert row is not None, sqid
    return int(row[0])


def open_as(context: BrowserContext, service: ServiceProcess, path: str, handle: str) -> Page:
    """Open a demo page signed in as `handle`, with the notifications socket live."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(f"{service.base_url}{path}?as={handle}")
    wait_until_live(page)
    return page


def wait_until_live(page: Page, timeout: float = 10_000) -> None:
    """Until the page's client has said hello over the socket."""
    page.wait_for_function("() => window.notificationsClient && window.notificationsClient.status === 'open'",
                           timeout=timeout)


def badge_text(page: Page, selector: str = "#header-badge") -> str:
    """What the badge shows ("" when hidden)."""
    result: str = page.evaluate(
        """(selector) => {
            const badge = document.querySelector(selector).shadowRoot.querySelector('.badge');
            return badge.hidden ? '' : badge.textContent;
        }""",
        selector,
    )
    return result


def wait_for_badge(page: Page, text: str, selector: str = "#header-badge", timeout: float = 5_000) -> None:
    page.wait_for_function(
        """([selector, text]) => {
            const el = document.querySelector(selector);
            const badge = el && el.shadowRoot && el.shadowRoot.querySelector('.badge, .count');
            return badge && (badge.hidden ? '' : badge.textContent) === text;
        }""",
        arg=[selector, text],
        timeout=timeout,
    )


def page_items(page: Page) -> list[dict[str, Any]]:
    """The notifications page's list items: id, unread, text."""
    items: list[dict[str, Any]] = page.evaluate(
        """() => [...document.querySelector('notifications-page').shadowRoot.querySelectorAll('li.item')]
              .map((li) => ({id: li.dataset.id, unread: li.classList.contains('unread'),
                             text: li.textContent, seq: Number(li.dataset.seq)}))"""
    )
    return items


# ---- the service worker, driven through the DevTools protocol -------------------------

PAGE = "/web/demo/notifications.html"  # where a push without a link of its own opens
SHOWN = """async () => (await (await navigator.serviceWorker.getRegistration("/web/")).getNotifications())
  .map((n) => ({ title: n.title, body: n.body, icon: n.icon, image: n.image, tag: n.tag,
                 data: n.data }))"""


def until(page: Page, script: str, holds: Any, timeout: float = 15.0) -> Any:
    """Evaluate `script` (which may be async) until `holds(result)`; the result."""
    deadline = time.monotonic() + timeout
    while True:
        result = page.evaluate(script)
        if holds(result):
            return result
        assert time.monotonic() < deadline, f"never held: {script} -> {result!r}"
        page.wait_for_timeout(100)


def registered(context: BrowserContext, base_url: str, register: str | None = PAGE,
               at: str = "/health/live") -> tuple[Page, Any, str]:
    """A page at `at`, a DevTools session on it, and the id of the service worker
    registration at /web/ (registered here for `register`, or already registered)."""
    context.grant_permissions(["notifications"], origin=base_url)
    page = context.new_page()
    page.goto(base_url + at)
    cdp = context.new_cdp_session(page)
    registrations: list[str] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: registrations.extend(
               r["registrationId"] for r in event["registrations"]
               if not r.get("isDeleted") and r.get("scopeURL") == base_url + "/web/"))
    cdp.send("ServiceWorker.enable")
    if register is not None:
        page.evaluate("""async (page) => {
          await navigator.serviceWorker.register(`/web/notifications-sw.js?page=${page}`, { type: "module" });
        }""", register)
    until(page, "async () => Boolean((await navigator.serviceWorker.getRegistration('/web/'))?.active)",
          bool)
    deadline = 50
    while not registrations and deadline:
        page.wait_for_timeout(100)
        deadline -= 1
    assert registrations, "no service worker registration reported"
    return page, cdp, registrations[-1]


def push(cdp: Any, base_url: str, registration: str, data: str) -> None:
    cdp.send("ServiceWorker.deliverPushMessage",
             {"origin": base_url, "registrationId": registration, "data": data})


def push_until_shown(page: Page, cdp: Any, base_url: str, registration: str, data: str,
                     count: int) -> Any:
    """Deliver `data` until `count` notifications are shown; what is shown. The DevTools
    protocol's delivery stands in for the push service, and under load Chromium now and
    then drops one (about 1 run in 8 on a busy 2-core machine, in either browser test);
    the same push again replaces its own notification (one tag per content item), so
    the count still proves that nothing else was shown."""
    for attempt in range(3):
        push(cdp, base_url, registration, data)
        try:
            return until(page, SHOWN, lambda found: len(found) >= count, timeout=8.0)
        except AssertionError:
            if attempt == 2:
                raise
