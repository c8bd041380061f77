"""Retraction and scrubbing: un-react, comment moderation, edits and hard deletes.

Core v2: host triggers only ask (notification_requests); the sequencer applies
retractions and edits after the host's commit, so each test runs
`sequence(conn)`, as the service does every few milliseconds, before it looks.
"""

from __future__ import annotations

from typing import Any

import psycopg

from devkit.hostdata import (
    add_blog_post,
    add_post,
    add_user,
    comment,
    comment_blog,
    react,
    react_blog,
    sequence,
    unread_state,
)
from pg_social_notifications.retention import run_cleanup

Conn = psycopg.Connection[Any]


def previews(conn: Conn, user_id: int) -> list[str | None]:
    return [r[0] for r in conn.execute(
        "SELECT comment_preview FROM notifications WHERE user_id = %s ORDER BY seq", (user_id,))]


def all_text_in_notifications(conn: Conn) -> str:
    row = conn.execute("SELECT string_agg(n::text, ' ') FROM notifications AS n").fetchone()
    return str(row[0]) if row and row[0] else ""


def test_unreact_retracts_only_that_reaction(conn: Conn) -> None:
    """DELETE of a reaction removes its notification and leaves the others."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post, blog = add_post(conn, owner), add_blog_post(conn, owner)
    fire = react(conn, post, actor, "🔥")
    react(conn, post, actor, "❤️")
    blog_reaction = react_blog(conn, blog, actor, "👍")
    assert fire == blog_reaction == 1  # same id in both tables: must not be confused
    conn.execute("DELETE FROM reactions WHERE id = %s", (fire,))
    sequence(conn)
    rows = conn.execute("SELECT emoji FROM notifications WHERE user_id = %s ORDER BY seq",
                        (owner,)).fetchall()
    assert rows == [("❤️",), ("👍",)]
    conn.execute("DELETE FROM blog_post_reactions WHERE id = %s", (blog_reaction,))
    sequence(conn)
    rows = conn.execute("SELECT emoji FROM notifications WHERE user_id = %s", (owner,)).fetchall()
    assert rows == [("❤️",)]
    assert unread_state(conn, owner) == (1, 1)


def test_reaction_emoji_change_follows(conn: Conn) -> None:
    """An UPDATE of a reaction's emoji updates the notification."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    reaction = react(conn, add_post(conn, owner), actor, "🔥")
    conn.execute("UPDATE reactions SET emoji = '🎉' WHERE id = %s", (reaction,))
    sequence(conn)
    assert conn.execute("SELECT emoji FROM notifications").fetchall() == [("🎉",)]
    assert unread_state(conn, owner) == (1, 1)  # an edit leaves it unread


def soft_delete(conn: Conn, table: str, comment_id: object, flag: str) -> None:
    query = {
        ("comments", "deleted_by_owner"): "UPDATE comments SET deleted_by_owner = true,"
        " original_body = body, body = '[deleted]' WHERE id = %s",
        ("comments", "deleted_by_mod"): "UPDATE comments SET deleted_by_mod = true,"
        " original_body = body, body = '[removed]' WHERE id = %s",
        ("comments", "hidden_by_mod"): "UPDATE comments SET hidden_by_mod = true WHERE id = %s",
        ("blog_post_comments", "deleted_by_owner"): "UPDATE blog_post_comments SET"
        " deleted_by_owner = true, original_body = body, body = '[deleted]' WHERE id = %s",
    }[(table, flag)]
    conn.execute(query, (comment_id,))


