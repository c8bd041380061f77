"""The host's transactions, played against our triggers with real concurrent sessions.

CONTRACT.md §1: whatever the host could do before the triggers were installed,
it can still do after, with no new error, no new wait on another host
transaction and no new lock. Each test here is a scenario that failed on the
first version (docs/RELIABILITY.md names them).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from devkit.hostdata import add_post, add_user, comment, react, sequence, unread_state
from pg_social_notifications import migrations
from pg_social_notifications.consistency import find_drift
from pg_social_notifications.queries import sql
from pg_social_notifications.retention import run_cleanup
from tests.conftest import PgServer

Conn = psycopg.Connection[Any]

# A statement that waits on a lock longer than this has been blocked by another
# transaction (a bare insert here takes well under a millisecond).
NO_WAIT = 0.5


def connect(url: str, **kwargs: Any) -> Conn:
    return psycopg.connect(url, **kwargs)


def timed(conn: Conn, query: str, params: Any = ()) -> float:
    started = time.perf_counter()
    conn.execute(query, params)
    return time.perf_counter() - started


@pytest.fixture
def site(conn: Conn) -> dict[str, int]:
    """Two owners with two posts each, and three actors."""
    ids = {name: add_user(conn, name) for name in ("alice", "bob", "carol", "dave", "erin")}
    for owner in ("alice", "bob"):
        for n in (1, 2):
            ids[f"{owner}_post{n}"] = add_post(conn, ids[owner], f"{owner} {n}")
    return ids


REACT = "INSERT INTO reactions (post_id, user_id, emoji) VALUES (%s, %s, '🔥') RETURNING id"


def test_opposite_order_multi_owner_transactions_both_commit(database_url: str,
                                                            site: dict[str, int]) -> None:
    """T1 reacts to alice's then bob's post, T2 to bob's then alice's: no deadlock, no wait."""
    with connect(database_url) as t1, connect(database_url) as t2:
        assert timed(t1, REACT, (site["alice_post1"], site["carol"])) < NO_WAIT
        assert timed(t2, REACT, (site["bob_post1"], site["dave"])) < NO_WAIT
        assert timed(t1, REACT, (site["bob_post2"], site["carol"])) < NO_WAIT
        assert timed(t2, REACT, (site["alice_post2"], site["dave"])) < NO_WAIT
        t1.commit()
        t2.commit()
    with connect(database_url, autocommit=True) as conn:
        sequence(conn)
        assert unread_state(conn, site["alice"]) == (2, 2)
        assert unread_state(conn, site["bob"]) == (2, 2)
        assert find_drift(database_url) == []


def test_a_held_open_host_transaction_blocks_no_other_write(database_url: str,
                                                           site: dict[str, int]) -> None:
    """While one host transaction that notified alice stays open, every other write
    that notifies or retracts for alice, mark-all-read and the sequencer run at once."""
    with connect(database_url) as slow, connect(database_url, autocommit=True) as other:
        old_reaction = react(other, site["alice_post2"], site["erin"])
        sequence(other)
        slow.execute(REACT, (site["alice_post1"], site["carol"]))  # ... and stays open
        assert timed(other, "INSERT INTO comments (id, post_id, author_id, body)"
                            " VALUES (%s, %s, %s, 'unrelated')",
                     (uuid.uuid4(), site["alice_post2"], site["dave"])) < NO_WAIT
        assert timed(other, REACT, (site["alice_post1"], site["dave"])) < NO_WAIT
        assert timed(other, "DELETE FROM reactions WHERE id = %s", (old_reaction,)) < NO_WAIT
        started = time.perf_counter()
        assert sequence(other) > 0
        assert time.perf_counter() - started < NO_WAIT
        with other.transaction():
            assert timed(other, sql("mark_all_read"), {"user_id": site["alice"], "up_to": None}) < NO_WAIT
        # The open transaction's notification is invisible to everyone until it commits.
        assert unread_state(other, site["alice"]) == (0, 0)
        slow.commit()
        assert unread_state(other, site["alice"]) == (1, 1)
    assert find_drift(database_url) == []


@pytest.mark.parametrize("isolation", ["REPEATABLE READ", "SERIALIZABLE"])
def test_strict_isolation_hosts_never_fail_on_our_account(database_url: str, site: dict[str, int],
                                                         isolation: str) -> None:
    """At REPEATABLE READ and SERIALIZABLE, concurrent host transactions that react,
    un-react and comment for the same owner all commit, even when the owner marked a
    notification read (and the sequencer ran) after their snapshots were taken."""
    with connect(database_url, autocommit=True) as admin:
        old = react(admin, site["alice_post1"], site["erin"])
        sequence(admin)
    with connect(database_url) as t1, connect(database_url) as t2, \
            connect(database_url, autocommit=True) as service:
        for t in (t1, t2):
            t.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
            # Take the snapshot now, reading a table neither writes (a read of reactions
            # would itself make the two conflict at SERIALIZABLE, triggers or not).
            t.execute("SELECT count(*) FROM user_blocks").fetchone()
        service.execute(sql("mark_all_read"), {"user_id": site["alice"], "up_to": None})
        sequence(service)
        t1.execute(REACT, (site["alice_post1"], site["carol"]))
        t2.execute(REACT, (site["alice_post2"], site["dave"]))
        t1.execute("DELETE FROM reactions WHERE id = %s", (old,))  # its notification was read
        t2.execute("INSERT INTO comments (id, post_id, author_id, body) VALUES (%s, %s, %s, 'x')",
                   (uuid.uuid4(), site["alice_post1"], site["dave"]))
        t1.commit()
        t2.commit()
    with connect(database_url, autocommit=True) as conn:
        assert unread_state(conn, site["alice"]) == (3, 3)
    assert find_drift(database_url) == []


def test_prepare_transaction_after_a_reaction(database_url: str, site: dict[str, int]) -> None:
    """Two-phase commit works: nothing of ours runs NOTIFY in the host's transaction."""
    with connect(database_url, autocommit=True) as conn:
        enabled = conn.execute("SHOW max_prepared_transactions").fetchone()
        assert enabled is not None and int(enabled[0]) > 0, "the test server must allow 2PC"
        gid = f"host-{uuid.uuid4().hex[:8]}"
        conn.execute("BEGIN")
        react(conn, site["alice_post1"], site["carol"])
        comment(conn, site["bob_post1"], site["carol"], "prepared")
        conn.execute(f"PREPARE TRANSACTION '{gid}'")  # gid is ours, not input
        assert unread_state(conn, site["alice"]) == (0, 0)
        conn.execute(f"COMMIT PREPARED '{gid}'")
        assert unread_state(conn, site["alice"]) == (1, 1)
        assert unread_state(conn, site["bob"]) == (1, 1)


