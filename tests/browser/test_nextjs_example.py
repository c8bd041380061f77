"""The Next.js example (web/examples/nextjs), built with `next build` and run with
`next start` against the real service and PostgreSQL, driven in Chromium.

The app installs the npm package from web/ (packed, as `npm pack` ships it), signs
its users in with its own HttpOnly session cookie and hands the browser a JWT for
the service from a route handler, as a cookie-session host would. A plain-SQL
INSERT moves the header badge live; the profile page's button shows the count;
the notifications page, written against useNotifications(), highlights unread
items and marks them read once seen, and a second tab agrees.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page

from devkit.hostdata import add_post, add_user, comment, react
from devkit.servers import running_service
from pg_social_notifications.embedded_db import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "web" / "examples" / "nextjs"
# npm's own cache (~/.npm) stays warm between runs: a second install downloads nothing.
NPM = ["npm", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]

pytestmark = pytest.mark.timeout(600)


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=480)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def built_app() -> Path:
    """`npm ci` (the package from ../.., packed afresh) and `next build`, once per run."""
    if shutil.which("npm") is None:
        pytest.fail("npm is needed for the Next.js example (scripts/test.sh installs it)")
    run([*NPM, "ci"], APP)
    run(["npx", "next", "build"], APP, {"NEXT_TELEMETRY_DISABLED": "1"})
    return APP


@pytest.fixture
def next_app(built_app: Path, database_url: str) -> Iterator[dict[str, Any]]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    with running_service(database_url, env={"NOTIFICATIONS_ALLOWED_ORIGINS": origin}) as svc:
        env = {**os.environ, "NEXT_TELEMETRY_DISABLED": "1", "NOTIFICATIONS_URL": svc.base_url,
               "NOTIFICATIONS_JWT_SECRET": svc.secret, "SESSION_SECRET": "example-session-secret"}
        log = (built_app / ".next" / "test-server.log").open("wb")
        server = subprocess.Popen(["npx", "next", "start", "-p", str(port), "-H", "127.0.0.1"],
                                  cwd=built_app, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(origin + "/", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert server.poll() is None and time.monotonic() < deadline, \
                    (built_app / ".next" / "test-server.log").read_text()[-3000:]
                time.sleep(0.2)
            yield {"origin": origin, "service": svc}
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()


def count_of(page: Page, tag: str) -> Any:
    return page.evaluate(f"() => document.querySelector('{tag}')?.count ?? null")


CONSOLE: list[str] = []


def watched(page: Page) -> Page:
    """A page whose console messages and errors end up in a failure's message."""
    page.on("console", lambda message: CONSOLE.append(f"{page.url} {message.type}: {message.text}"))
    page.on("pageerror", lambda error: CONSOLE.append(f"{page.url} error: {error}"))
    return page


def wait_for(page: Page, predicate: str, timeout_ms: int = 15000) -> None:
    try:
        page.wait_for_function(predicate, timeout=timeout_ms)
    except Exception as exc:
        raise AssertionError(f"{predicate} never held on {page.url}\n" + "\n".join(CONSOLE[-30:])) from exc


def test_the_nextjs_example_badge_button_and_page_live(
        next_app: dict[str, Any], context: BrowserContext, conn: psycopg.Connection[Any]) -> None:
    owner, actor = add_user(conn, "painter"), add_user(conn, "admirer")
    post = add_post(conn, owner, "Harbour at dusk")
    react(conn, post, actor, "🔥")
    origin = next_app["origin"]

    home = watched(context.new_page())
    home.goto(f"{origin}/login?user={owner}")  # the site's own session cookie, then /
    wait_for(home, "() => document.querySelector('notification-badge')?.count === 1")
    wait_for(home, "() => document.querySelector('.live')?.dataset.connected === 'yes'")
    # A plain-SQL INSERT by the host moves the badge live, with no reload.
    conn.execute("INSERT INTO comments (id, post_id, author_id, body) VALUES (gen_random_uuid(), %s, %s, %s)",
                 (post, actor, "The light on the water!"))
    wait_for(home, "() => document.querySelector('notification-badge')?.count === 2")

    profile = watched(context.new_page())
    profile.goto(f"{origin}/profile")
    wait_for(profile, "() => document.querySelector('notifications-button')?.count === 2")

    page = watched(context.new_page())
    page.goto(f"{origin}/notifications")
    page.wait_for_selector("li.notification", timeout=15000)
    items = page.locator("li.notification")
    assert items.count() == 2
    # Newest first, unread highlighted before they are marked read on view.
    assert "commented on Harbour at dusk" in items.nth(0).inner_text()
    assert "reacted 🔥 to Harbour at dusk" in items.nth(1).inner_text()
    assert page.locator("li.notification.unread").count() == 2
    wait_for(page, "() => document.querySelectorAll('li.notification.unread').length === 0")
    # Marked read in the database, and every other tab agrees.
    deadline = time.monotonic() + 10
    while conn.execute("SELECT count(*) FROM notifications WHERE user_id = %s AND NOT is_read",
                       (owner,)).fetchone() != (0,):
        assert time.monotonic() < deadline, "the notifications page did not mark them read"
        time.sleep(0.1)
    wait_for(home, "() => document.querySelector('notification-badge')?.count === 0")
    wait_for(profile, "() => document.querySelector('notifications-button')?.count === 0")

    # One that arrives while the page is open: at the top, highlighted, then read once seen.
    comment(conn, post, actor, "Is it for sale?")
    wait_for(page, "() => document.querySelectorAll('li.notification').length === 3")
    assert "Is it for sale?" in page.locator("li.notification").nth(0).inner_text()
    wait_for(home, "() => document.querySelector('notification-badge')?.count === 1")
    wait_for(page, "() => document.querySelectorAll('li.notification.unread').length === 0")
    wait_for(home, "() => document.querySelector('notification-badge')?.count === 0")


def test_the_example_hands_out_tokens_only_to_its_signed_in_users(next_app: dict[str, Any]) -> None:
    origin = next_app["origin"]
    assert httpx.get(origin + "/api/notifications-token").status_code == 401
    forged = httpx.get(origin + "/api/notifications-token", cookies={"site_session": "1.forged"})
    assert forged.status_code == 401