def test_soft_deleted_or_hidden_comment_is_retracted_and_its_text_is_gone(conn: Conn) -> None:
    """Owner delete, moderator delete and moderator hide each retract the notification."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post, blog = add_post(conn, owner), add_blog_post(conn, owner)
    cases = [("comments", "deleted_by_owner"), ("comments", "deleted_by_mod"),
             ("comments", "hidden_by_mod"), ("blog_post_comments", "deleted_by_owner")]
    for table, flag in cases:
        secret = f"secret text {table} {flag}"
        if table == "comments":
            cid = comment(conn, post, actor, secret)
        else:
            cid = comment_blog(conn, blog, actor, secret)
        assert secret in all_text_in_notifications(conn)
        soft_delete(conn, table, cid, flag)
        sequence(conn)
        assert secret not in all_text_in_notifications(conn)
    assert previews(conn, owner) == []
    assert unread_state(conn, owner) == (0, 0)


def test_undelete_restores_the_notification(conn: Conn) -> None:
    """Reversing a soft delete writes the notification again, as unread, with the restored text."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    cid = comment(conn, post, actor, "hello there")
    conn.execute("UPDATE notifications SET is_read = true")
    soft_delete(conn, "comments", cid, "deleted_by_owner")
    sequence(conn)
    assert previews(conn, owner) == []
    conn.execute("UPDATE comments SET deleted_by_owner = false, body = original_body,"
                 " original_body = NULL WHERE id = %s", (cid,))
    sequence(conn)
    assert previews(conn, owner) == ["hello there"]
    assert unread_state(conn, owner) == (1, 1)
    # Hidden and shown again before the sequencer runs: the retraction takes only the
    # notification that existed when it was asked, never the one the undelete wrote.
    conn.execute("UPDATE comments SET hidden_by_mod = true WHERE id = %s", (cid,))
    conn.execute("UPDATE comments SET hidden_by_mod = false WHERE id = %s", (cid,))
    sequence(conn)
    assert previews(conn, owner) == ["hello there"]
    assert unread_state(conn, owner) == (1, 1)


def test_restore_respects_the_rules_at_that_time(conn: Conn) -> None:
    """An undeleted comment does not come back once the owner has blocked its author."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    cid = comment(conn, add_post(conn, owner), actor, "hi")
    soft_delete(conn, "comments", cid, "hidden_by_mod")
    sequence(conn)
    assert previews(conn, owner) == []
    conn.execute("INSERT INTO user_blocks (blocker_id, blocked_id) VALUES (%s, %s)", (owner, actor))
    conn.execute("UPDATE comments SET hidden_by_mod = false WHERE id = %s", (cid,))
    sequence(conn)
    assert previews(conn, owner) == []
    assert unread_state(conn, owner) == (0, 0)


def test_edit_updates_the_preview(conn: Conn) -> None:
    """An edited comment's new body replaces the preview."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    cid = comment_blog(conn, add_blog_post(conn, owner), actor, "first words")
    conn.execute("UPDATE blog_post_comments SET body = %s, updated_at = now() WHERE id = %s",
                 ("edited " + "y" * 200, cid))
    sequence(conn)
    assert previews(conn, owner) == ["edited " + "y" * 93 + "..."]
    assert "first words" not in all_text_in_notifications(conn)


def test_hard_deleted_comment_is_retracted(conn: Conn) -> None:
    """A comment row removed with DELETE takes its notification with it."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    cid = comment(conn, add_post(conn, owner), actor, "bye")
    conn.execute("DELETE FROM comments WHERE id = %s", (cid,))
    sequence(conn)
    assert previews(conn, owner) == []
    assert "bye" not in all_text_in_notifications(conn)
    assert unread_state(conn, owner) == (0, 0)


def test_hard_deleting_posts_blog_posts_and_users_cascades(conn: Conn) -> None:
    """Deleting a post, a blog post, the recipient or the actor removes their notifications.

    Core v2 keeps no foreign key into the host's tables: the host's own cascades
    reach reactions and comments, whose delete triggers ask for retractions; the
    purged recipient's counter and replay log are swept by retention.
    """
    owner, actor, other = add_user(conn, "owner"), add_user(conn, "bob"), add_user(conn, "carol")
    post, blog, post2 = add_post(conn, owner), add_blog_post(conn, owner), add_post(conn, owner)
    react(conn, post, actor)
    comment(conn, post, other, "x")
    react_blog(conn, blog, actor)
    react(conn, post2, actor)
    react(conn, post2, other)
    conn.execute("DELETE FROM posts WHERE id = %s", (post,))
    sequence(conn)
    assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (3,)
    assert "x" not in previews(conn, owner)
    conn.execute("DELETE FROM blog_posts WHERE id = %s", (blog,))
    sequence(conn)
    assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (2,)
    conn.execute("DELETE FROM users WHERE id = %s", (actor,))  # the actor's account is purged
    sequence(conn)
    assert conn.execute("SELECT actor_id FROM notifications").fetchall() == [(other,)]
    assert unread_state(conn, owner) == (1, 1)
    conn.execute("DELETE FROM users WHERE id = %s", (owner,))  # the recipient is purged
    sequence(conn)
    assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (0,)
    assert unread_state(conn, owner) == (0, 0)
    run_cleanup(conn.info.dsn, retention_days=90, event_retention_days=7)
    assert conn.execute("SELECT count(*) FROM notification_counters").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM notification_events").fetchone() == (0,)
