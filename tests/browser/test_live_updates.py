"""The elements in a real Chromium against the real service: live badge, read state, tabs, restart."""

from __future__ import annotations

from typing import Any

import psycopg
from playwright.sync_api import BrowserContext

from devkit.hostdata import comment, react, unread_state
from devkit.servers import ServiceProcess
from tests.browser.helpers import (
    badge_text,
    open_as,
    page_items,
    post_id,
    user_id,
    wait_for_badge,
    wait_until_live,
)

PAGE_LIST = "() => document.querySelector('notifications-page').getAttribute('state')"
SHADOW = "document.querySelector('notifications-page').shadowRoot"


def test_badge_increments_live_after_a_plain_sql_insert(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """A reaction INSERTed in SQL shows on the header badge without a reload, as text with an
    aria-label. (How fast is a benchmark's question: bench.ws, docs/BENCHMARKS.md.)"""
    alice, bob = user_id(conn, "alice"), user_id(conn, "bob")
    page = open_as(context, demo, "/demo", "alice")
    wait_for_badge(page, "")
    for expected in ("1", "2"):
        react(conn, post_id(conn, "p-alice-1"), bob)
        wait_for_badge(page, expected, timeout=15_000)
    label = page.evaluate(
        "() => document.querySelector('#header-badge').shadowRoot"
        ".querySelector('.badge').getAttribute('aria-label')")
    assert label == "2 unread notifications"
    announced = page.evaluate(
        "() => document.querySelector('#header-badge').shadowRoot.querySelector('[role=status]').textContent")
    assert announced == "2 unread notifications"
    assert unread_state(conn, alice) == (2, 2)
    assert page.errors == []  # type: ignore[attr-defined]


def test_badge_caps_at_99_plus_and_hides_at_zero(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Above 99 the badge reads "99+", and after mark-all-read it is hidden."""
    bob = user_id(conn, "bob")
    post = post_id(conn, "p-alice-2")
    page = open_as(context, demo, "/demo", "alice")
    with conn.transaction():
        for _ in range(100):
            react(conn, post, bob)
    wait_for_badge(page, "99+")
    page.evaluate("() => window.notificationsClient.markAllRead()")
    wait_for_badge(page, "")
    assert page.evaluate(
        "() => document.querySelector('#header-badge').shadowRoot.querySelector('.badge').hidden") is True


def test_page_highlights_unread_items_then_marks_them_read(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Unread items show highlighted, then get marked read; a live arrival stays unread until mark-all."""
    alice, bob, carol = user_id(conn, "alice"), user_id(conn, "bob"), user_id(conn, "carol")
    post = post_id(conn, "p-alice-1")
    react(conn, post, bob, "🔥")
    react(conn, post, carol, "❤️")
    comment(conn, post, carol, "Love the colours")
    assert unread_state(conn, alice) == (3, 3)

    page = open_as(context, demo, "/demo/notifications", "alice")
    # Highlighted first (polled every frame, well inside the 1 s it waits before marking)...
    page.wait_for_function(
        """() => {
            const root = document.querySelector('notifications-page').shadowRoot;
            return root.querySelectorAll('li.item.unread').length === 3;
        }""")
    # ...then marked read, on the page and in the database.
    page.wait_for_function(
        """() => {
            const root = document.querySelector('notifications-page').shadowRoot;
            return root.querySelectorAll('li.item').length === 3 && !root.querySelector('li.item.unread');
        }""", timeout=5_000)
    wait_for_badge(page, "")
    assert unread_state(conn, alice) == (0, 0)

    # One that arrives while the page is open shows up live, on top, and stays unread.
    comment(conn, post, bob, "Arrived while you were looking")
    page.wait_for_function(
        """() => {
            const first = document.querySelector('notifications-page').shadowRoot.querySelector('li.item');
            return first && first.textContent.includes('Arrived while you were looking');
        }""")
    page.wait_for_timeout(2_000)
    items = page_items(page)
    assert [item["unread"] for item in items] == [True, False, False, False]
    assert unread_state(conn, alice) == (1, 1)
    wait_for_badge(page, "1")

    page.locator("notifications-page button.mark-all").click()
    page.wait_for_function(
        "() => !document.querySelector('notifications-page').shadowRoot.querySelector('li.item.unread')")
    wait_for_badge(page, "")
    assert unread_state(conn, alice) == (0, 0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_two_tabs_show_the_same_count_after_mark_all_read(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Two tabs of one user agree: both count live arrivals, both drop to zero after mark-all-read in one."""
    bob, carol = user_id(conn, "bob"), user_id(conn, "carol")
    post = post_id(conn, "p-alice-1")
    first = open_as(context, demo, "/demo/notifications", "alice")
    second = open_as(context, demo, "/demo/profile", "alice")
    first.wait_for_function(f"{PAGE_LIST} === 'empty'")

    react(conn, post, bob)
    comment(conn, post, carol, "Nice")
    for tab in (first, second):
        wait_for_badge(tab, "2")
    wait_for_badge(second, "2", selector="#profile-notifications")
    assert len(page_items(first)) == 2

    first.locator("notifications-page button.mark-all").click()
    for tab in (first, second):
        wait_for_badge(tab, "")
    wait_for_badge(second, "", selector="#profile-notifications")
    assert badge_text(first) == badge_text(second) == ""
    assert not any(item["unread"] for item in page_items(first))


def test_a_notification_missed_while_the_service_restarts_shows_exactly_once(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """After a restart the page resumes from its position: the missed notification shows exactly once."""
    alice, bob, carol = user_id(conn, "alice"), user_id(conn, "bob"), user_id(conn, "carol")
    post = post_id(conn, "p-alice-1")
    react(conn, post, bob, "👍")
    page = open_as(context, demo, "/demo/notifications", "alice")
    page.wait_for_function("() => !document.querySelector('notifications-page').shadowRoot"
                           ".querySelector('li.item.unread') && window.notificationsClient.unreadCount === 0")
    before = page.evaluate("() => window.notificationsClient.position")

    demo.stop()
    page.wait_for_function("() => window.notificationsClient.status !== 'open'")
    missed = comment(conn, post, carol, "Sent while the service was down")
    demo.start()

    wait_until_live(page, timeout=30_000)
    page.wait_for_function(
        """() => [...document.querySelector('notifications-page').shadowRoot.querySelectorAll('li.item')]
                   .some((li) => li.textContent.includes('Sent while the service was down'))""",
        timeout=10_000)
    page.wait_for_timeout(1_500)  # room for a duplicate to show up, if one were coming
    items = page_items(page)
    texts = [item["text"] for item in items]
    assert sum("Sent while the service was down" in text for text in texts) == 1
    assert len(items) == 2
    assert len({item["id"] for item in items}) == 2
    assert items[0]["unread"] is True
    assert page.evaluate("() => window.notificationsClient.position") > before
    wait_for_badge(page, "1")
    assert unread_state(conn, alice) == (1, 1)
    row = conn.execute("SELECT id::text FROM notifications WHERE comment_id = %s", (missed,)).fetchone()
    assert row is not None and items[0]["id"] == row[0]


def test_retractions_and_edits_show_live_on_the_page(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Un-react and a soft-deleted comment remove their items live; an edited comment updates its preview."""
    alice, bob, carol = user_id(conn, "alice"), user_id(conn, "bob"), user_id(conn, "carol")
    post = post_id(conn, "p-alice-1")
    page = open_as(context, demo, "/demo/notifications", "alice")
    page.wait_for_function(f"{PAGE_LIST} === 'empty'")

    reaction = react(conn, post, bob, "🔥")
    edited = comment(conn, post, carol, "First draft")
    deleted = comment(conn, post, bob, "I will take this back")
    page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.item').length === 3")
    wait_for_badge(page, "3")

    conn.execute("UPDATE comments SET body = 'Second thoughts', updated_at = now() WHERE id = %s", (edited,))
    page.wait_for_function(
        f"() => [...{SHADOW}.querySelectorAll('li.item')]"
        ".some((li) => li.textContent.includes('Second thoughts'))")
    assert not any("First draft" in item["text"] for item in page_items(page))

    conn.execute("DELETE FROM reactions WHERE id = %s", (reaction,))
    conn.execute("UPDATE comments SET deleted_by_owner = true, original_body = body, body = '[deleted]',"
                 " updated_at = now() WHERE id = %s", (deleted,))
    page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.item').length === 1")
    wait_for_badge(page, "1")
    texts = [item["text"] for item in page_items(page)]
    assert len(texts) == 1 and "Second thoughts" in texts[0]
    assert unread_state(conn, alice) == (1, 1)
    assert page.errors == []  # type: ignore[attr-defined]
