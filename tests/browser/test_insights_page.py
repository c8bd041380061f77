"""The operators' insight page in Chromium: it asks for the operators' token, plots delivered
and open rate per day and channel with the chart library the service serves itself, and
shows the tables of `notifications stats`; the picture goes with the docs' screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg
from playwright.sync_api import BrowserContext

from devkit.hostdata import add_post, add_user, react, wait_until_sequenced
from devkit.servers import SECRET, running_service
from devkit.tokens import make_token
from tests.browser.test_screenshots import SCREENSHOTS

OPS = "ops-token-for-the-browser-tests-42"
# Fourteen days of history, as the follower and the workers would have written it: per day
# and user, a reaction notification, pushed for some, emailed for others, opened for some.
HISTORY = """
INSERT INTO notification_insights (notification_id, user_id, kind, variant, created_at,
                                   pushed_at, emailed_at, opened_at, opened_via, read_at)
SELECT gen_random_uuid(), u, CASE WHEN u % 3 = 0 THEN 'post_comments' ELSE 'post_reactions' END,
       CASE WHEN u % 2 = 0 THEN 'sentence' ELSE 'title-first' END, t,
       CASE WHEN u % 4 <> 0 THEN t + interval '5 seconds' END,
       CASE WHEN u % 4 = 0 THEN t + interval '9 hours' END,
       CASE WHEN (u * 7 + d) % 10 < 3 + u % 2 THEN t + interval '20 minutes' END,
       CASE WHEN (u * 7 + d) % 10 < 3 + u % 2
            THEN CASE WHEN u % 4 = 0 THEN 'email' WHEN u % 5 = 0 THEN 'in_app' ELSE 'push' END END,
       CASE WHEN (u + d) % 3 <> 0 THEN t + interval '2 hours' END
  FROM generate_series(1, 14) AS d, generate_series(1, 40) AS u,
       LATERAL (SELECT now() - make_interval(days => d) + make_interval(mins => u) AS t) AS at
"""


def test_the_operators_page_plots_and_tabulates_the_report(
        context: BrowserContext, database_url: str, conn: psycopg.Connection[Any]) -> None:
    env = {"NOTIFICATIONS_OPS_TOKEN": OPS, "NOTIFICATIONS_EXPERIMENT": "format-1",
           "NOTIFICATIONS_EXPERIMENT_VARIANTS": "sentence,title-first",
           "NOTIFICATIONS_INSIGHTS_INTERVAL": "0.3", "NOTIFICATIONS_INSIGHTS_SETTLE": "0.5"}
    conn.execute(HISTORY)
    with running_service(database_url, env=env) as service:
        owner, fan = add_user(conn, "owner"), add_user(conn, "fan")
        react(conn, add_post(conn, owner), fan)  # and one live, through the follower
        wait_until_sequenced(conn)
        [n] = httpx.get(f"{service.base_url}/api/notifications/", headers={
            "Authorization": f"Bearer {make_token(owner, SECRET)}"}).json()["items"]
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        outside: list[str] = []
        page.on("request", lambda r: None if r.url.startswith(service.base_url) else outside.append(r.url))
        page.goto(f"{service.base_url}/ops/insights")
        page.fill("#token", "not-the-token-at-all")
        page.click("button[type=submit]")
        page.wait_for_function(
            "() => document.querySelector('#status').textContent.includes('not the operators')")
        assert page.is_hidden("#report")

        page.fill("#token", OPS)
        page.select_option("#days", "30")
        page.wait_for_function("() => document.body.dataset.ready === 'true'")
        rows = page.eval_on_selector_all("#channels tbody tr", "rows => rows.map(r => r.textContent)")
        assert any(r.startswith("post_reactionsPush") for r in rows), rows
        assert any(r.startswith("post_commentsEmail digest") for r in rows), rows
        variants = page.eval_on_selector_all("#variants tbody tr", "rows => rows.map(r => r.textContent)")
        assert any("control" in v for v in variants) and any("pts" in v for v in variants), variants
        assert page.eval_on_selector_all(".uplot canvas", "c => c.length") == 2
        legend = page.eval_on_selector_all(".u-legend .u-label", "l => l.map(x => x.textContent)")
        assert {"In the app", "Push", "Email digest"} <= set(legend)
        assert errors == [] and outside == []  # nothing fetched from anywhere else
        httpx.post(f"{service.base_url}/api/notifications/{n['id']}/opened",
                   headers={"Authorization": f"Bearer {make_token(owner, SECRET)}"})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target: Path = SCREENSHOTS / "insights-desktop-light.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 10_000
