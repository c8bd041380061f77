"""Rich items in a real Chromium against the demo: avatars and thumbnails that never move the
layout, the item's menu by keyboard, muting from it (nothing arrives, in the list or the
badge, until unmuted), the filters with their cursor, and both quick actions writing the
host's tables through the host's own endpoints."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from playwright.sync_api import BrowserContext, Page

from devkit.hostdata import add_post, comment, react, wait_until_sequenced
from devkit.servers import ServiceProcess, running_service
from tests.browser.helpers import open_as, page_items, post_id, user_id, wait_for_badge

SHADOW = "document.querySelector('notifications-page').shadowRoot"
STATE = "document.querySelector('notifications-page').getAttribute('state')"


def wait_for_info(page: Page, start: str) -> None:
    """Until the page's status line (what a mute did) starts with `start`."""
    page.wait_for_function(
        f"(start) => {SHADOW}.querySelector('.info')?.textContent.startsWith(start)", arg=start)


def items_count(page: Page, n: int) -> None:
    page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.item').length === {n}")


def item(page: Page, text: str) -> Any:
    """The list item whose text contains `text` (a Playwright locator: pierces the shadow)."""
    return page.locator("notifications-page li.item", has_text=text)


def test_avatars_and_thumbnails_keep_their_size_and_fall_back(
        context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]) -> None:
    """Loaded and failed images alike take their fixed box; a failed avatar shows the
    initial, a failed thumbnail an empty box; only http(s) images are requested; the
    images load lazily and are hidden from screen readers (the sentence says it all)."""
    alice, bob, carol = (user_id(conn, h) for h in ("alice", "bob", "carol"))
    conn.execute("UPDATE users SET avatar_url = '/web/demo-art/city.png' WHERE id = %s", (bob,))
    conn.execute("UPDATE users SET avatar_url = '/web/demo-art/missing.png' WHERE id = %s", (carol,))
    react(conn, post_id(conn, "p-alice-1"), bob, "🔥")  # sunset.png: loads
    react(conn, add_post(conn, alice, "Lost art", art_url="/web/demo-art/gone.png"), carol, "❤️")
    react(conn, add_post(conn, alice, "Odd art", art_url="javascript:alert(1)"), bob, "👏")

    page = open_as(context, demo, "/demo/notifications", "alice")
    items_count(page, 3)
    page.wait_for_function(f"""() => {{
        const thumbs = [...{SHADOW}.querySelectorAll('.thumb')];
        return thumbs.length === 2 && thumbs.some((t) => t.classList.contains('failed'))
            && thumbs.some((t) => t.querySelector('img')?.complete)
            && [...{SHADOW}.querySelectorAll('li.item')].some(
                (li) => li.textContent.includes('Lost art') && !li.querySelector('.avatar img'));
    }}""")  # both failures handled (the avatar's error event may come after the thumbnail's)
    shapes = page.evaluate(f"""() => [...{SHADOW}.querySelectorAll('li.item')].map((li) => {{
        const box = (el) => el && (({{width, height}}) => [width, height])(el.getBoundingClientRect());
        const img = li.querySelector('.thumb img');
        return {{text: li.textContent, thumb: box(li.querySelector('.thumb')),
                 failed: li.querySelector('.thumb')?.classList.contains('failed') ?? null,
                 lazy: img ? img.loading : null,
                 hidden: li.querySelector('.thumb')?.getAttribute('aria-hidden'),
                 avatar: box(li.querySelector('.avatar')),
                 avatarImg: Boolean(li.querySelector('.avatar img')),
                 avatarText: li.querySelector('.avatar').textContent}};
    }})""")
    by_title = {next(t for t in ("Sunset", "Lost art", "Odd art") if t in s["text"]): s for s in shapes}
    sunset, lost, odd = by_title["Sunset"], by_title["Lost art"], by_title["Odd art"]
    assert sunset["thumb"] == [56, 56] and sunset["failed"] is False and sunset["lazy"] == "lazy"
    assert lost["thumb"] == [56, 56] and lost["failed"] is True  # the box stays: nothing jumps
    assert sunset["hidden"] == "true" and lost["hidden"] == "true"
    assert odd["thumb"] is None  # not an http(s) image: never requested
    assert sunset["avatar"] == lost["avatar"] == odd["avatar"]  # loaded, failed or none alike
    assert sunset["avatarImg"] is True
    assert lost["avatarImg"] is False and lost["avatarText"] == "C"  # carol's failed avatar
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_item_menu_works_by_keyboard_and_mutes_until_unmuted(
        context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]) -> None:
    """Enter opens the menu on its first item, arrows move, Escape gives focus back; "Mute
    this artwork" stops that artwork's reactions from reaching the list and the badge while
    another artwork's still arrive live; Unmute (in the preferences) lets them through."""
    alice, bob = user_id(conn, "alice"), user_id(conn, "bob")
    sunset, fox = post_id(conn, "p-alice-1"), post_id(conn, "p-alice-2")
    react(conn, sunset, bob, "🔥")
    page = open_as(context, demo, "/demo/notifications", "alice")
    items_count(page, 1)
    page.wait_for_function(f"() => {STATE} === 'ready'")

    menu_button = item(page, "Sunset").locator("button.menu-button")
    assert "Sunset over the bay" in (menu_button.get_attribute("aria-label") or "")
    menu_button.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => {SHADOW}.activeElement?.getAttribute('role') === 'menuitem'")
    assert menu_button.get_attribute("aria-expanded") == "true"
    assert page.evaluate(f"() => {SHADOW}.activeElement.textContent") == "Mute this artwork"
    page.keyboard.press("Escape")
    page.wait_for_function(f"() => {SHADOW}.activeElement?.classList.contains('menu-button')")
    assert menu_button.get_attribute("aria-expanded") == "false"
    page.keyboard.press("ArrowDown")
    page.wait_for_function(f"() => {SHADOW}.activeElement?.getAttribute('role') === 'menuitem'")
    page.keyboard.press("Enter")  # "Mute this artwork"
    wait_for_info(page, "Muted this artwork")
    mutes = conn.execute("SELECT content_type, content_id, thread_id FROM notification_mutes"
                         " WHERE user_id = %s", (alice,)).fetchall()
    assert mutes == [("post", sunset, None)]

    react(conn, sunset, bob, "❤️")  # muted: no row (so no badge change either)
    react(conn, fox, bob, "👏")  # not muted: arrives live
    items_count(page, 2)
    wait_until_sequenced(conn)
    assert [i["text"] for i in page_items(page) if "❤️" in i["text"]] == []
    assert conn.execute("SELECT count(*) FROM notifications WHERE user_id = %s AND emoji = '❤️'",
                        (alice,)).fetchone() == (0,)

    page.locator("notifications-page summary").click()
    unmute = page.locator("notifications-page .mutes-list button.unmute")
    assert "Sunset over the bay" in (unmute.get_attribute("aria-label") or "")
    unmute.click()
    page.wait_for_function(f"() => {SHADOW}.querySelector('.mutes-section').hidden")
    react(conn, sunset, bob, "🎉")
    items_count(page, 3)
    assert page.errors == []  # type: ignore[attr-defined]


