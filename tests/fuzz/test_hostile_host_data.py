"""Hostile strings in every host column a trigger copies: the host write succeeds, the data survives.

Each example commits its writes one by one, as the host does, and runs the
sequencer after an edit or a retraction (core v2 applies those after the
commit, so the hostile text also goes through notification_requests and
notification_sequence()); its users are purged afterwards, so the examples
cannot see each other. Examples that only insert run in one transaction that
is rolled back. A write that fails is retried with the triggers switched off
(session_replication_role = replica): if it then succeeds, our trigger was
the one failing, and the test fails.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st
from psycopg.rows import dict_row

from devkit.hostdata import sequence, wait_until_sequenced
from devkit.servers import ServiceProcess
from devkit.tokens import make_token
from tests.fuzz.hostile import hostile_text, storable
from tests.fuzz.profile import fuzz
from tests.integration.service_fixtures import service, shared_database_url

__all__ = ["service", "shared_database_url"]
Conn = psycopg.Connection[Any]
pytestmark = pytest.mark.timeout(180)
FUZZ = fuzz(70, large_data=True)


POST_REACTION = "reaction_id = %s AND post_id IS NOT NULL"
BLOG_REACTION = "reaction_id = %s AND blog_post_id IS NOT NULL"
COMMENT = "comment_id = %s"


class HostRefused(Exception):
    """The host's own write fails even with our triggers switched off: not our concern."""


def host_write(conn: Conn, query: str, params: tuple[Any, ...]) -> Any:
    """Run a host write; tell apart the host's own failure from a failure of our triggers."""
    try:
        with conn.transaction():
            row = conn.execute(query, params).fetchone()
            return None if row is None else row[0]
    except (psycopg.Error, ValueError) as with_triggers:
        try:
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
                conn.execute(query, params)
                raise _Succeeded
        except _Succeeded:
            raise AssertionError(
                f"the host write fails only because of a notifications trigger: {with_triggers!r}"
            ) from with_triggers
        except (psycopg.Error, ValueError) as without:
            raise HostRefused(str(without)) from with_triggers


class _Succeeded(Exception):
    pass


