"""The notifications page and demo pages in a real Chromium: safety, groups, paging, delete, preferences."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
from playwright.sync_api import BrowserContext, Page

from devkit.hostdata import add_post, add_user, comment, react, unread_state
from devkit.netproxy import proxied
from devkit.servers import ServiceProcess, running_service
from tests.browser.helpers import open_as, page_items, post_id, user_id, wait_for_badge, wait_until_live

SHADOW = "document.querySelector('notifications-page').shadowRoot"
STATE = "document.querySelector('notifications-page').getAttribute('state')"
HOSTILE_HANDLE = "<img src=x onerror=window.__pwned=1>"
HOSTILE_TITLE = "<script>window.__pwned=2</script><b>bold</b>"
HOSTILE_URL = "javascript:window.__pwned=3"
HOSTILE_COMMENT = '<img src=x onerror="window.__pwned=4"><a href="javascript:window.__pwned=5">click</a>'


def assert_nothing_ran(page: Page) -> None:
    """No injected markup became elements, and no injected script set its global."""
    assert page.evaluate("() => window.__pwned") is None
    injected = page.evaluate(
        """() => {
            const element = document.querySelector('notifications-page');
            const roots = element ? [document, element.shadowRoot] : [document];
            return roots.flatMap((root) => [...root.querySelectorAll(
                'img[src="x"], script:not([type=module]):not([src]), b, a[href^="javascript"]')])
              .map((el) => el.outerHTML);
        }""")
    assert injected == []


def test_html_in_a_handle_title_or_comment_is_shown_as_text_and_never_runs(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Markup in a handle, title, comment or URL renders as literal text, in both views, and never runs."""
    alice = user_id(conn, "alice")
    mallory = add_user(conn, HOSTILE_HANDLE)
    conn.execute("UPDATE users SET avatar_url = %s WHERE id = %s", (HOSTILE_URL, mallory))
    post = add_post(conn, alice, HOSTILE_TITLE, art_url=HOSTILE_URL)
    react(conn, post, mallory, "🔥")
    comment(conn, post, mallory, HOSTILE_COMMENT)

    page = open_as(context, demo, "/demo/notifications", "alice")
    page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.item').length === 2")
    texts = [item["text"] for item in page_items(page)]
    assert all(HOSTILE_HANDLE in text and HOSTILE_TITLE in text for text in texts)
    assert any(HOSTILE_COMMENT in text for text in texts)
    # A javascript: URL is not made a link.
    assert page.evaluate(f"() => {SHADOW}.querySelectorAll('a.title').length") == 0
    assert_nothing_ran(page)

    page.locator("notifications-page button[data-view=grouped]").click()
    page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.group').length === 2")
    group_text = page.evaluate(f"() => {SHADOW}.querySelector('ol.groups').textContent")
    assert HOSTILE_HANDLE in group_text and HOSTILE_TITLE in group_text
    assert_nothing_ran(page)

    # The demo's own pages list the same user and title.
    home = open_as(context, demo, "/demo", "alice")
    home.wait_for_function("() => document.querySelector('#target').options.length > 0")
    assert HOSTILE_TITLE in home.evaluate("() => document.querySelector('#target').textContent")
    assert_nothing_ran(home)
    assert page.errors == [] and home.errors == []  # type: ignore[attr-defined]


