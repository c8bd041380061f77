"""The roles and grants of docs/DBA.md, run as written: migrator, host and service.

The test extracts the SQL block from docs/DBA.md (only the role names get a
suffix, so runs never collide, and `site` becomes this test's database),
migrates as the migrator, writes as the host and serves as the service. If
the documented grants were short of anything, a step here would fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect as ws_connect

from devkit.hostdata import add_post, add_user, comment, react, unread_state, wait_until_sequenced
from devkit.servers import REPO_ROOT, running_service
from devkit.tokens import make_token
from pg_social_notifications import migrations
from tests.conftest import PgServer

DBA_MD = Path(__file__).resolve().parents[2] / "docs" / "DBA.md"
ROLES = ("host_app", "notifications_migrator", "notifications_service")
AFTER_MIGRATE = "-- after `notifications migrate apply`, as notifications_migrator:"
HOST_TABLES = ("users, posts, blog_posts, reactions, blog_post_reactions, comments, "
               "blog_post_comments, user_blocks")


def documented_grants() -> tuple[str, str]:
    """The roles block of docs/DBA.md: (before migrating, after migrating as the migrator)."""
    blocks = re.findall(r"```sql\n(-- roles:.*?)```", DBA_MD.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/DBA.md must hold exactly one roles block"
    before, sep, after = blocks[0].partition(AFTER_MIGRATE)
    assert sep, "the roles block must say which grants follow the migration"
    return before, after


def url_as(url: str, role: str) -> str:
    return re.sub(r"//[^@/]+@", f"//{role}@", url, count=1)


@pytest.fixture
def roles_database(pg_server: PgServer) -> Iterator[tuple[str, dict[str, str]]]:
    """A bare database with the host's tables, owned by an administrator; role names."""
    name = pg_server.create_database()
    url = pg_server.url_for(name)
    migrations.create_host_tables(url)
    suffix = uuid.uuid4().hex[:6]
    names = {role: f"{role}_{suffix}" for role in ROLES}
    yield url, names
    with psycopg.connect(pg_server.admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # names are ours
        for role in names.values():
            admin.execute(f"DROP ROLE IF EXISTS {role}")


def apply_block(url: str, block: str, names: dict[str, str], dbname: str) -> None:
    for role, name in names.items():
        block = re.sub(rf"\b{role}\b", name, block)
    block = block.replace("ON DATABASE site", f"ON DATABASE {dbname}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(block)  # the documented SQL, with our role and database names


async def live_notification(ws_url: str, token: str, write: Any) -> dict[str, Any]:
    async with ws_connect(f"{ws_url}?token={token}") as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["type"] == "hello"
        write()
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "notification":
                return message


def test_documented_grants_are_enough_for_every_role(roles_database: tuple[str, dict[str, str]]
                                                     ) -> None:
    """Migrate as the migrator, write as the host, serve, sequence, clean up and check as
    the service, each with exactly the grants docs/DBA.md gives it."""
    admin_url, names = roles_database
    dbname = admin_url.rsplit("/", 1)[1]
    before, after = documented_grants()
    apply_block(admin_url, before, names, dbname)
    host, migrator, service_role = (names[r] for r in ROLES)
    with psycopg.connect(admin_url, autocommit=True) as conn:  # the host owns its tables
        for table in HOST_TABLES.split(", "):
            conn.execute(f"ALTER TABLE {table} OWNER TO {host}")  # names are ours

    assert migrations.apply(url_as(admin_url, migrator))
    apply_block(url_as(admin_url, migrator), after, names, dbname)

    host_url, service_url = url_as(admin_url, host), url_as(admin_url, service_role)
    with psycopg.connect(host_url, autocommit=True) as conn:
        owner, actor = add_user(conn, "owner"), add_user(conn, "actor")
        post = add_post(conn, owner)
        rid = react(conn, post, actor)
        conn.execute("UPDATE reactions SET emoji = '🎉' WHERE id = %s", (rid,))
        cid = comment(conn, post, actor, "first")
        conn.execute("UPDATE comments SET hidden_by_mod = true WHERE id = %s", (cid,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT notification_sequence(1)")

    with running_service(service_url) as service, \
            psycopg.connect(admin_url, autocommit=True) as observer:
        token = make_token(owner, service.secret)
        headers = {"Authorization": f"Bearer {token}"}
        wait_until_sequenced(observer)  # the service's own sequencer, watched by an admin
        page = httpx.get(service.base_url + "/api/notifications/", headers=headers).json()
        assert [n["emoji"] for n in page["items"]] == ["🎉"]

        def write() -> None:
            with psycopg.connect(host_url, autocommit=True) as conn:
                comment(conn, post, actor, "live")

        message = asyncio.run(live_notification(service.ws_url, token, write))
        assert message["notification"]["comment_preview"] == "live"
        marked = httpx.post(service.base_url + "/api/notifications/mark-all-read",
                            headers=headers).json()
        assert marked["unread_count"] == 0 and marked["marked"] == 2
        prefs = httpx.put(service.base_url + "/api/notifications/preferences", headers=headers,
                          json={"notify_on_post_comments": False})
        assert prefs.status_code == 200

    env = {**os.environ, "DATABASE_URL": service_url}
    for command in (["cleanup"], ["check"]):
        done = subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", *command], cwd=REPO_ROOT,
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    with psycopg.connect(admin_url, autocommit=True) as conn:
        assert unread_state(conn, owner) == (0, 0)
