"""Service modes: `sub` tokens, the demo, and retention inside the service."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import psycopg
import pytest

from devkit.hostdata import add_post, add_user, react
from devkit.scrape import metric
from devkit.servers import running_service
from devkit.tokens import make_token
from tests.integration.ws_client import connect, recv_json

pytestmark = pytest.mark.timeout(90)


async def test_sub_claim_resolves_public_sqid(database_url: str,
                                              conn: psycopg.Connection[Any]) -> None:
    """With NOTIFICATIONS_JWT_USER_CLAIM=sub, `sub` names the user by public_sqid."""
    owner, actor = add_user(conn, "owner", "sq-owner"), add_user(conn, "actor", "sq-actor")
    react(conn, add_post(conn, owner), actor)
    with running_service(database_url, env={"NOTIFICATIONS_JWT_USER_CLAIM": "sub"}) as svc:
        good = make_token("sq-owner", svc.secret, claim="sub")
        page = httpx.get(svc.base_url + "/api/notifications/",
                         headers={"Authorization": f"Bearer {good}"}).json()
        assert page["unread_count"] == 1
        for token, detail in ((make_token("nobody", svc.secret, claim="sub"),
                               "token names an unknown user"),
                              (make_token(owner, svc.secret), "token has no valid sub claim")):
            response = httpx.get(svc.base_url + "/api/notifications/",
                                 headers={"Authorization": f"Bearer {token}"})
            assert (response.status_code, response.json()["detail"]) == (401, detail)
        async with connect(f"{svc.ws_url}?token={good}") as ws:
            assert (await recv_json(ws))["user_id"] == owner


def test_demo_seeds_users_and_prints_working_tokens(bare_database_url: str) -> None:
    """`serve --demo` on an empty database creates host tables and demo rows and prints tokens."""
    with running_service(bare_database_url, demo=True) as svc:
        log = svc.log_text()
        tokens = dict(re.findall(r"\n  (\w+) \(users\.id=\d+\)\n    token: (\S+)", log))
        assert {"alice", "bob", "carol"} <= set(tokens)
        assert "/demo?as=alice" in log
        response = httpx.get(svc.base_url + "/api/notifications/unread-count",
                             headers={"Authorization": f"Bearer {tokens['alice']}"})
        assert response.json() == {"unread_count": 0, "position": 0}
        assert httpx.get(svc.base_url + "/demo").status_code == 200
        svc.restart()  # idempotent: a second start finds everything in place
        with psycopg.connect(bare_database_url) as c:
            assert c.execute("SELECT count(*) FROM users").fetchone() == (5,)


def test_retention_runs_inside_the_service_unless_another_instance_holds_the_lock(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """The service's retention loop deletes expired rows, and skips while the lock is taken."""
    from pg_social_notifications.retention import RETENTION_LOCK_KEY

    owner, actor = add_user(conn, "owner"), add_user(conn, "actor")
    react(conn, add_post(conn, owner), actor)
    conn.execute("UPDATE notifications SET created_at = now() - interval '400 days'")
    env = {"NOTIFICATIONS_RETENTION_INTERVAL_HOURS": "24",
           "NOTIFICATIONS_RETENTION_FIRST_DELAY": "0.2"}
    with psycopg.connect(conn.info.dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK_KEY,))
        with running_service(database_url, env=env) as svc:
            deadline = time.monotonic() + 30
            while "retention skipped: another instance holds the lock" not in svc.log_text():
                assert time.monotonic() < deadline, svc.log_text()[-2000:]
                time.sleep(0.1)
            assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (1,)
    with running_service(database_url, env=env) as svc:
        deadline = time.monotonic() + 15
        while conn.execute("SELECT count(*) FROM notifications").fetchone() != (0,):
            assert time.monotonic() < deadline, svc.log_text()[-2000:]
            time.sleep(0.1)
        assert metric(svc.base_url, "notifications_retention_runs_total") == 1