def notification(conn: Conn, where: str, value: Any) -> dict[str, Any]:
    """The one notification whose `where` (our own SQL, never input) matches `value`."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT * FROM notifications WHERE {where}", (value,)).fetchall()  # noqa: S608
    assert len(rows) == 1, rows
    return rows[0]


def stored(conn: Conn, query: str, row_id: Any) -> Any:
    """What the host's table holds (varchar(n) silently drops trailing spaces past n)."""
    row = conn.execute(query, (row_id,)).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def preview(body: str) -> str:
    return body if len(body) <= 100 else body[:100] + "..."


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@contextmanager
def committed(database_url: str) -> Iterator[tuple[Conn, list[int]]]:
    """An autocommit connection (each host write commits) and a list of the users to purge afterwards."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        users: list[int] = []
        try:
            yield conn, users
        finally:
            if users:  # the host's cascades reach reactions and comments, whose triggers retract
                conn.execute("DELETE FROM users WHERE id = ANY(%s)", (users,))
            sequence(conn)


@FUZZ
@given(handle=hostile_text(52, allow_nul=True), avatar=st.none() | hostile_text(500),
       title=hostile_text(130, allow_nul=True), art_url=st.none() | hostile_text(1000),
       post_sqid=st.none() | storable(16), emoji=hostile_text(22, allow_nul=True),
       new_emoji=storable(20))
def test_hostile_post_reaction_fields_are_copied_verbatim(
        shared_database_url: str, handle: str, avatar: str | None, title: str, art_url: str | None,
        post_sqid: str | None, emoji: str, new_emoji: str) -> None:
    """Handles, avatars, titles, art URLs, sqids and emoji of any content land unchanged."""
    with committed(shared_database_url) as (conn, users):
        try:
            owner = host_write(conn, "INSERT INTO users (handle) VALUES (%s) RETURNING id",
                               (unique("o"),))
            users.append(owner)
            actor = host_write(conn, "INSERT INTO users (handle, avatar_url) VALUES (%s, %s)"
                               " RETURNING id", (handle, avatar))
            users.append(actor)
            post = host_write(conn, "INSERT INTO posts (owner_id, title, art_url, public_sqid)"
                              " VALUES (%s, %s, %s, %s) RETURNING id",
                              (owner, title, art_url, post_sqid))
            reaction = host_write(conn, "INSERT INTO reactions (post_id, user_id, emoji)"
                                  " VALUES (%s, %s, %s) RETURNING id", (post, actor, emoji))
        except HostRefused:
            return
        handle, avatar = stored(conn, "SELECT handle, avatar_url FROM users WHERE id = %s", actor)
        title, art_url, post_sqid = stored(
            conn, "SELECT title, art_url, public_sqid FROM posts WHERE id = %s", post)
        emoji = stored(conn, "SELECT emoji FROM reactions WHERE id = %s", reaction)
        row = notification(conn, POST_REACTION, reaction)
        assert row["actor_handle"] == handle
        assert row["actor_avatar_url"] == avatar
        assert row["content_title"] == title
        assert row["content_url"] == (art_url if art_url is not None
                                      else f"/posts/{post_sqid if post_sqid is not None else post}")
        assert row["emoji"] == emoji
        host_write(conn, "UPDATE reactions SET emoji = %s WHERE id = %s RETURNING id",
                   (new_emoji, reaction))
        sequence(conn)  # the sequencer carries the edit over
        assert notification(conn, POST_REACTION, reaction)["emoji"] == new_emoji
        host_write(conn, "DELETE FROM reactions WHERE id = %s RETURNING id", (reaction,))
        sequence(conn)  # ... and applies the retraction
        assert conn.execute("SELECT count(*) FROM notifications WHERE reaction_id = %s"
                            " AND post_id IS NOT NULL", (reaction,)).fetchone() == (0,)


@FUZZ
@given(title=hostile_text(202, allow_nul=True), blog_sqid=st.none() | storable(16),
       ip=hostile_text(46, allow_nul=True), emoji=storable(20),
       body=hostile_text(300, allow_nul=True), edited=storable(300))
def test_hostile_blog_and_anonymous_fields_are_copied_verbatim(
        shared_database_url: str, title: str, blog_sqid: str | None, ip: str, emoji: str,
        body: str, edited: str) -> None:
    """Blog titles and sqids, anonymous IPs, emoji and comment bodies land unchanged or as a preview."""
    with committed(shared_database_url) as (conn, users):
        try:
            owner = host_write(conn, "INSERT INTO users (handle) VALUES (%s) RETURNING id",
                               (unique("b"),))
            users.append(owner)
            blog = host_write(conn, "INSERT INTO blog_posts (owner_id, title, body, public_sqid)"
                              " VALUES (%s, %s, 'b', %s) RETURNING id", (owner, title, blog_sqid))
            reaction = host_write(conn, "INSERT INTO blog_post_reactions (blog_post_id, user_ip,"
                                  " emoji) VALUES (%s, %s, %s) RETURNING id", (blog, ip, emoji))
            comment_id = host_write(conn, "INSERT INTO blog_post_comments (id, blog_post_id,"
                                    " author_ip, body) VALUES (%s, %s, %s, %s) RETURNING id",
                                    (uuid.uuid4(), blog, ip, body))
        except HostRefused:
            return
        title, blog_sqid = stored(conn, "SELECT title, public_sqid FROM blog_posts WHERE id = %s", blog)
        ip = stored(conn, "SELECT user_ip FROM blog_post_reactions WHERE id = %s", reaction)
        url = f"/blog/{blog_sqid if blog_sqid is not None else blog}"
        liked = notification(conn, BLOG_REACTION, reaction)
        assert (liked["content_title"], liked["content_url"]) == (title, url)
        assert (liked["actor_id"], liked["actor_handle"], liked["actor_ip"]) == (None, "Anonymous", ip)
        assert liked["emoji"] == emoji
        said = notification(conn, COMMENT, comment_id)
        assert said["comment_preview"] == preview(body)
        assert said["actor_ip"] == stored(
            conn, "SELECT author_ip FROM blog_post_comments WHERE id = %s", comment_id)
        host_write(conn, "UPDATE blog_post_comments SET body = %s WHERE id = %s RETURNING id",
                   (edited, comment_id))
        sequence(conn)  # the sequencer carries the edit over
        assert notification(conn, COMMENT, comment_id)["comment_preview"] == preview(edited)


@FUZZ
@given(body=hostile_text(400, allow_nul=True), ip=st.none() | storable(45),
       tombstone=storable(20))
def test_hostile_comment_bodies_survive_moderation(shared_database_url: str, body: str,
                                                   ip: str | None, tombstone: str) -> None:
    """A hostile comment is previewed exactly; soft delete retracts it; undelete restores it."""
    with committed(shared_database_url) as (conn, users):
        try:
            owner = host_write(conn, "INSERT INTO users (handle) VALUES (%s) RETURNING id",
                               (unique("c"),))
            users.append(owner)
            author = None if ip is not None else host_write(
                conn, "INSERT INTO users (handle) VALUES (%s) RETURNING id", (unique("a"),))
            if author is not None:
                users.append(author)
            post = host_write(conn, "INSERT INTO posts (owner_id, title) VALUES (%s, 't')"
                              " RETURNING id", (owner,))
            comment_id = host_write(conn, "INSERT INTO comments (id, post_id, author_id, author_ip,"
                                    " body) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                                    (uuid.uuid4(), post, author, ip, body))
        except HostRefused:
            return
        assert notification(conn, COMMENT, comment_id)["comment_preview"] == preview(body)
        host_write(conn, "UPDATE comments SET deleted_by_owner = true, original_body = body,"
                   " body = %s WHERE id = %s RETURNING id", (tombstone, comment_id))
        sequence(conn)  # the sequencer applies the retraction
        assert conn.execute("SELECT count(*) FROM notifications WHERE comment_id = %s",
                            (comment_id,)).fetchone() == (0,)
        host_write(conn, "UPDATE comments SET deleted_by_owner = false, body = original_body,"
                   " original_body = NULL WHERE id = %s RETURNING id", (comment_id,))
        sequence(conn)
        assert notification(conn, COMMENT, comment_id)["comment_preview"] == preview(body)


def test_ten_megabyte_comment_gets_a_short_preview(shared_database_url: str) -> None:
    """A 10 MB comment body is stored by the host and previewed as 100 characters plus '...'."""
    body = ("<b>💥'; --\x07" * 1_100_000)[:10_000_000]
    with psycopg.connect(shared_database_url) as conn, conn.transaction(force_rollback=True):
        owner = host_write(conn, "INSERT INTO users (handle) VALUES (%s) RETURNING id", (unique("m"),))
        post = host_write(conn, "INSERT INTO posts (owner_id, title) VALUES (%s, 't') RETURNING id",
                          (owner,))
        comment_id = host_write(conn, "INSERT INTO comments (id, post_id, author_ip, body)"
                                " VALUES (%s, %s, '192.0.2.1', %s) RETURNING id",
                                (uuid.uuid4(), post, body))
        assert notification(conn, COMMENT, comment_id)["comment_preview"] == body[:100] + "..."


def test_nul_is_refused_by_postgresql_itself_never_by_a_trigger(shared_database_url: str) -> None:
    """Text with NUL fails the host's write the same way with or without our triggers."""
    with psycopg.connect(shared_database_url) as conn, conn.transaction(force_rollback=True):
        for query, params in [
            ("INSERT INTO users (handle) VALUES (%s) RETURNING id", ("nul\x00handle",)),
            ("INSERT INTO users (handle) VALUES ('x' || chr(0)) RETURNING id", ()),
        ]:
            with pytest.raises(HostRefused):
                host_write(conn, query, params)