def test_muting_a_thread_from_a_comment(
        context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]) -> None:
    """"Mute this thread" on a reply silences the whole thread; other comments still come."""
    bob, carol = user_id(conn, "bob"), user_id(conn, "carol")
    sunset = post_id(conn, "p-alice-1")
    root = comment(conn, sunset, bob, "Where was this?")
    comment(conn, sunset, carol, "Looks like Marseille", parent_id=root)
    page = open_as(context, demo, "/demo/notifications", "alice")
    items_count(page, 2)
    reply_item = item(page, "Marseille")
    reply_item.locator("button.menu-button").click()
    reply_item.get_by_role("menuitem", name="Mute this thread").click()
    wait_for_info(page, "Muted this thread")
    comment(conn, sunset, bob, "No, Naples", parent_id=root)
    comment(conn, sunset, carol, "A new thread")
    items_count(page, 3)
    wait_until_sequenced(conn)
    assert not any("Naples" in i["text"] for i in page_items(page))
    reply_item.locator("button.menu-button").click()
    assert reply_item.get_by_role("menuitem", name="Unmute this thread").is_visible()


def test_filters_by_kind_and_unread_and_page_on_under_them(
        context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]) -> None:
    """"Comments" lists only comments, older pages come with the filter's cursor (none
    twice, none of the other kind), live arrivals of the other kind stay out, and "Unread
    only" hides what was read."""
    bob = user_id(conn, "bob")
    fox = post_id(conn, "p-alice-2")
    with conn.transaction():
        for i in range(25):
            comment(conn, fox, bob, f"comment {i}")
            react(conn, fox, bob, f"e{i}")
    page = open_as(context, demo, "/demo/notifications", "alice")
    page.evaluate("() => document.querySelector('notifications-page').setAttribute('mark-read-delay', 'off')")
    items_count(page, 20)
    page.locator("notifications-page select.kind-filter").select_option("comment")
    page.wait_for_function(f"""() => {STATE} === 'ready' && [...{SHADOW}.querySelectorAll('li.item')]
        .every((li) => li.textContent.includes('commented'))""")
    page.evaluate(f"() => {SHADOW}.querySelector('.sentinel').scrollIntoView()")
    items_count(page, 25)
    texts = [i["text"] for i in page_items(page)]
    assert all("commented" in t for t in texts) and len(set(texts)) == 25
    react(conn, fox, bob, "🎉")  # a reaction: not for this filter
    comment(conn, fox, bob, "one more")
    items_count(page, 26)
    assert not any("🎉" in i["text"] for i in page_items(page))

    read = [i["id"] for i in page_items(page)][:6]
    conn.execute("UPDATE notifications SET is_read = true WHERE id = ANY(%s::uuid[])", (read,))
    page.locator("notifications-page input.unread-filter").check()
    page.wait_for_function(f"() => {STATE} === 'ready'")
    page.evaluate(f"() => {SHADOW}.querySelector('.sentinel').scrollIntoView()")
    items_count(page, 20)
    assert not set(read) & {i["id"] for i in page_items(page)}
    assert all(i["unread"] for i in page_items(page))


