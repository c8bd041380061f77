"""The demo routes over real HTTP: pages, the demo-only token, and host writes with clear 4xx on bad input."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from devkit.hostdata import react
from devkit.servers import running_service


def _ids(conn: psycopg.Connection[Any]) -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT (SELECT id FROM users WHERE handle = 'alice'), (SELECT id FROM users WHERE handle = 'bob'),"
        " (SELECT id FROM posts WHERE public_sqid = 'p-alice-1')").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_demo_pages_and_token_exist_only_in_demo_mode(database_url: str) -> None:
    """Without --demo there is no demo page and, above all, no token-signing endpoint."""
    with running_service(database_url) as service:
        assert httpx.get(f"{service.base_url}/demo").status_code == 404
        assert httpx.post(f"{service.base_url}/demo/api/token", json={"user_id": 1}).status_code == 404
        assert httpx.post(f"{service.base_url}/demo/api/act", json={}).status_code == 404


def test_demo_pages_and_a_signed_token_that_the_api_accepts(
    database_url: str, conn: psycopg.Connection[Any]
) -> None:
    """The three pages are served, and a demo token for alice reads alice's count."""
    with running_service(database_url, demo=True) as service:
        base = service.base_url
        alice, _, _ = _ids(conn)
        for path in ("/demo", "/demo/profile", "/demo/notifications"):
            page = httpx.get(base + path)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "/web/demo/demo.js" in page.text
        token = httpx.post(f"{base}/demo/api/token", json={"user_id": alice})
        assert token.status_code == 200 and token.json()["user_id"] == alice
        count = httpx.get(f"{base}/api/notifications/unread-count",
                          headers={"Authorization": f"Bearer {token.json()['token']}"})
        assert count.status_code == 200 and count.json()["unread_count"] == 0
        assert httpx.post(f"{base}/demo/api/token", json={"user_id": 999_999}).status_code == 404
        assert httpx.post(f"{base}/demo/api/token", json={"user_id": "alice"}).status_code == 400
        users = httpx.get(f"{base}/demo/api/users").json()["users"]
        assert {"alice", "bob", "carol"} <= {u["handle"] for u in users}


def test_act_writes_host_tables_like_the_host_and_refuses_bad_input(
    database_url: str, conn: psycopg.Connection[Any]
) -> None:
    """React, comment and soft-delete land in the host tables; malformed or foreign requests get 4xx."""
    with running_service(database_url, demo=True) as service:
        act = f"{service.base_url}/demo/api/act"
        alice, bob, post = _ids(conn)
        ok = httpx.post(act, json={"actor_id": bob, "action": "react", "content_type": "post",
                                   "content_id": post, "emoji": "🔥"})
        assert ok.status_code == 200, ok.text
        assert conn.execute("SELECT user_id, emoji FROM reactions WHERE post_id = %s",
                            (post,)).fetchall() == [(bob, "🔥")]
        ok = httpx.post(act, json={"actor_id": bob, "action": "comment", "content_type": "post",
                                   "content_id": post, "body": "hello"})
        assert ok.status_code == 200, ok.text
        comment_row = conn.execute("SELECT id::text FROM comments WHERE author_id = %s", (bob,)).fetchone()
        assert comment_row is not None
        ok = httpx.post(act, json={"actor_id": bob, "action": "delete_comment", "content_type": "post",
                                   "source_id": comment_row[0]})
        assert ok.status_code == 200, ok.text
        assert conn.execute("SELECT body, original_body, deleted_by_owner FROM comments WHERE id = %s",
                            (comment_row[0],)).fetchone() == ("[deleted]", "hello", True)
        activity = httpx.get(f"{service.base_url}/demo/api/activity", params={"actor_id": bob}).json()
        assert [a["kind"] for a in activity["activity"]] == ["reaction"]

        alices_reaction = react(conn, post, alice)
        bad: list[tuple[dict[str, Any], int]] = [
            ({"actor_id": bob, "action": "explode", "content_type": "post", "content_id": post}, 400),
            ({"actor_id": bob, "action": "react", "content_type": "post"}, 400),
            ({"actor_id": bob, "action": "react", "content_type": "post", "content_id": post,
              "emoji": "x" * 21}, 400),
            ({"actor_id": bob, "action": "react", "content_type": "page", "content_id": post,
              "emoji": "🔥"}, 400),
            ({"actor_id": bob, "action": "react", "content_type": "post", "content_id": 999_999,
              "emoji": "🔥"}, 404),
            ({"actor_id": 999_999, "action": "react", "content_type": "post", "content_id": post,
              "emoji": "🔥"}, 404),
            ({"actor_id": bob, "action": "comment", "content_type": "post", "content_id": post,
              "body": " "}, 400),
            ({"actor_id": bob, "action": "unreact", "content_type": "post",
              "source_id": str(alices_reaction)}, 404),
            ({"actor_id": bob, "action": "unreact", "content_type": "post", "source_id": "1; DROP"}, 400),
            ({"actor_id": bob, "action": "delete_comment", "content_type": "post", "source_id": "nope"}, 400),
            ({"actor_id": bob, "action": "react", "content_type": "post", "content_id": post,
              "emoji": "🔥", "extra": 1}, 400),
        ]
        for body, status in bad:
            answer = httpx.post(act, json=body)
            assert answer.status_code == status, (body, answer.status_code, answer.text)
        assert conn.execute("SELECT count(*) FROM reactions WHERE id = %s",
                            (alices_reaction,)).fetchone() == (1,)