def test_the_oracle_blames_a_failing_trigger(shared_database_url: str) -> None:
    """If a trigger function raised on hostile text, these tests would report it (not call it the host's)."""
    with psycopg.connect(shared_database_url) as conn, conn.transaction(force_rollback=True):
        conn.execute("CREATE OR REPLACE FUNCTION notification_comment_preview(p_body text)"
                     " RETURNS text LANGUAGE plpgsql AS $$ BEGIN"
                     " IF p_body LIKE '%<%' THEN RAISE EXCEPTION 'broken trigger'; END IF;"
                     " RETURN p_body; END $$")
        owner = host_write(conn, "INSERT INTO users (handle) VALUES (%s) RETURNING id", (unique("x"),))
        post = host_write(conn, "INSERT INTO posts (owner_id, title) VALUES (%s, 't') RETURNING id",
                          (owner,))
        with pytest.raises(AssertionError, match="because of a notifications trigger"):
            host_write(conn, "INSERT INTO comments (id, post_id, author_ip, body)"
                       " VALUES (%s, %s, '192.0.2.1', '<b>') RETURNING id", (uuid.uuid4(), post))


@fuzz(30, large_data=True)
@given(handle=storable(40), avatar=st.none() | storable(500), title=storable(128),
       art_url=st.none() | storable(1000), emoji=storable(20), body=storable(300))
