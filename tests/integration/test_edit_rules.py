"""Rules apply to every announcement, not only the first: what an edit may carry over.

An emoji change or a comment edit becomes a `notification_updated` only where
a new notification by that actor would be allowed now (docs/DBA.md, "Edits").
"""

from __future__ import annotations

from typing import Any

import psycopg

from devkit.hostdata import add_post, add_user, comment, react, sequence

Conn = psycopg.Connection[Any]


def preview_and_updates(conn: Conn, owner: int) -> tuple[list[str | None], int]:
    """The owner's comment previews, and how many 'updated' events their stream holds."""
    sequence(conn)
    previews = [r[0] for r in conn.execute(
        "SELECT comment_preview FROM notifications WHERE user_id = %s AND comment_id IS NOT NULL"
        " ORDER BY seq", (owner,))]
    row = conn.execute("SELECT count(*) FROM notification_events WHERE user_id = %s"
                       " AND kind = 'updated'", (owner,)).fetchone()
    return previews, int(row[0]) if row else 0


def test_edits_by_a_blocked_actor_are_not_carried_over(conn: Conn) -> None:
    """After the owner blocks the actor, the actor's edits change and announce nothing;
    after the block is lifted, the next edit does."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "troll")
    post = add_post(conn, owner)
    cid = comment(conn, post, actor, "hello")
    assert preview_and_updates(conn, owner) == (["hello"], 0)
    conn.execute("INSERT INTO user_blocks (blocker_id, blocked_id) VALUES (%s, %s)", (owner, actor))
    conn.execute("UPDATE comments SET body = 'something nasty' WHERE id = %s", (cid,))
    assert preview_and_updates(conn, owner) == (["hello"], 0)
    conn.execute("DELETE FROM user_blocks")
    conn.execute("UPDATE comments SET body = 'sorry' WHERE id = %s", (cid,))
    assert preview_and_updates(conn, owner) == (["sorry"], 1)


def test_edits_after_the_owner_turned_the_kind_off_or_the_kill_switch_are_silent(
        conn: Conn) -> None:
    """An owner who turned comments off, or a kill switch off, hears of no edit."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    cid = comment(conn, post, actor, "v1")
    rid = react(conn, post, actor, "🔥")
    conn.execute("INSERT INTO notification_preferences (user_id, notify_on_post_comments)"
                 " VALUES (%s, false)", (owner,))
    conn.execute("UPDATE comments SET body = 'v2' WHERE id = %s", (cid,))
    assert preview_and_updates(conn, owner) == (["v1"], 0)
    conn.execute("UPDATE reactions SET emoji = '🎉' WHERE id = %s", (rid,))  # reactions still on
    assert preview_and_updates(conn, owner) == (["v1"], 1)
    conn.execute("UPDATE notification_settings SET enabled = false")
    conn.execute("UPDATE reactions SET emoji = '👍' WHERE id = %s", (rid,))
    sequence(conn)
    assert conn.execute("SELECT emoji FROM notifications WHERE reaction_id = %s",
                        (rid,)).fetchone() == ("🎉",)


def test_edits_count_towards_the_hourly_limit(conn: Conn) -> None:
    """With a limit of 3, a comment and two edits are carried over; the third edit is not."""
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = 3")
    owner, actor = add_user(conn, "owner"), add_user(conn, "chatty")
    post = add_post(conn, owner)
    cid = comment(conn, post, actor, "e0")
    for n in range(1, 4):
        conn.execute("UPDATE comments SET body = %s WHERE id = %s", (f"e{n}", cid))
        sequence(conn)
    assert preview_and_updates(conn, owner) == (["e2"], 2)