@pytest.fixture
def other_schema_url(pg_server: PgServer) -> Iterator[str]:
    """A database whose host tables live in schema `site`, migrated with search_path site."""
    name = pg_server.create_database()
    url = pg_server.url_for(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA site")
        conn.execute("ALTER DATABASE " + name + " SET search_path = site")  # name is ours
    migrations.create_host_tables(url)
    migrations.apply(url)
    yield url
    pg_server.drop_database(name)


def test_host_tables_in_another_schema_and_any_search_path(other_schema_url: str) -> None:
    """Host tables in `site`, sessions with search_path pg_catalog or a decoy schema: the
    triggers still find their own tables (a fixed search_path), never the session's."""
    url = other_schema_url
    with connect(url, autocommit=True) as conn:
        owner, actor = add_user(conn, "owner"), add_user(conn, "actor")
        post = add_post(conn, owner)
        conn.execute("CREATE SCHEMA decoy")
        conn.execute("CREATE TABLE decoy.notifications (id int)")
    for search_path in ("pg_catalog", "decoy, site", "\"$user\""):
        with connect(url, autocommit=True) as host:
            host.execute(f"SET search_path = {search_path}")  # our constants
            host.execute("INSERT INTO site.reactions (post_id, user_id, emoji) VALUES (%s, %s, '🔥')",
                         (post, actor))
            host.execute("CREATE TEMPORARY TABLE notification_changes (id int)")
            host.execute("DELETE FROM site.reactions WHERE id = (SELECT min(id) FROM site.reactions)")
            host.execute("INSERT INTO site.reactions (post_id, user_id, emoji) VALUES (%s, %s, '👍')",
                         (post, actor))
    with connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM decoy.notifications").fetchone() == (0,)
        assert unread_state(conn, owner) == (3, 3)
    assert find_drift(url) == []


@pytest.fixture
def host_role_url(database_url: str, pg_server: PgServer) -> Iterator[str]:
    """A login role that owns nothing and may only use the host's tables, as the live site's."""
    role = f"host_{uuid.uuid4().hex[:8]}"
    with connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")  # name is ours
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON users, posts, blog_posts,"
                     f" reactions, blog_post_reactions, comments, blog_post_comments, user_blocks"
                     f" TO {role}")
        conn.execute(f"GRANT USAGE ON users_id_seq, posts_id_seq, blog_posts_id_seq,"
                     f" reactions_id_seq, blog_post_reactions_id_seq, user_blocks_id_seq TO {role}")
    url = database_url.replace("postgres@", f"{role}@", 1)
    assert role in url
    yield url
    with connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


