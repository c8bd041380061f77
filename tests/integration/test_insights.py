"""Insight end to end against the real service: the follower turns the replay log into
insight rows (delivered, read), opens are recorded from the page, a push (its signed token,
from a real encrypted push) and a digest's link (a redirect to the notification, never
elsewhere); `notifications stats` and /ops/insights.json report them per kind and
channel, with an A/B comparison; retention covers the rows."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from devkit import webpush
from devkit.hostdata import add_blog_post, add_post, comment, react, react_blog, wait_until_sequenced
from devkit.servers import SECRET, ServiceProcess, running_service
from devkit.tokens import make_token
from devkit.webpush import FakeBrowser, FakePushService, vapid_private_pem
from pg_social_notifications.insights import difference, variant_for, wilson
from pg_social_notifications.open_tokens import make_open_token
from pg_social_notifications.settings import Settings
from tests.integration.service_fixtures import db, new_user, shared_database_url
from tests.integration.test_email_digests import PUBLIC, add_person, digest_now, parts, smtp

__all__ = ["db", "shared_database_url", "smtp"]
pytestmark = pytest.mark.timeout(90)
OPS = "ops-token-for-the-tests-0123456789"
VARIANTS = ("sentence", "title-first")
API = "/api/notifications"


@pytest.fixture(scope="module")
def push_service() -> Iterator[FakePushService]:
    fake = FakePushService()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def service(shared_database_url: str) -> Iterator[ServiceProcess]:
    env = {**webpush.push_env(vapid_private_pem(), delay=0.5, cap=3),
           "NOTIFICATIONS_INSIGHTS_INTERVAL": "0.3", "NOTIFICATIONS_INSIGHTS_SETTLE": "0.5",
           "NOTIFICATIONS_OPS_TOKEN": OPS,
           "NOTIFICATIONS_EXPERIMENT": "format-1", "NOTIFICATIONS_EXPERIMENT_VARIANTS": ",".join(VARIANTS),
           "NOTIFICATIONS_PUBLIC_URL": PUBLIC}
    with running_service(shared_database_url, env=env) as svc:
        yield svc


def auth(user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user_id, SECRET)}"}


def insight(db: psycopg.Connection[Any], notification_id: str | uuid.UUID, timeout: float = 10.0
            ) -> dict[str, Any]:
    """The notification's insight row, once the follower has written it."""
    deadline = time.monotonic() + timeout
    while True:
        with db.cursor(row_factory=psycopg.rows.dict_row) as cur:
            row = cur.execute("SELECT * FROM notification_insights WHERE notification_id = %s",
                              (notification_id,)).fetchone()
        if row is not None:
            return row
        assert time.monotonic() < deadline, "the follower wrote no insight row"
        time.sleep(0.1)


