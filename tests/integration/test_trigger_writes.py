"""New notifications: what the host-table triggers write, in plain SQL."""

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
)

Conn = psycopg.Connection[Any]
NOTIFICATIONS_OF_USER = (
    "SELECT notification_type, content_type, content_id, actor_id, actor_ip, actor_handle, emoji,"
    " comment_id, comment_preview, content_title, content_url, is_read, reaction_id"
    " FROM notifications WHERE user_id = %s ORDER BY seq"
)


def notifications_of(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(NOTIFICATIONS_OF_USER, (user_id,)).fetchall()


def test_reaction_on_artwork_notifies_owner_with_copied_fields(conn: Conn) -> None:
    """A plain-SQL reaction INSERT writes one notification carrying handle, emoji, title and art_url."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner, title="Sunset", art_url="https://art.example/sunset.png")
    reaction = react(conn, post, actor, "🔥")
    [n] = notifications_of(conn, owner)
    assert n == {
        "notification_type": "reaction", "content_type": "post", "content_id": post,
        "actor_id": actor, "actor_ip": None, "actor_handle": "bob", "emoji": "🔥",
        "comment_id": None, "comment_preview": None, "content_title": "Sunset",
        "content_url": "https://art.example/sunset.png", "is_read": False,
        "reaction_id": reaction,
    }
    assert notifications_of(conn, actor) == []


def test_anonymous_reaction_keeps_ip_and_is_called_anonymous(conn: Conn) -> None:
    """With no user, the handle is 'Anonymous' and the reactor's IP is kept."""
    owner = add_user(conn, "owner")
    post = add_post(conn, owner)
    react(conn, post, None, "❤️", ip="203.0.113.9")
    [n] = notifications_of(conn, owner)
    assert (n["actor_id"], n["actor_handle"], n["actor_ip"]) == (None, "Anonymous", "203.0.113.9")


def test_signed_in_actor_ip_is_not_kept(conn: Conn) -> None:
    """A signed-in actor's IP, if the host records one, is not copied."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    react(conn, post, actor, ip="198.51.100.1")
    [n] = notifications_of(conn, owner)
    assert n["actor_ip"] is None


def test_blog_post_reaction_url_uses_public_sqid_or_id(conn: Conn) -> None:
    """A blog post's URL is /blog/{public_sqid}, or /blog/{id} when it has none."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    with_sqid = add_blog_post(conn, owner, title="Essay", sqid="aB3x")
    without = add_blog_post(conn, owner, title="Notes")
    react_blog(conn, with_sqid, actor)
    react_blog(conn, without, actor)
    rows = notifications_of(conn, owner)
    assert [(r["content_type"], r["content_url"], r["content_title"]) for r in rows] == [
        ("blog_post", "/blog/aB3x", "Essay"),
        ("blog_post", f"/blog/{without}", "Notes"),
    ]


def test_artwork_without_art_url_links_to_its_post(conn: Conn) -> None:
    """An artwork with no art_url falls back to /posts/{public_sqid or id}."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner, art_url=None)
    react(conn, post, actor)
    assert notifications_of(conn, owner)[0]["content_url"] == f"/posts/{post}"


def test_comment_preview_is_first_100_characters_plus_ellipsis(conn: Conn) -> None:
    """Comments longer than 100 characters are cut to 100 plus '...'; shorter ones are kept whole."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    exactly_100 = "é" * 100
    longer = "x" * 99 + "🎨" + "tail"
    comment(conn, post, actor, exactly_100)
    comment(conn, post, actor, longer)
    comment(conn, post, actor, "short")
    previews = [r["comment_preview"] for r in notifications_of(conn, owner)]
    assert previews == [exactly_100, "x" * 99 + "🎨" + "...", "short"]


def test_comments_on_both_kinds_of_content_notify(conn: Conn) -> None:
    """Comments on artwork and on blog posts each write a comment notification with its id."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post, blog = add_post(conn, owner), add_blog_post(conn, owner)
    c1 = comment(conn, post, actor, "nice")
    c2 = comment_blog(conn, blog, None, "anon says hi", ip="192.0.2.7")
    rows = notifications_of(conn, owner)
    assert [(r["notification_type"], r["content_type"], r["comment_id"], r["actor_handle"],
             r["actor_ip"]) for r in rows] == [
        ("comment", "post", c1, "bob", None),
        ("comment", "blog_post", c2, "Anonymous", "192.0.2.7"),
    ]


def test_several_emoji_by_one_user_are_separate_notifications(conn: Conn) -> None:
    """A user may hold several emoji on one post; each reaction is its own notification."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    react(conn, post, actor, "🔥")
    react(conn, post, actor, "❤️")
    assert [r["emoji"] for r in notifications_of(conn, owner)] == ["🔥", "❤️"]


def test_hostile_strings_are_copied_verbatim_and_never_fail_the_host(conn: Conn) -> None:
    """SQL fragments, HTML and control characters in host columns are stored as plain data."""
    owner = add_user(conn, "owner")
    actor = add_user(conn, "<script>alert(1)</script>'; DROP TABLE users;--")
    post = add_post(conn, owner, title="<img src=x onerror=alert(1)>\x01\t")
    comment(conn, post, actor, "'); DELETE FROM notifications; --\r\n<b>x</b>" + "z" * 10_000)
    [n] = notifications_of(conn, owner)
    assert n["actor_handle"] == "<script>alert(1)</script>'; DROP TABLE users;--"
    assert n["content_title"] == "<img src=x onerror=alert(1)>\x01\t"
    assert n["comment_preview"].startswith("'); DELETE FROM notifications; --")
    assert len(n["comment_preview"]) == 103
    assert conn.execute("SELECT count(*) FROM users").fetchone() == (2,)
