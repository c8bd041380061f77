"""When no notification is written: self-actions, preferences, blocks, the kill switch."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from devkit.hostdata import add_blog_post, add_post, add_user, comment, comment_blog, react, react_blog

Conn = psycopg.Connection[Any]


def count_for(conn: Conn, user_id: int) -> int:
    row = conn.execute("SELECT count(*) FROM notifications WHERE user_id = %s", (user_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_owner_acting_on_own_content_is_silent(conn: Conn) -> None:
    """Reacting to or commenting on your own work notifies nobody."""
    owner = add_user(conn, "owner")
    post, blog = add_post(conn, owner), add_blog_post(conn, owner)
    react(conn, post, owner)
    react_blog(conn, blog, owner)
    comment(conn, post, owner, "mine")
    comment_blog(conn, blog, owner, "mine too")
    assert count_for(conn, owner) == 0


@pytest.mark.parametrize(
    ("preference", "expected_types"),
    [
        ("notify_on_post_reactions",
         {("comment", "post"), ("reaction", "blog_post"), ("comment", "blog_post")}),
        ("notify_on_post_comments",
         {("reaction", "post"), ("reaction", "blog_post"), ("comment", "blog_post")}),
        ("notify_on_blog_reactions", {("reaction", "post"), ("comment", "post"), ("comment", "blog_post")}),
        ("notify_on_blog_comments", {("reaction", "post"), ("comment", "post"), ("reaction", "blog_post")}),
    ],
)
def test_each_preference_turns_off_exactly_its_kind(
    conn: Conn, preference: str, expected_types: set[tuple[str, str]]
) -> None:
    """Turning one of the four preferences off silences that kind only."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post, blog = add_post(conn, owner), add_blog_post(conn, owner)
    conn.execute("INSERT INTO notification_preferences (user_id) VALUES (%s)", (owner,))
    conn.execute(
        psycopg.sql.SQL("UPDATE notification_preferences SET {} = false WHERE user_id = %s").format(
            psycopg.sql.Identifier(preference)),
        (owner,),
    )
    react(conn, post, actor)
    comment(conn, post, actor, "c")
    react_blog(conn, blog, actor)
    comment_blog(conn, blog, actor, "c")
    rows = conn.execute(
        "SELECT notification_type, content_type FROM notifications WHERE user_id = %s", (owner,)
    ).fetchall()
    assert set(rows) == expected_types
    assert len(rows) == 3


@pytest.mark.parametrize("direction", ["owner_blocks_actor", "actor_blocks_owner"])
def test_a_block_in_either_direction_silences(conn: Conn, direction: str) -> None:
    """If either user has blocked the other, nothing is written."""
    owner, actor, other = add_user(conn, "owner"), add_user(conn, "bob"), add_user(conn, "carol")
    blocker, blocked = (owner, actor) if direction == "owner_blocks_actor" else (actor, owner)
    conn.execute("INSERT INTO user_blocks (blocker_id, blocked_id) VALUES (%s, %s)", (blocker, blocked))
    post = add_post(conn, owner)
    react(conn, post, actor)
    comment(conn, post, actor, "hi")
    react(conn, post, other)  # an unrelated user still gets through
    rows = conn.execute("SELECT actor_id FROM notifications WHERE user_id = %s", (owner,)).fetchall()
    assert rows == [(other,)]


def test_kill_switch_stops_new_notifications_without_a_deploy(conn: Conn) -> None:
    """With notification_settings.enabled = false the host's writes succeed and write nothing."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    conn.execute("UPDATE notification_settings SET enabled = false")
    react(conn, post, actor)
    comment(conn, post, actor, "while off")
    assert count_for(conn, owner) == 0
    assert conn.execute("SELECT count(*) FROM reactions").fetchone() == (1,)
    conn.execute("UPDATE notification_settings SET enabled = true")
    react(conn, post, actor)
    assert count_for(conn, owner) == 1


def test_anonymous_actor_is_never_treated_as_the_owner(conn: Conn) -> None:
    """An anonymous reaction (user_id NULL) always notifies the owner."""
    owner = add_user(conn, "owner")
    post = add_post(conn, owner)
    react(conn, post, None, ip="192.0.2.1")
    assert count_for(conn, owner) == 1
