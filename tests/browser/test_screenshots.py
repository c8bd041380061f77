"""Screenshots of the demo pages for docs/WEB.md, taken by the test run: desktop and phone, light and dark."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import psycopg
from playwright.sync_api import Browser

from devkit.hostdata import comment, comment_blog, react, react_blog
from devkit.servers import ServiceProcess
from devkit.tokens import make_token
from tests.browser.helpers import DESKTOP, PHONE, post_id, user_id, wait_for_badge, wait_until_live

REPO_ROOT = Path(__file__).resolve().parents[2]
# An ignored folder by default, so the test run leaves the checkout clean; to refresh the
# docs' pictures: NOTIFICATIONS_SCREENSHOTS_DIR=docs/screenshots bash scripts/test.sh
SCREENSHOTS = Path(os.environ.get("NOTIFICATIONS_SCREENSHOTS_DIR")
                   or REPO_ROOT / ".test-output" / "screenshots")
SHADOW = "document.querySelector('notifications-page').shadowRoot"
# Keep the unread highlight in the pictures: the page would otherwise mark what it shows as read.
KEEP_UNREAD = """document.addEventListener('DOMContentLoaded', () => {
  const page = document.querySelector('notifications-page');
  if (page) page.setAttribute('mark-read-delay', 'off');
});"""


def seed_story(conn: psycopg.Connection[Any], service: ServiceProcess) -> int:
    """A believable afternoon for alice: reactions, comments, an anonymous fan; two already read."""
    alice = user_id(conn, "alice")
    sunset, fox = post_id(conn, "p-alice-1"), post_id(conn, "p-alice-2")
    row = conn.execute("SELECT id FROM blog_posts WHERE public_sqid = 'b-alice-1'").fetchone()
    assert row is not None
    blog = int(row[0])
    bob, carol, dave, erin = (user_id(conn, h) for h in ("bob", "carol", "dave", "erin"))
    react_blog(conn, blog, carol, "😂")
    comment_blog(conn, blog, bob, "Layers! Finally someone explains it properly.")
    react(conn, fox, None, "🎉", ip="203.0.113.7")
    comment(conn, fox, erin, "The light on the snow is perfect. How long did this take you?")
    react(conn, sunset, dave, "👍")
    react(conn, sunset, carol, "❤️")
    react(conn, sunset, bob, "🔥")
    comment(conn, sunset, carol, "This would look amazing as a print <3")
    # Spread the times out, as an afternoon would (timestamps only; no event is recorded for them).
    conn.execute(
        "UPDATE notifications SET created_at = now() - (interval '7 minutes' * (max_seq - seq))"
        " FROM (SELECT max(seq) AS max_seq FROM notifications WHERE user_id = %(u)s) m"
        " WHERE user_id = %(u)s",
        {"u": alice},
    )
    oldest = conn.execute("SELECT id::text FROM notifications WHERE user_id = %s ORDER BY seq LIMIT 2",
                          (alice,)).fetchall()
    token = make_token(alice, service.secret)
    answer = httpx.post(f"{service.base_url}/api/notifications/mark-read", json=[r[0] for r in oldest],
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    unread: int = answer.json()["unread_count"]
    return unread


def test_screenshots_of_every_page_at_desktop_and_phone_width_in_light_and_dark(
    browser: Browser, demo: ServiceProcess, conn: psycopg.Connection[Any]
) -> None:
    """Every demo page renders with the live count, at both widths and in both colour schemes."""
    unread = seed_story(conn, demo)
    assert unread == 6
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for size_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport=viewport, color_scheme=scheme,
                                          is_mobile=size_name == "phone", has_touch=size_name == "phone")
            context.add_init_script(KEEP_UNREAD)
            try:
                page = context.new_page()
                for name, path in (("home", "/demo"), ("profile", "/demo/profile"),
                                   ("notifications", "/demo/notifications"),
                                   ("grouped", "/demo/notifications")):
                    page.goto(f"{demo.base_url}{path}?as=alice")
                    wait_until_live(page)
                    wait_for_badge(page, str(unread))
                    if name == "profile":
                        wait_for_badge(page, str(unread), selector="#profile-notifications")
                    if name == "notifications":
                        page.wait_for_function(
                            f"() => {SHADOW}.querySelectorAll('li.item.unread').length === {unread}")
                    if name == "grouped":
                        page.locator("notifications-page button[data-view=grouped]").click()
                        page.wait_for_function(f"() => {SHADOW}.querySelectorAll('li.group').length >= 4")
                    page.wait_for_load_state("networkidle")
                    target = SCREENSHOTS / f"{name}-{size_name}-{scheme}.png"
                    page.screenshot(path=str(target), full_page=True, animations="disabled")
                    written.append(target)
            finally:
                context.close()
    assert len(written) == 16
    assert all(path.stat().st_size > 10_000 for path in written)