def test_a_host_role_with_only_its_own_grants(database_url: str, host_role_url: str,
                                             site: dict[str, int]) -> None:
    """The host's role has no privilege on any table of ours: every kind of host write
    still succeeds (the trigger functions run as their owner) and still notifies."""
    with connect(host_role_url, autocommit=True) as host:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            host.execute("SELECT 1 FROM notifications")
        rid = react(host, site["alice_post1"], site["carol"])
        host.execute("UPDATE reactions SET emoji = '🎉' WHERE id = %s", (rid,))
        cid = comment(host, site["alice_post2"], site["dave"], "hello")
        host.execute("UPDATE comments SET deleted_by_owner = true, original_body = body,"
                     " body = '[deleted]' WHERE id = %s", (cid,))
        react(host, site["bob_post1"], site["carol"])
        host.execute("DELETE FROM reactions WHERE id = %s", (rid,))
        host.execute("TRUNCATE blog_post_reactions")
    with connect(database_url, autocommit=True) as conn:
        assert unread_state(conn, site["alice"]) == (0, 0)
        assert unread_state(conn, site["bob"]) == (1, 1)
    assert find_drift(database_url) == []


def test_truncate_of_host_tables_leaves_nothing_behind(database_url: str,
                                                      site: dict[str, int]) -> None:
    """TRUNCATE reactions retracts their notifications; TRUNCATE users ... CASCADE ends
    every stream, and the next users' reactions start clean (no unique violation)."""
    with connect(database_url, autocommit=True) as conn:
        react(conn, site["alice_post1"], site["carol"])
        comment(conn, site["alice_post1"], site["carol"], "stays")
        sequence(conn)
        conn.execute("TRUNCATE reactions")
        assert unread_state(conn, site["alice"]) == (1, 1)
        conn.execute("TRUNCATE users RESTART IDENTITY CASCADE")
        sequence(conn)  # the cascaded tables' own truncate requests find nothing left
        left = conn.execute(
            "SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM notification_events),"
            " (SELECT count(*) FROM notification_counters),"
            " (SELECT count(*) FROM notification_changes),"
            " (SELECT count(*) FROM notification_requests)").fetchone()
        assert left == (0, 0, 0, 0, 0)
        # A host statement that lists our tables among its own still succeeds.
        react(conn, add_post(conn, add_user(conn, "again")), add_user(conn, "actor2"))
        conn.execute("TRUNCATE users, posts, reactions, notifications RESTART IDENTITY CASCADE")
        assert conn.execute("SELECT count(*) FROM notification_changes").fetchone() == (0,)
        owner, actor = add_user(conn, "new_owner"), add_user(conn, "new_actor")
        react(conn, add_post(conn, owner), actor)
        assert unread_state(conn, owner) == (1, 1)
        hello = conn.execute(sql("replay_window"), {"user_ids": [owner]}).fetchone()
        assert hello == (owner, 1, 1, 1)
    assert find_drift(database_url) == []


def run_concurrently(seconds: float, *workers: Callable[[], None]) -> list[BaseException]:
    """Run each worker in a loop on its own thread for `seconds`; every error it raised."""
    errors: list[BaseException] = []
    stop = time.monotonic() + seconds

    def loop(work: Callable[[], None]) -> None:
        while time.monotonic() < stop:
            try:
                work()
            except BaseException as exc:  # collected and asserted on below
                errors.append(exc)
                return

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_takedowns_purges_and_bulk_unreacts_against_reads_retention_and_reactions(
        database_url: str) -> None:
    """Single-statement takedowns (DELETE FROM posts) and purges (DELETE FROM users) and
    bulk un-reacts run for seconds against reactions, mark-all-read, the sequencer and
    retention: no host statement fails, and every counter still matches its rows."""
    with connect(database_url, autocommit=True) as conn:
        owners = [add_user(conn, f"owner{i}") for i in range(4)]
        actors = [add_user(conn, f"actor{i}") for i in range(4)]
    counts = {"takedowns": 0, "purges": 0, "reactions": 0, "unreacts": 0}
    lock = threading.Lock()

    def bump(key: str) -> None:
        with lock:
            counts[key] += 1

    def host(work: Callable[[Conn], str]) -> Callable[[], None]:
        conn = connect(database_url, autocommit=True)

        def step() -> None:
            bump(work(conn))
        return step

    def takedown(conn: Conn) -> str:
        post = add_post(conn, owners[0])
        for actor in actors:
            react(conn, post, actor)
        conn.execute("DELETE FROM posts WHERE owner_id = %s", (owners[0],))
        return "takedowns"

    def purge(conn: Conn) -> str:
        victim = add_user(conn, f"victim{uuid.uuid4().hex[:6]}")
        react(conn, add_post(conn, owners[1]), victim)
        react(conn, add_post(conn, victim), actors[0])
        conn.execute("DELETE FROM users WHERE id = %s", (victim,))
        return "purges"

    def reactions(conn: Conn) -> str:
        with conn.transaction():
            for owner in reversed(owners):
                react(conn, add_post(conn, owner), actors[1])
        return "reactions"

    def bulk_unreact(conn: Conn) -> str:
        with conn.transaction():
            for owner in owners[2:]:
                post = add_post(conn, owner)
                conn.execute("INSERT INTO reactions (post_id, user_id, emoji)"
                             " SELECT %s, a, '🔥' FROM unnest(%s::int[]) a", (post, actors))
        conn.execute("DELETE FROM reactions WHERE user_id = ANY(%s)", (actors[2:],))
        return "unreacts"

    service = connect(database_url, autocommit=True)

    def service_work() -> None:
        for owner in owners:
            with service.transaction():
                service.execute(sql("mark_all_read"), {"user_id": owner, "up_to": None})
        sequence(service)
        with service.cursor() as cur:
            cur.execute("UPDATE notifications SET created_at = created_at - interval '100 days'"
                        " WHERE id IN (SELECT id FROM notifications ORDER BY seq LIMIT 5)")
        run_cleanup(database_url, retention_days=90, event_retention_days=7, batch_size=50)

    errors = run_concurrently(6.0, host(takedown), host(purge), host(reactions),
                              host(bulk_unreact), service_work)
    assert errors == []
    assert min(counts.values()) > 0, counts
    sequence(service)
    service.close()
    assert find_drift(database_url) == []


