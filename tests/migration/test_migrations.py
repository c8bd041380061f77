"""Migrations: naming, rollback files, up → down → up on host data, and trigger-file drift."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devkit.hostdata import add_blog_post, add_post, add_user, comment, react
from pg_social_notifications import migrations
from pg_social_notifications.embedded_db import POSTGRES_BIN_PATH
from pg_social_notifications.paths import MIGRATIONS_DIR, TRIGGERS_DIR
from tests.conftest import PgServer

HOST_TABLES = ["users", "posts", "blog_posts", "reactions", "blog_post_reactions", "comments",
               "blog_post_comments", "user_blocks"]


def migration_files() -> list[str]:
    return sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".rollback.sql"))


def test_migrations_are_numbered_named_and_chained() -> None:
    """Files are NNNN_verb_object.sql, numbered 1..n, each depending on its predecessor."""
    names = migration_files()
    assert names, "no migrations found"
    for index, name in enumerate(names, start=1):
        assert re.fullmatch(r"\d{4}_[a-z]+(_[a-z0-9]+)+\.sql", name), name
        assert int(name[:4]) == index, f"{name} breaks the numbering"
        assert (MIGRATIONS_DIR / name.replace(".sql", ".rollback.sql")).exists(), f"{name} has no rollback"
        text = (MIGRATIONS_DIR / name).read_text()
        if index > 1:
            predecessor = names[index - 2][:-4]
            assert f"-- depends: {predecessor}" in text, f"{name} must depend on {predecessor}"


def host_snapshot(url: str) -> dict[str, Any]:
    """Every host table's rows and its triggers' names, to compare before and after."""
    snapshot: dict[str, Any] = {}
    with psycopg.connect(url) as conn:
        for table in HOST_TABLES:
            query = psycopg.sql.SQL("SELECT t::text FROM {} AS t ORDER BY 1").format(
                psycopg.sql.Identifier(table))
            snapshot[table] = conn.execute(query).fetchall()
        snapshot["schema"] = conn.execute(
            "SELECT table_name, column_name, data_type, column_default FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = ANY(%s) ORDER BY 1, 2", (HOST_TABLES,)
        ).fetchall()
        snapshot["triggers"] = conn.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
            " AND tgrelid::regclass::text = ANY(%s) ORDER BY 1, 2", (HOST_TABLES,)).fetchall()
    return snapshot


def test_apply_rollback_apply_leaves_host_data_unchanged(bare_database_url: str) -> None:
    """On a database that already holds host data, up → down → up never changes host rows."""
    url = bare_database_url
    migrations.create_host_tables(url)
    with psycopg.connect(url, autocommit=True) as conn:
        owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
        post = add_post(conn, owner)
        add_blog_post(conn, owner)
        react(conn, post, actor)
        comment(conn, post, actor, "before migrations")
    before = host_snapshot(url)

    assert migrations.apply(url) == [m[:-4] for m in migration_files()]
    with psycopg.connect(url, autocommit=True) as conn:
        react(conn, post, actor, "🎉")  # the triggers work on top of existing data
        assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (1,)
        conn.execute("DELETE FROM reactions WHERE emoji = '🎉'")
    assert migrations.rollback(url, everything=True)
    after_rollback = host_snapshot(url)
    assert after_rollback == before
    with psycopg.connect(url) as conn:
        leftovers = conn.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'notification%%'").fetchall()
        assert leftovers == []
        functions = conn.execute(
            "SELECT proname FROM pg_proc WHERE proname LIKE '%%notif%%'"
            " AND pronamespace = 'public'::regnamespace").fetchall()
        assert functions == []
    migrations.apply(url)
    assert all(state.applied for state in migrations.status(url))
    assert host_snapshot(url)["reactions"] == before["reactions"]


def test_rollback_without_all_undoes_only_the_newest(bare_database_url: str) -> None:
    """`migrate rollback` steps back one migration at a time."""
    migrations.create_host_tables(bare_database_url)
    migrations.apply(bare_database_url)
    newest = migration_files()[-1][:-4]
    assert migrations.rollback(bare_database_url) == [newest]
    states = {s.id: s.applied for s in migrations.status(bare_database_url)}
    assert states[newest] is False
    assert sum(states.values()) == len(states) - 1


def schema_dump(url: str) -> str:
    out = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--schema-only", "--no-owner",
         f"--exclude-schema={migrations.BOOKKEEPING_SCHEMA}", "-d", url],
        capture_output=True, text=True, check=True).stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith("\\restrict")
                     and not line.startswith("\\unrestrict"))


OUR_FUNCTIONS = """
SELECT p.oid::regprocedure::text FROM pg_proc AS p
 WHERE p.pronamespace = current_schema()::regnamespace AND p.proname ~ '^notifications?_'