def test_grouped_view_summarises_and_updates_live(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Reactions on one artwork are one group ("… and N others reacted"), which grows live."""
    post = post_id(conn, "p-alice-1")
    for handle, emoji in (("bob", "🔥"), ("carol", "❤️"), ("dave", "👍")):
        react(conn, post, user_id(conn, handle), emoji)
    comment(conn, post, user_id(conn, "erin"), "So calm")

    page = open_as(context, demo, "/demo/notifications", "alice")
    page.wait_for_function(f"() => {STATE} === 'ready'")
    page.locator("notifications-page button[data-view=grouped]").click()
    page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.group').length === 2")
    groups = page.evaluate(f"() => [...{SHADOW}.querySelectorAll('li.group')].map((li) => li.textContent)")
    reactions = next(text for text in groups if "reacted" in text)
    assert "dave, carol and bob" in reactions and "Sunset over the bay" in reactions
    assert reactions.endswith("3")
    assert any("erin" in text and "commented" in text for text in groups)
    link = page.evaluate(f"() => {SHADOW}.querySelector('li.group a.title').getAttribute('href')")
    assert link.endswith("/web/demo-art/sunset.png")

    react(conn, post, user_id(conn, "erin"), "🎉")
    page.wait_for_function(
        f"""() => [...{SHADOW}.querySelectorAll('li.group')]
                .some((li) => li.textContent.includes('erin, dave, carol and 1 other'))""")


def test_scrolling_loads_older_pages_with_the_cursor_without_repeats(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """45 notifications arrive 20 at a time as the user scrolls, newest first, none twice."""
    post, bob = post_id(conn, "p-alice-2"), user_id(conn, "bob")
    with conn.transaction():
        for i in range(45):
            comment(conn, post, bob, f"comment number {i}")
    page = open_as(context, demo, "/demo/notifications", "alice")
    page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.item').length === 20")
    for expected in (40, 45):
        page.evaluate(f"() => {SHADOW}.querySelector('.sentinel').scrollIntoView()")
        page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.item').length === {expected}")
    items = page_items(page)
    seqs = [item["seq"] for item in items]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 45
    assert "comment number 44" in items[0]["text"] and "comment number 0" in items[-1]["text"]
    assert page.evaluate(f"() => {SHADOW}.querySelector('.load-more').hidden") is True


def test_delete_removes_the_notification_everywhere(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """The delete button removes the item, the row, and the unread count; the empty state follows."""
    alice = user_id(conn, "alice")
    react(conn, post_id(conn, "p-alice-1"), user_id(conn, "bob"))
    page = open_as(context, demo, "/demo/notifications", "alice")
    page.evaluate("() => document.querySelector('notifications-page').setAttribute('mark-read-delay', 'off')")
    page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.item').length === 1")
    page.locator("notifications-page button.delete").click()
    page.wait_for_function(f"() => {STATE} === 'empty'")
    assert "all caught up" in page.evaluate(f"() => {SHADOW}.querySelector('.state').textContent")
    row = conn.execute("SELECT count(*) FROM notifications WHERE user_id = %s", (alice,)).fetchone()
    assert row is not None and row[0] == 0
    assert unread_state(conn, alice) == (0, 0)
    wait_for_badge(page, "")


def test_preferences_form_saves_to_the_service(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Unticking "Reactions to my artwork" saves it, and the next reaction notifies nobody."""
    alice = user_id(conn, "alice")
    page = open_as(context, demo, "/demo/notifications", "alice")
    page.locator("notifications-page summary").click()
    checkbox = page.locator("notifications-page input[name=notify_on_post_reactions]")
    checkbox.wait_for(state="visible")
    page.wait_for_function(f"() => !{SHADOW}.querySelector('input[name=notify_on_post_reactions]').disabled")
    assert checkbox.is_checked()
    checkbox.uncheck()
    page.wait_for_function(f"() => {SHADOW}.querySelector('.prefs-status').textContent === 'Saved'")
    row = conn.execute("SELECT notify_on_post_reactions FROM notification_preferences WHERE user_id = %s",
                       (alice,)).fetchone()
    assert row is not None and row[0] is False
    react(conn, post_id(conn, "p-alice-1"), user_id(conn, "bob"))
    comment(conn, post_id(conn, "p-alice-1"), user_id(conn, "bob"), "still told about comments")
    page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.item').length === 1")
    assert "commented" in page_items(page)[0]["text"]


def test_quiet_hours_time_zone_and_pause_save_and_show_again(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Quiet hours save only as a pair, the zone and a pause save on their own, and the form
    shows them all again (with the running pause) when the page is opened anew."""
    alice = user_id(conn, "alice")
    page = open_as(context, demo, "/demo/notifications", "alice")
    page.locator("notifications-page summary").click()
    start = page.locator("notifications-page input[name=quiet_hours_start]")
    page.wait_for_function(f"() => !{SHADOW}.querySelector('input[name=quiet_hours_start]').disabled")
    status = f"{SHADOW}.querySelector('.prefs-status').textContent"

    start.fill("22:00")
    page.wait_for_function(f"() => {status} === 'Set both times, or clear both.'")
    page.locator("notifications-page input[name=quiet_hours_end]").fill("07:30")
    page.wait_for_function(f"() => {status} === 'Saved'")
    page.locator("notifications-page select[name=time_zone]").select_option("Europe/Berlin")
    page.wait_for_function(f"() => {status} === 'Saved'")
    page.locator("notifications-page select[name=snooze]").select_option("24")
    page.wait_for_function(f"() => {SHADOW}.querySelector('select[name=snooze]').value === 'paused'")
    row = conn.execute("SELECT quiet_hours_start::text, quiet_hours_end::text, time_zone,"
                       " round(extract(epoch FROM snoozed_until - now()) / 3600)"
                       " FROM notification_preferences WHERE user_id = %s", (alice,)).fetchone()
    assert row is not None and row[:3] == ("22:00:00", "07:30:00", "Europe/Berlin")
    assert row[3] == 24

    page.reload()
    page.locator("notifications-page summary").click()
    page.wait_for_function(f"() => !{SHADOW}.querySelector('input[name=quiet_hours_start]').disabled")
    shown = page.evaluate(f"""() => Object.fromEntries(['quiet_hours_start', 'quiet_hours_end',
        'time_zone', 'snooze'].map((n) => [n, {SHADOW}.querySelector(`[name=${{n}}]`).value]))""")
    assert shown == {"quiet_hours_start": "22:00", "quiet_hours_end": "07:30",
                     "time_zone": "Europe/Berlin", "snooze": "paused"}
    assert page.locator("notifications-page select[name=snooze] option[value=paused]").text_content(
        ).startswith("Paused until")

    # Clearing both times and the pause saves "no quiet hours, not paused".
    start.fill("")
    page.wait_for_function(f"() => {status} === 'Set both times, or clear both.'")
    page.locator("notifications-page input[name=quiet_hours_end]").fill("")
    page.wait_for_function(f"() => {status} === 'Saved'")
    page.locator("notifications-page select[name=snooze]").select_option("")
    page.wait_for_function(f"() => !{SHADOW}.querySelector('select[name=snooze] option[value=paused]')")
    page.wait_for_function(f"() => {status} === 'Saved'")
    row = conn.execute("SELECT quiet_hours_start, quiet_hours_end, snoozed_until"
                       " FROM notification_preferences WHERE user_id = %s", (alice,)).fetchone()
    assert row == (None, None, None)


def wait_until_ready(service: ServiceProcess, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(service.base_url + "/health/ready").status_code != 200:
        assert time.monotonic() < deadline, "the service did not see the database again"
        time.sleep(0.1)


def test_loading_error_and_retry_states(
    context: BrowserContext, database_url: str, conn: psycopg.Connection[Any]
) -> None:
    """While the database is unreachable the page says so and offers a retry, which then shows the list.

    A real outage: the demo service talks to PostgreSQL through a proxy that
    resets its connections and refuses new ones, so the list request meets the
    service's own 503, not a stubbed response.
    """
    env = {"NOTIFICATIONS_DB_TIMEOUT": "2"}
    with proxied(database_url) as (proxy, url), running_service(url, demo=True, env=env) as demo:
        react(conn, post_id(conn, "p-alice-1"), user_id(conn, "bob"))
        page = open_as(context, demo, "/demo/notifications", "alice")
        one_item = f"() => {STATE} === 'ready' && {SHADOW}.querySelectorAll('li.item').length === 1"
        page.wait_for_function(one_item)
        statuses: list[int] = []
        page.on("response", lambda r: statuses.append(r.status) if "/api/notifications/" in r.url else None)
        proxy.cut()
        # A user action that loads again: the grouped view.
        page.locator("notifications-page button[data-view=grouped]").click()
        page.wait_for_function(f"() => {STATE} === 'error'", timeout=20_000)
        state_text = page.evaluate(f"() => {SHADOW}.querySelector('.state').textContent")
        assert "Couldn't load notifications" in state_text and "503" in state_text, state_text
        assert 503 in statuses, statuses
        proxy.restore()
        # Retried once the service sees the database again: how soon that is after an
        # outage is test_database_outage's subject; this test's is the page.
        wait_until_ready(demo)
        page.locator("notifications-page button.retry").click()
        one_group = f"() => {STATE} === 'ready' && {SHADOW}.querySelectorAll('li.group').length === 1"
        page.wait_for_function(one_group, timeout=20_000)
        page.locator("notifications-page button[data-view=list]").click()
        page.wait_for_function(one_item)
        # The socket came back on its own, and live updates flow again.
        wait_until_live(page, timeout=30_000)
        comment(conn, post_id(conn, "p-alice-1"), user_id(conn, "bob"), "after the outage")
        page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.item').length === 2", timeout=20_000)


def test_demo_panel_acts_as_another_user_and_the_badge_follows(
    context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Reacting, un-reacting, commenting and deleting the comment in the panel moves alice's badge live."""
    alice, bob = user_id(conn, "alice"), user_id(conn, "bob")
    page = open_as(context, demo, "/demo", "alice")
    page.select_option("#actor", str(bob))
    page.select_option("#target", f"post:{post_id(conn, 'p-alice-1')}")
    page.click("#react-button")
    wait_for_badge(page, "1")
    page.locator("#activity button", has_text="Un-react").click()
    wait_for_badge(page, "")
    assert unread_state(conn, alice) == (0, 0)

    page.fill("#comment-body", "Lovely <b>light</b>")
    page.click("#comment-button")
    wait_for_badge(page, "1")
    page.locator("#activity button", has_text="Delete").click()
    wait_for_badge(page, "")
    row = conn.execute("SELECT body, original_body, deleted_by_owner FROM comments WHERE author_id = %s",
                       (bob,)).fetchone()
    assert row == ("[deleted]", "Lovely <b>light</b>", True)
    assert unread_state(conn, alice) == (0, 0)