def until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def listed(service: ServiceProcess, user_id: int) -> list[dict[str, Any]]:
    response = httpx.get(service.base_url + API + "/", headers=auth(user_id))
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_the_follower_records_each_notification_its_kind_variant_and_read_time(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """Every created notification gets one row (kind, the user's variant, created_at);
    marking read through the API sets read_at from the replay log."""
    owner, fan = new_user(db), new_user(db)
    post, blog = add_post(db, owner), add_blog_post(db, owner)
    react(db, post, fan)
    comment(db, post, fan, "nice")
    react_blog(db, blog, fan)
    wait_until_sequenced(db)
    items = listed(service, owner)
    rows = {n["id"]: insight(db, n["id"]) for n in items}
    assert sorted(r["kind"] for r in rows.values()) == ["blog_reactions", "post_comments", "post_reactions"]
    settings = Settings(experiment="format-1", experiment_variants=VARIANTS)
    assert {r["variant"] for r in rows.values()} == {variant_for(settings, owner)}
    assert all(r["read_at"] is None and r["opened_at"] is None for r in rows.values())
    httpx.post(service.base_url + API + "/mark-read", json=[items[0]["id"]], headers=auth(owner))
    until(lambda: insight(db, items[0]["id"])["read_at"] is not None)
    assert insight(db, items[1]["id"])["read_at"] is None


def test_the_sql_and_python_variants_agree_and_spread_evenly(db: psycopg.Connection[Any]) -> None:
    settings = Settings(experiment="format-1", experiment_variants=VARIANTS)
    in_sql = dict(db.execute("SELECT g, notification_ab_variant('format-1', %s, g)"
                             " FROM generate_series(1, 2000) g", (list(VARIANTS),)).fetchall())
    assert all(in_sql[u] == variant_for(settings, u) for u in in_sql)
    share = sum(v == VARIANTS[0] for v in in_sql.values()) / len(in_sql)
    assert 0.45 < share < 0.55
    assert db.execute("SELECT notification_ab_variant('x', '{}', 1)").fetchone() == (None,)


def test_an_open_from_the_page_counts_once_and_only_for_the_owner(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    owner, other = new_user(db), new_user(db)
    react(db, add_post(db, owner), other)
    wait_until_sequenced(db)
    [n] = listed(service, owner)
    url = f"{service.base_url}{API}/{n['id']}/opened"
    assert httpx.post(url, headers=auth(other)).status_code == 404
    assert httpx.post(url).status_code == 401
    assert httpx.post(f"{service.base_url}{API}/not-a-uuid/opened", headers=auth(owner)).status_code == 400
    assert httpx.post(url, headers=auth(owner)).status_code == 204
    first = insight(db, n["id"])
    assert first["opened_via"] == "in_app" and first["opened_at"] is not None
    assert httpx.post(url, headers=auth(owner)).status_code == 204
    assert insight(db, n["id"])["opened_at"] == first["opened_at"]  # the first open counts


def test_a_push_carries_a_token_that_records_its_open(
        service: ServiceProcess, db: psycopg.Connection[Any], push_service: FakePushService) -> None:
    """A real push (decrypted from the fake push service) carries the user's variant and
    an open token; the service worker's POST of it records the open through push, and
    pushed_at was noted when the push service took it. A forged token is refused."""
    owner, fan = new_user(db), new_user(db)
    browser = FakeBrowser(push_service.endpoint())
    assert httpx.post(service.base_url + API + "/push/subscriptions", json=browser.to_json(),
                      headers=auth(owner)).status_code == 201
    react(db, add_post(db, owner), fan, "🔥")
    until(lambda: push_service.to(browser.endpoint))
    key = httpx.get(service.base_url + API + "/push/public-key").json()["public_key"]
    message = browser.open(push_service.to(browser.endpoint)[0], key)
    settings = Settings(experiment="format-1", experiment_variants=VARIANTS)
    assert message["variant"] == variant_for(settings, owner)
    notification_id = message["notification"]["id"]
    until(lambda: insight(db, notification_id)["pushed_at"] is not None)
    opened = httpx.post(service.base_url + API + "/opened", json={"token": message["open_token"]})
    assert opened.status_code == 204, opened.text
    row = insight(db, notification_id)
    assert row["opened_via"] == "push" and row["opened_at"] >= row["pushed_at"]
    forged = message["open_token"][:-2] + ("AA" if not message["open_token"].endswith("AA") else "BB")
    for body in ({"token": forged}, {"token": "nope"}, {"token": 5}, {"token": "x", "more": 1}):
        assert httpx.post(service.base_url + API + "/opened", json=body).status_code == 400, body
    expired = make_open_token(SECRET, uuid.UUID(notification_id), owner, "push", now=time.time() - 10, ttl=1)
    assert httpx.post(service.base_url + API + "/opened", json={"token": expired}).status_code == 400


def test_a_digests_links_note_the_open_and_go_only_to_the_notification(
        service: ServiceProcess, db: psycopg.Connection[Any], shared_database_url: str,
        smtp: tuple[Any, int]) -> None:
    """Each group's link in a real digest goes through the open route: it records the open
    through email (and emailed_at was noted), then 303s to the notification's own link, or
    to the site's notifications page when it is gone; a bad token gets a 400 page."""
    collector, port = smtp
    alice = add_person(db, f"alice_{uuid.uuid4().hex[:8]}", f"{uuid.uuid4().hex[:8]}@example.com", True)
    fan = new_user(db)
    react(db, add_post(db, alice, "Sunset", art_url="https://art.example/sunset.png"), fan)
    wait_until_sequenced(db)
    [n] = listed(service, alice)
    insight(db, n["id"])  # the follower first
    digest_now(shared_database_url, port)
    [(_, message)] = [m for m in collector.messages if m[1]["To"].endswith("@example.com")
                      and str(m[1]["To"]) == db.execute("SELECT email FROM users WHERE id = %s",
                                                        (alice,)).fetchone()[0]]  # type: ignore[index]
    _, html = parts(message)
    links = [link for link in re.findall(r'href="([^"]+)"', html) if "/api/notifications/open?" in link]
    assert len(links) == 1 and links[0].startswith(PUBLIC + "/api/notifications/open?token=")
    assert insight(db, n["id"])["emailed_at"] is not None
    path = urlsplit(links[0].replace("&amp;", "&"))
    response = httpx.get(f"{service.base_url}{path.path}?{path.query}")
    assert response.status_code == 303
    assert response.headers["location"] == "https://art.example/sunset.png"
    row = insight(db, n["id"])
    assert row["opened_via"] == "email"

    db.execute("DELETE FROM notifications WHERE id = %s", (n["id"],))
    gone = httpx.get(f"{service.base_url}{path.path}?{path.query}")
    assert gone.status_code == 303 and gone.headers["location"] == PUBLIC + "/notifications"
    bad = httpx.get(f"{service.base_url}{API}/open", params={"token": "forged.token"})
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"]
    assert "forged" not in bad.text


def test_the_report_per_kind_and_channel_and_the_ab_comparison(
        service: ServiceProcess, db: psycopg.Connection[Any], shared_database_url: str) -> None:
    """`notifications stats --json` and /ops/insights.json count delivered and opened per
    kind and channel, the open rate and the medians, and compare the variants' open rates
    (Wilson intervals, the difference from the control); the ops report needs the token."""
    fan = new_user(db)
    owners = [new_user(db) for _ in range(8)]
    for owner in owners:
        post = add_post(db, owner)
        for _ in range(3):
            react(db, post, fan)
    wait_until_sequenced(db)
    for owner in owners[:4]:  # half the owners open one of theirs
        first = listed(service, owner)[0]
        opened = httpx.post(f"{service.base_url}{API}/{first['id']}/opened", headers=auth(owner))
        assert opened.status_code == 204
    until(lambda: db.execute("SELECT count(*) FROM notification_insights WHERE user_id = ANY(%s)",
                             (owners,)).fetchone() == (24,))

    env = {**os.environ, "DATABASE_URL": shared_database_url, "NOTIFICATIONS_EXPERIMENT": "format-1",
           "NOTIFICATIONS_EXPERIMENT_VARIANTS": ",".join(VARIANTS)}
    cli = [sys.executable, "-m", "pg_social_notifications.cli", "stats"]
    done = subprocess.run([*cli, "--days", "1", "--json"],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    cli_report = json.loads(done.stdout)
    table = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "| post_reactions | in_app |" in table and "A/B test format-1" in table

    assert httpx.get(service.base_url + "/ops/insights.json").status_code == 401
    assert httpx.get(service.base_url + "/ops/insights.json",
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    ops = httpx.get(service.base_url + "/ops/insights.json", params={"days": 1},
                    headers={"Authorization": f"Bearer {OPS}"})
    assert ops.status_code == 200
    assert httpx.get(service.base_url + "/ops/insights.json", params={"days": 0},
                     headers={"Authorization": f"Bearer {OPS}"}).status_code == 400
    for result in (cli_report, ops.json()):
        in_app = next(c for c in result["channels"]
                      if c["kind"] == "post_reactions" and c["channel"] == "in_app")
        assert in_app["delivered"] >= 24 and in_app["opened"] >= 4
        assert in_app["open_rate"] == pytest.approx(in_app["opened"] / in_app["delivered"])
        assert in_app["median_seconds_to_open"] is not None and in_app["median_seconds_to_open"] >= 0
        variants = {v["variant"]: v for v in result["variants"] if v["channel"] == "in_app"}
        assert set(variants) == set(VARIANTS)
        control, other = variants[VARIANTS[0]], variants[VARIANTS[1]]
        assert control["difference"] is None
        assert other["difference"] == pytest.approx(other["open_rate"] - control["open_rate"])
        assert other["difference_low"] < other["difference"] < other["difference_high"]
        for v in variants.values():
            assert v["open_rate_low"] <= v["open_rate"] <= v["open_rate_high"]
        assert {d["channel"] for d in result["daily"]} >= {"in_app"}


def test_the_ops_routes_exist_only_with_a_token(shared_database_url: str) -> None:
    with running_service(shared_database_url) as plain:
        assert httpx.get(plain.base_url + "/ops/insights.json",
                         headers={"Authorization": f"Bearer {OPS}"}).status_code == 404
        assert httpx.get(plain.base_url + "/ops/insights").status_code == 404


def test_wilson_and_difference_intervals() -> None:
    """Known values: Wilson for 0/10, 5/10 and 80/100; the difference of 50/100 and 60/100."""
    low, high = wilson(0, 10) or (0.0, 0.0)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-3)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-3)
    assert wilson(80, 100) == pytest.approx((0.7112, 0.8666), abs=1e-3)
    assert wilson(1, 0) is None
    d = difference((50, 100), (60, 100))
    assert d is not None and d[0] == pytest.approx(0.10)
    assert d[1] == pytest.approx(0.10 - 1.959964 * (0.25 / 100 + 0.24 / 100) ** 0.5)


def test_retention_deletes_old_insight_rows(service: ServiceProcess, db: psycopg.Connection[Any],
                                           shared_database_url: str) -> None:
    old, recent = uuid.uuid4(), uuid.uuid4()
    db.execute("INSERT INTO notification_insights (notification_id, user_id, kind, created_at)"
               " VALUES (%s, 1, 'post_reactions', now() - interval '200 days'),"
               "        (%s, 1, 'post_reactions', now() - interval '10 days')", (old, recent))
    env = {**os.environ, "DATABASE_URL": shared_database_url}
    subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", "cleanup"], env=env,
                   capture_output=True, text=True, timeout=60, check=True)
    left = {r[0] for r in db.execute("SELECT notification_id FROM notification_insights"
                                     " WHERE notification_id = ANY(%s)", ([old, recent],))}
    assert left == {recent}