"""


def test_trigger_files_and_migrations_build_the_same_schema(pg_server: PgServer,
                                                            template_database: str) -> None:
    """Every function and trigger of the migrations comes from db/triggers, and nothing else.

    Database A is built by the migrations. Database B is A with every function of
    ours dropped (their triggers go with them), then rebuilt from db/triggers/*.sql
    alone. Their catalogues must be equal both ways: an edited trigger file, a
    deleted one, a trigger missing from its file or left only in a migration fail.
    """
    clone = pg_server.create_database(template=template_database)
    try:
        clone_url = pg_server.url_for(clone)
        with psycopg.connect(clone_url, autocommit=True) as conn:
            migrations.prepare_session(conn.execute)
            for (signature,) in conn.execute(OUR_FUNCTIONS).fetchall():
                conn.execute(f"DROP FUNCTION {signature} CASCADE")  # names from the catalogue
            assert conn.execute(OUR_FUNCTIONS).fetchall() == []
            for path in sorted(TRIGGERS_DIR.glob("*.sql")):
                conn.execute(path.read_text())
        assert schema_dump(clone_url) == schema_dump(pg_server.url_for(template_database))
    finally:
        pg_server.drop_database(clone)


RELEASED = Path(__file__).with_name("released_migrations.sha256")


def test_released_migrations_are_never_edited() -> None:
    """Every migration file is listed with its SHA-256 when released and never changes after.

    A change to a function ships as a new migration (and a new line here), never as an
    edit of a released one: databases that applied the old text would silently differ.
    """
    released = dict(line.split()[::-1] for line in RELEASED.read_text().splitlines() if line)
    files = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert sorted(released) == files, "every migration file must be listed as released"
    for name in files:
        digest = hashlib.sha256((MIGRATIONS_DIR / name).read_bytes()).hexdigest()
        assert released[name] == digest, f"released migration {name} was edited"


def test_cli_migrate_apply_status_rollback(bare_database_url: str) -> None:
    """`notifications migrate apply|status|rollback` work against DATABASE_URL."""
    env = {**os.environ, "DATABASE_URL": bare_database_url}

    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", "migrate", *args],
                              env=env, capture_output=True, text=True, check=True).stdout

    assert "applied: 0001_create_notification_tables" in cli("apply", "--with-host-tables")
    assert "pending" not in cli("status")
    assert "rolled back" in cli("rollback", "--all")
    assert cli("status").count("pending") == len(migration_files())


def test_a_migration_waits_at_most_its_lock_timeout_names_the_blocker_and_retries(
        database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A host transaction holding reactions open makes the rollback step back after 2 s
    (logging who held the lock), so other host writes queue at most that long; once the
    host commits, the retry succeeds."""
    newest_first = [name[:-4] for name in reversed(migration_files())]
    # 0009 (the insight tables) touches no host table: rolled back first, so that the step
    # measured is 0008's, which re-creates the triggers on reactions.
    assert migrations.rollback(database_url) == [newest_first[0]]
    with psycopg.connect(database_url, application_name="slow-host-request") as slow:
        owner = add_user(slow, "owner")
        post = add_post(slow, owner)
        slow.commit()
        react(slow, post, add_user(slow, "bob"))  # ... and the transaction stays open
        released = threading.Timer(3.0, slow.commit)
        released.start()
        caplog.set_level(logging.WARNING, logger="pg_social_notifications.migrations")
        started = time.monotonic()
        try:
            assert migrations.rollback(database_url) == [newest_first[1]]
        finally:
            released.join()
        took = time.monotonic() - started
    assert 3.0 <= took < 3.0 + migrations.RETRY_PAUSE + 3.0
    waited = [r.getMessage() for r in caplog.records if "stepped back" in r.getMessage()]
    assert waited and "slow-host-request" in waited[0], waited
    migrations.apply(database_url)


def back_to_0005(url: str) -> None:
    """Roll back, newest first, until 0006 is undone."""
    while True:
        rolled = migrations.rollback(url)
        assert rolled, "0006 was never applied"
        if rolled == ["0006_preferences_under_the_plans_names"]:
            return


PREFERENCE_COLUMNS = """
SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
 WHERE attrelid = 'notification_preferences'::regclass AND attnum > 0 AND NOT attisdropped
   AND atttypid = 'boolean'::regtype
"""


def test_0006_renames_the_switches_to_the_plans_names_keeping_every_choice(
        bare_database_url: str) -> None:
    """A user who turned reactions on artwork off under the old names has them off under
    the plan's, and the triggers honour it; the rollback gives the old names back, as set."""
    url = bare_database_url
    migrations.create_host_tables(url)
    migrations.apply(url)
    back_to_0005(url)
    with psycopg.connect(url, autocommit=True) as conn:
        owner, actor = add_user(conn, "owner"), add_user(conn, "actor")
        post = add_post(conn, owner)
        conn.execute("INSERT INTO notification_preferences (user_id, reactions_on_posts,"
                     " aggregate_same_type) VALUES (%s, false, false)", (owner,))
    assert "0006_preferences_under_the_plans_names" in migrations.apply(url)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(PREFERENCE_COLUMNS).fetchone()
        assert row is not None and row[0].startswith(
            "notify_on_post_reactions,notify_on_post_comments,notify_on_blog_reactions,"
            "notify_on_blog_comments,aggregate_same_type")
        assert conn.execute(
            "SELECT notify_on_post_reactions, notify_on_post_comments, aggregate_same_type"
            " FROM notification_preferences WHERE user_id = %s", (owner,)).fetchone() == (
            False, True, False)
        react(conn, post, actor, "👍")  # turned off: nothing
        comment(conn, post, actor, "still on")
        kinds = conn.execute("SELECT notification_type FROM notifications").fetchall()
        assert kinds == [("comment",)]
        # The host or a DBA writes the plan's columns directly.
        conn.execute("UPDATE notification_preferences SET notify_on_post_comments = false"
                     " WHERE user_id = %s", (owner,))
    back_to_0005(url)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT reactions_on_posts, comments_on_posts, aggregate_same_type"
            " FROM notification_preferences WHERE user_id = %s", (owner,)).fetchone() == (
            False, False, False)
        comment(conn, post, actor, "off under the old name too")
        assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (1,)