async def test_hostile_data_reaches_rest_and_socket_verbatim(
        service: ServiceProcess, handle: str, avatar: str | None, title: str, art_url: str | None,
        emoji: str, body: str) -> None:
    """What the triggers stored comes out of the REST list and the socket unchanged, byte for byte."""
    with psycopg.connect(service.database_url, autocommit=True) as conn:
        owner = host_write(conn, "INSERT INTO users (handle) VALUES (%s) RETURNING id", (unique("r"),))
        actor = host_write(conn, "INSERT INTO users (handle, avatar_url) VALUES (%s, %s) RETURNING id",
                           (handle.rstrip(" ") + unique("#"), avatar))
        post = host_write(conn, "INSERT INTO posts (owner_id, title, art_url) VALUES (%s, %s, %s)"
                          " RETURNING id", (owner, title, art_url))
        host_write(conn, "INSERT INTO reactions (post_id, user_id, emoji) VALUES (%s, %s, %s)"
                   " RETURNING id", (post, actor, emoji))
        host_write(conn, "INSERT INTO comments (id, post_id, author_id, body) VALUES (%s, %s, %s, %s)"
                   " RETURNING id", (uuid.uuid4(), post, actor, body))
        wait_until_sequenced(conn)  # the list shows what the service's sequencer has numbered
        with conn.cursor(row_factory=dict_row) as cur:
            stored = cur.execute("SELECT id::text, actor_handle, actor_avatar_url, content_title,"
                                 " content_url, emoji, comment_preview FROM notifications"
                                 " WHERE user_id = %s ORDER BY seq DESC", (owner,)).fetchall()
    token = make_token(owner, service.secret)
    async with httpx.AsyncClient(timeout=10) as http:
        listed = (await http.get(service.base_url + "/api/notifications/",
                                 headers={"Authorization": f"Bearer {token}"})).json()["items"]
    async with websockets.connect(f"{service.ws_url}?token={token}&since=0") as ws:
        await ws.recv()  # hello
        pushed = [json.loads(await ws.recv())["notification"] for _ in range(2)]
    assert [{k: n[k] for k in stored[0]} for n in listed] == stored
    assert list(reversed(pushed)) == listed