def test_the_demo_quick_actions_check_the_user_and_refuse_bad_input(
    database_url: str, conn: psycopg.Connection[Any]
) -> None:
    """React back and Reply need the user's token (401 without), then write as that user;
    a foreign or malformed request gets a clear 4xx; without --demo they do not exist."""
    with running_service(database_url) as service:
        assert httpx.post(f"{service.base_url}/demo/api/reply", json={}).status_code == 404
    with running_service(database_url, demo=True) as service:
        base = service.base_url
        alice, bob, post = _ids(conn)
        token = httpx.post(f"{base}/demo/api/token", json={"user_id": alice}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        fields = {"notification_id": "n", "content_type": "post", "content_id": post, "actor_id": bob}
        assert httpx.post(f"{base}/demo/api/react-back", json={**fields, "emoji": "🔥"}).status_code == 401
        for bad in ({"emoji": ""}, {"emoji": "x" * 21}, {"emoji": "🔥", "actor_id": None},
                    {"emoji": "🔥", "actor_id": alice}, {"emoji": "🔥", "content_type": "story"}):
            response = httpx.post(f"{base}/demo/api/react-back", json={**fields, **bad}, headers=auth)
            assert response.status_code == 400, (bad, response.text)
        done = httpx.post(f"{base}/demo/api/react-back", json={**fields, "emoji": "🔥"}, headers=auth)
        assert done.status_code == 200, done.text
        assert conn.execute("SELECT count(*) FROM reactions WHERE user_id = %s", (alice,)).fetchone() == (1,)

        row = conn.execute("INSERT INTO comments (id, post_id, author_id, body)"
                           " VALUES (gen_random_uuid(), %s, %s, 'hi') RETURNING id", (post, bob)).fetchone()
        assert row is not None
        parent = str(row[0])
        for bad, status in (({"body": "ok", "comment_id": "nope"}, 400),
                            ({"body": " ", "comment_id": parent}, 400),
                            ({"body": "ok", "comment_id": parent, "content_id": post + 1000}, 404)):
            response = httpx.post(f"{base}/demo/api/reply", json={**fields, **bad}, headers=auth)
            assert response.status_code == status, (bad, response.text)
        done = httpx.post(f"{base}/demo/api/reply",
                          json={**fields, "body": "thanks", "comment_id": parent}, headers=auth)
        assert done.status_code == 200, done.text
        assert conn.execute("SELECT author_id, body FROM comments WHERE parent_id = %s", (parent,)
                            ).fetchall() == [(alice, "thanks")]