def test_quick_actions_write_the_hosts_tables_through_its_endpoints(
        context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]) -> None:
    """"React back" (an emoji chosen) and "Reply" (typed, sent with Ctrl+Enter) call the
    demo host's endpoints with alice's token; the host writes its own tables, so bob is
    notified of alice's reaction by the triggers, and her reply sits under his comment.
    A refusal from the host is shown in its words."""
    alice, bob = user_id(conn, "alice"), user_id(conn, "bob")
    bobs_comment = comment(conn, post_id(conn, "p-alice-1"), bob, "Gorgeous light")
    page = open_as(context, demo, "/demo/notifications", "alice")
    items_count(page, 1)
    row = item(page, "Gorgeous light")

    react_back = row.get_by_role("button", name="React back to bob")
    react_back.click()
    assert react_back.get_attribute("aria-expanded") == "true"
    row.get_by_role("button", name="React with 🔥").click()
    page.wait_for_function(f"() => {SHADOW}.querySelector('.quick-status')?.textContent === 'You reacted 🔥'")
    bobs_post = post_id(conn, "p-bob-1")
    assert conn.execute("SELECT post_id, emoji FROM reactions WHERE user_id = %s", (alice,)
                        ).fetchall() == [(bobs_post, "🔥")]
    wait_until_sequenced(conn)
    told = conn.execute("SELECT actor_id, emoji FROM notifications WHERE user_id = %s", (bob,)).fetchall()
    assert told == [(alice, "🔥")]

    row.get_by_role("button", name="Reply to bob").click()
    box = row.get_by_label("Reply to bob", exact=True).and_(row.locator("textarea"))
    box.fill("Thank you, it was a lucky evening")
    box.press("Control+Enter")
    page.wait_for_function(f"() => {SHADOW}.querySelector('.quick-status')?.textContent === 'Reply sent'")
    replies = conn.execute("SELECT author_id, parent_id, depth, body FROM comments WHERE parent_id = %s",
                           (bobs_comment,)).fetchall()
    assert replies == [(alice, bobs_comment, 1, "Thank you, it was a lucky evening")]

    # The host says no (carol has no artwork to react back to): its words are shown.
    carol = user_id(conn, "carol")
    conn.execute("DELETE FROM posts WHERE owner_id = %s", (carol,))
    comment(conn, post_id(conn, "p-alice-2"), carol, "Nice fox")
    items_count(page, 2)
    carol_row = item(page, "Nice fox")
    carol_row.get_by_role("button", name="React back to carol").click()
    carol_row.get_by_role("button", name="React with ❤️").click()
    page.wait_for_function(f"""() => [...{SHADOW}.querySelectorAll('.quick-status')]
        .some((s) => s.textContent.includes('404') && s.textContent.includes('no artwork'))""")
    assert page.errors == []  # type: ignore[attr-defined]


