"""Helpers for the browser tests: demo users and posts, and reading the elements' shadow DOM."""

from __future__ import annotations

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