# A session that ran a one-row statement first: PL/pgSQL keeps the plan it made for
# the one-row transition tables, and a nested loop over two of them is quadratic.
# The same bulk statement on a session that wrote one row first, and on a fresh one.
WARM_UP_AND_BULK = {
    "comment edits": ("UPDATE comments SET body = body || '!' WHERE id = (SELECT id FROM comments LIMIT 1)",
                      "UPDATE comments SET body = body || '?'"),
    "comment soft-deletes": ("UPDATE comments SET deleted_by_owner = true"
                             " WHERE id = (SELECT id FROM comments LIMIT 1)",
                             "UPDATE comments SET deleted_by_owner = NOT deleted_by_owner"),
    "reaction edits": ("UPDATE reactions SET emoji = '👍' WHERE id = (SELECT min(id) FROM reactions)",
                       "UPDATE reactions SET emoji = CASE WHEN emoji = '🔥' THEN '👍' ELSE '🔥' END"),
    "marking read": ("UPDATE notifications SET is_read = true"
                     " WHERE id = (SELECT id FROM notifications LIMIT 1)",
                     "UPDATE notifications SET is_read = NOT is_read"),
}
BULK_ROWS = 20_000


@pytest.mark.parametrize("scenario", list(WARM_UP_AND_BULK))
def test_a_bulk_update_after_a_one_row_update_in_the_same_session_stays_linear(
        database_url: str, conn: Conn, scenario: str) -> None:
    """20,000 rows in one UPDATE take about as long on a session whose previous statement
    touched one row as on a fresh session (before: 10 s against 0.05 s, as the plan made
    for one row, a nested loop joining old and new rows, stayed cached)."""
    owner = add_user(conn, "bulk_owner")
    posts = [add_post(conn, owner, f"bulk {i}") for i in range(100)]
    actors = [add_user(conn, f"bulk_actor{i}") for i in range(BULK_ROWS // len(posts))]
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = 1000000")
    conn.execute("INSERT INTO reactions (post_id, user_id, emoji) SELECT p, a, '🔥'"
                 " FROM unnest(%s::int[]) AS p, unnest(%s::int[]) AS a", (posts, actors))
    conn.execute("INSERT INTO comments (id, post_id, author_id, body)"
                 " SELECT gen_random_uuid(), %s, %s, 'c' || g FROM generate_series(1, %s) AS g",
                 (posts[0], actors[0], BULK_ROWS))
    sequence(conn)
    warm_up, bulk = WARM_UP_AND_BULK[scenario]
    with connect(database_url, autocommit=True) as fresh:
        fresh_seconds = timed(fresh, bulk)
    with connect(database_url, autocommit=True) as fresh:
        fresh.execute(bulk)  # undo the flip, so that both timed runs do the same work
    with connect(database_url, autocommit=True) as warmed:
        warmed.execute(warm_up)
        warmed_seconds = timed(warmed, bulk)
    assert warmed_seconds < 5 * fresh_seconds + 0.5, (scenario, warmed_seconds, fresh_seconds)
    sequence(conn)
    assert find_drift(database_url) == [], scenario