def test_quick_actions_from_the_hosts_callbacks(
        context: BrowserContext, demo: ServiceProcess, conn: psycopg.Connection[Any]) -> None:
    """A page that sets `quickActions` gets its callbacks called with the notification;
    without any action configured, an item offers none."""
    bob = user_id(conn, "bob")
    react(conn, post_id(conn, "p-alice-1"), bob, "🔥")
    page = open_as(context, demo, "/demo/notifications", "alice")
    items_count(page, 1)
    page.evaluate("""() => {
        const el = document.querySelector('notifications-page');
        window.calls = [];
        el.quickActions = { react: async (n, emoji) => { window.calls.push([n.actor_handle, emoji]); } };
    }""")
    page.wait_for_function(f"() => {STATE} === 'ready' && {SHADOW}.querySelectorAll('li.item').length === 1")
    row = item(page, "reacted")
    assert row.get_by_role("button", name="Reply to bob").count() == 0  # a reaction: no reply
    row.get_by_role("button", name="React back to bob").click()
    row.get_by_role("button", name="React with 👏").click()
    page.wait_for_function("() => window.calls.length === 1")
    assert page.evaluate("() => window.calls") == [["bob", "👏"]]

    page.evaluate("""() => {
        const el = document.querySelector('notifications-page');
        el.removeAttribute('react-action'); el.removeAttribute('reply-action');
        el.quickActions = null;
    }""")
    page.wait_for_function(f"() => {STATE} === 'ready' && {SHADOW}.querySelectorAll('li.item').length === 1")
    assert page.evaluate(f"() => {SHADOW}.querySelectorAll('.quick').length") == 0
    wait_for_badge(page, "")  # the item was read meanwhile; the badge follows


def test_the_format_variant_shows_and_an_open_from_the_page_is_recorded(
        context: BrowserContext, database_url: str, conn: psycopg.Connection[Any]) -> None:
    """With every user in the "title-first" variant, the page leads each item with the
    work's title (and says so on the element); following the title's link records the
    open through the app, counted once, before the browser leaves the page."""
    env = {"NOTIFICATIONS_EXPERIMENT": "format-test", "NOTIFICATIONS_EXPERIMENT_VARIANTS": "title-first",
           "NOTIFICATIONS_INSIGHTS_INTERVAL": "0.3", "NOTIFICATIONS_INSIGHTS_SETTLE": "0.5"}
    with running_service(database_url, demo=True, env=env) as demo:
        bob = user_id(conn, "bob")
        react(conn, post_id(conn, "p-alice-1"), bob, "🔥")
        page = open_as(context, demo, "/demo/notifications", "alice")
        items_count(page, 1)
        [only] = page_items(page)
        sentence = page.evaluate(f"() => {SHADOW}.querySelector('li.item p.text').textContent")
        assert sentence == "Sunset over the bay — bob reacted 🔥 to your artwork"
        variant = page.evaluate("() => document.querySelector('notifications-page').dataset.variant")
        assert variant == "title-first"
        with page.expect_navigation():
            item(page, "Sunset").locator("a.title").click()
        deadline = time.monotonic() + 10
        while True:
            row = conn.execute("SELECT opened_via, variant FROM notification_insights"
                               " WHERE notification_id = %s", (only["id"],)).fetchone()
            if row is not None and row[0] is not None:
                break
            assert time.monotonic() < deadline, "the open was not recorded"
            time.sleep(0.1)
        assert row == ("in_app", "title-first")
