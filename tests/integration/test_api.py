"""The HTTP API against a real service process: auth, listing, cursors, marking, deleting.

The list shows a host's write once the service's sequencer has numbered it (a
few milliseconds after the commit): tests wait for that with
`wait_until_sequenced` before they read what they wrote. Writes through the
API answer with a position that includes their own change.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from devkit.hostdata import add_blog_post, add_post, comment, react, react_blog, wait_until_sequenced
from devkit.scrape import scrape
from devkit.servers import ServiceProcess
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, new_user, service, shared_database_url

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(60)
API = "/api/notifications"


def client(svc: ServiceProcess, user_id: int | None = None, token: str | None = None
           ) -> httpx.Client:
    headers = {}
    if token is None and user_id is not None:
        token = make_token(user_id, svc.secret)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=svc.base_url + API, headers=headers, timeout=10)


def bulk_reactions(conn: psycopg.Connection[Any], post_id: int, actor: int, count: int) -> None:
    """`count` reactions in ONE transaction, so every notification has the same created_at."""
    conn.execute(
        "INSERT INTO reactions (post_id, user_id, emoji)"
        " SELECT %s, %s, 'e' || g FROM generate_series(1, %s) g", (post_id, actor, count))


@pytest.mark.parametrize("header", [
    None, "Bearer", "Basic abc", "Bearer not.a.jwt", "Bearer " + "a" * 9000,
])
def test_missing_or_malformed_token_is_401(service: ServiceProcess, header: str | None) -> None:
    """Requests without a usable bearer token get 401 with a message, never 500."""
    headers = {"Authorization": header} if header is not None else {}
    response = httpx.get(service.base_url + API + "/", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_expired_forged_and_claimless_tokens_are_401(service: ServiceProcess) -> None:
    """Expired, wrongly signed, exp-less and non-integer user_id tokens are all refused."""
    import jwt

    cases = {
        "token expired": make_token(1, service.secret, ttl=-10),
        "invalid token signature": make_token(1, "another-secret-another-secret-123"),
        "token has no exp claim": jwt.encode({"user_id": 1}, service.secret, algorithm="HS256"),
        "token has no valid integer user_id claim": make_token("1", service.secret),
    }
    for detail, token in cases.items():
        with client(service, token=token) as c:
            response = c.get("/unread-count")
        assert response.status_code == 401, detail
        assert response.json()["detail"] == detail


def test_list_pages_never_skip_or_repeat_with_tied_timestamps(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """Cursor pages over notifications sharing one created_at cover every row exactly once."""
    owner, actor = new_user(db), new_user(db)
    post = add_post(db, owner)
    bulk_reactions(db, post, actor, 25)
    wait_until_sequenced(db)
    seen: list[str] = []
    with client(service, owner) as c:
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 7}
            if cursor:
                params["cursor"] = cursor
            page = c.get("/", params=params).json()
            seen.extend(n["id"] for n in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == 25 and len(set(seen)) == 25
    created = {r[0] for r in db.execute(
        "SELECT created_at FROM notifications WHERE user_id = %s", (owner,))}
    assert len(created) == 1


def test_list_shape_order_and_unread_only(service: ServiceProcess,
                                          db: psycopg.Connection[Any]) -> None:
    """The list is newest first, carries position and count, and unread_only filters."""
    owner, actor = new_user(db), new_user(db, "actor")
    post = add_post(db, owner, "Sunset")
    react(db, post, actor, "🔥")
    react(db, post, actor, "❤️")
    wait_until_sequenced(db)
    with client(service, owner) as c:
        page = c.get("/").json()
        assert [n["emoji"] for n in page["items"]] == ["❤️", "🔥"]
        assert page["unread_count"] == 2 and page["position"] == 2
        assert page["next_cursor"] is None
        n = page["items"][0]
        assert "actor_ip" not in n and n["content_title"] == "Sunset"
        assert n["actor_handle"].startswith("actor_")
        marked = c.post("/mark-read", json=[page["items"][1]["id"]]).json()
        assert marked == {"marked": 1, "unread_count": 1, "position": 3}  # its own change
        unread = c.get("/", params={"unread_only": "true"}).json()
        assert [x["emoji"] for x in unread["items"]] == ["❤️"]
        assert c.get("/unread-count").json() == {"unread_count": 1, "position": 3}


def test_an_artworks_image_is_its_thumbnail(service: ServiceProcess,
                                            db: psycopg.Connection[Any]) -> None:
    """content_image_url is the artwork's art_url (http(s), or a path on the site); null
    without one (content_url is then the post's page), for another scheme, and for blog
    posts."""
    owner, actor = new_user(db), new_user(db)
    with_art = add_post(db, owner, "With art", art_url="https://art.example/sun.png")
    on_site = add_post(db, owner, "On site", art_url="/media/moon.webp")
    without = add_post(db, owner, "Without art", art_url=None)
    odd = add_post(db, owner, "Odd art", art_url="javascript:alert(1)")
    elsewhere = add_post(db, owner, "Protocol-relative", art_url="//evil.example/x.png")
    blog = add_blog_post(db, owner)
    for post in (with_art, on_site, without, odd, elsewhere):
        react(db, post, actor)
    react_blog(db, blog, actor)
    wait_until_sequenced(db)
    with client(service, owner) as c:
        items = {n["content_title"]: n["content_image_url"] for n in c.get("/").json()["items"]}
    assert items == {"With art": "https://art.example/sun.png", "On site": "/media/moon.webp",
                     "Without art": None, "Odd art": None, "Protocol-relative": None,
                     "Blog": None}


def test_filters_by_kind_and_unread_page_with_their_cursor(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """notification_type and unread_only narrow the list; each filter's cursor pages on
    within it, every matching row exactly once, newest first."""
    owner, actor = new_user(db), new_user(db)
    post = add_post(db, owner)
    for i in range(9):  # reactions and comments interleaved
        react(db, post, actor, f"e{i}")
        comment(db, post, actor, f"comment {i}")
    wait_until_sequenced(db)

    def walk(c: httpx.Client, **filters: Any) -> list[dict[str, Any]]:
        items, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 4, **filters}
            if cursor:
                params["cursor"] = cursor
            page = c.get("/", params=params).json()
            items.extend(page["items"])
            if (cursor := page["next_cursor"]) is None:
                return items

    with client(service, owner) as c:
        comments = walk(c, notification_type="comment")
        assert [n["comment_preview"] for n in comments] == [f"comment {i}" for i in reversed(range(9))]
        reactions = walk(c, notification_type="reaction")
        assert [n["emoji"] for n in reactions] == [f"e{i}" for i in reversed(range(9))]
        c.post("/mark-read", json=[n["id"] for n in comments[::2]])  # 5 of the 9 comments read
        unread_comments = walk(c, notification_type="comment", unread_only="true")
        assert [n["id"] for n in unread_comments] == [n["id"] for n in comments[1::2]]
        assert len(walk(c, unread_only="true")) == 9 + 4
        everything = walk(c)
        assert len(everything) == 18 and len({n["id"] for n in everything}) == 18


@pytest.mark.parametrize("params", [
    {"cursor": "!!!"}, {"cursor": "djE6"}, {"cursor": "djI6NQ"}, {"cursor": "djE6LTE"},
    {"cursor": "x" * 100}, {"limit": 0}, {"limit": 201}, {"limit": "ten"},
    {"unread_only": "maybe"}, {"notification_type": "follow"}, {"notification_type": ""},
])
def test_bad_list_parameters_are_400(service: ServiceProcess, db: psycopg.Connection[Any],
                                     params: dict[str, Any]) -> None:
    """Malformed cursors, out-of-range limits and non-boolean flags get 400."""
    with client(service, new_user(db)) as c:
        response = c.get("/", params=params)
    assert response.status_code == 400, response.text


def test_mark_read_bounds_and_validation(service: ServiceProcess,
                                         db: psycopg.Connection[Any]) -> None:
    """mark-read takes at most 500 UUIDs in a JSON array; anything else is 400."""
    with client(service, new_user(db)) as c:
        ok = c.post("/mark-read", json=[str(uuid.uuid4()) for _ in range(500)])
        assert ok.status_code == 200 and ok.json()["marked"] == 0
        assert c.post("/mark-read", json=[str(uuid.uuid4()) for _ in range(501)]).status_code == 400
        assert c.post("/mark-read", json=["not-a-uuid"]).status_code == 400
        assert c.post("/mark-read", json={"ids": []}).status_code == 400
        assert c.post("/mark-read", content=b"[", headers={
            "content-type": "application/json"}).status_code == 400
        assert c.post("/mark-read", json=[]).json()["marked"] == 0


def test_oversized_body_is_413(service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """A body over the size limit is refused before parsing."""
    with client(service, new_user(db)) as c:
        response = c.post("/mark-read", content=b"[" + b'"x",' * 40000 + b'"x"]',
                          headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_mark_all_read_up_to_leaves_later_notifications_unread(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """mark-all-read with up_to marks only what the client had seen, not what came after."""
    owner, actor = new_user(db), new_user(db)
    post = add_post(db, owner)
    react(db, post, actor, "a")
    react(db, post, actor, "b")
    wait_until_sequenced(db)
    with client(service, owner) as c:
        seen = c.get("/").json()["position"]
        assert seen == 2
        react(db, post, actor, "c")  # arrives after the client looked
        result = c.post("/mark-all-read", json={"up_to": seen}).json()
        assert result["marked"] == 2 and result["unread_count"] == 1
        # The answer's position includes c and the read: both are sequenced before it answers.
        assert result["position"] == 4
        unread = c.get("/", params={"unread_only": True}).json()["items"]
        assert [n["emoji"] for n in unread] == ["c"]
        assert c.post("/mark-all-read", json={"up_to": -1}).status_code == 400
        assert c.post("/mark-all-read", json={"upto": 3}).status_code == 400
        assert c.post("/mark-all-read", json={"up_to": 2**70}).status_code == 400
        everything = c.post("/mark-all-read").json()
        assert everything["marked"] == 1 and everything["unread_count"] == 0


def test_delete_statuses(service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """Delete answers 204 once, then 404; a malformed id gets 400."""
    owner, actor = new_user(db), new_user(db)
    react(db, add_post(db, owner), actor)
    wait_until_sequenced(db)
    with client(service, owner) as c:
        nid = c.get("/").json()["items"][0]["id"]
        assert c.delete(f"/{nid}").status_code == 204
        assert c.delete(f"/{nid}").status_code == 404
        assert c.delete("/not-a-uuid").status_code == 400
        assert c.get("/unread-count").json()["unread_count"] == 0


def test_preferences_roundtrip_and_validation(service: ServiceProcess,
                                              db: psycopg.Connection[Any]) -> None:
    """PUT changes only the given switches; unknown fields and non-booleans get 400."""
    with client(service, new_user(db)) as c:
        switches = {f"{channel}_{kind}": True for channel in ("notify_on", "push_on", "email_on")
                    for kind in ("post_reactions", "post_comments", "blog_reactions", "blog_comments")}
        assert c.get("/preferences").json() == {
            **switches, "aggregate_same_type": True, "digest_schedule": "daily", "time_zone": "UTC",
            "quiet_hours_start": None, "quiet_hours_end": None, "snoozed_until": None}
        changed = c.put("/preferences", json={"notify_on_post_comments": False}).json()
        assert changed["notify_on_post_comments"] is False and changed["notify_on_post_reactions"] is True
        assert c.get("/preferences").json() == changed
        assert c.put("/preferences", json={"colour": "red"}).status_code == 400
        assert c.put("/preferences", json={"notify_on_post_comments": "no"}).status_code == 400
        assert c.put("/preferences", json={"notify_on_post_comments": None}).status_code == 400
        assert c.put("/preferences", json={}).json() == changed
        assert c.put("/preferences", json=[1]).status_code == 400
    with client(service, 10_000_000) as ghost:
        assert ghost.put("/preferences", json={"aggregate_same_type": False}).status_code == 404


def test_channel_preferences_schedule_quiet_hours_and_snooze(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """Per channel switches, the digest schedule, a time zone, quiet hours and a snooze:
    each set alone keeps the others, null clears the nullable ones, bad values get 400
    and change nothing."""
    with client(service, new_user(db)) as c:
        first = c.put("/preferences", json={
            "push_on_post_comments": False, "email_on_blog_reactions": False,
            "digest_schedule": "weekly", "time_zone": "Europe/Paris",
            "quiet_hours_start": "22:30", "quiet_hours_end": "07:00",
            "snoozed_until": "2031-01-01T09:00:00+01:00"})
        assert first.status_code == 200, first.text
        saved = first.json()
        assert (saved["push_on_post_comments"], saved["push_on_post_reactions"],
                saved["email_on_blog_reactions"], saved["notify_on_post_comments"]) == (
            False, True, False, True)
        assert (saved["digest_schedule"], saved["time_zone"], saved["quiet_hours_start"],
                saved["quiet_hours_end"]) == ("weekly", "Europe/Paris", "22:30", "07:00")
        assert saved["snoozed_until"].startswith("2031-01-01T08:00:00")  # stored as an instant
        for bad in ({"digest_schedule": "hourly"}, {"time_zone": "Mars/Olympus"},
                    {"time_zone": "../../etc/passwd"}, {"quiet_hours_start": "25:00",
                                                       "quiet_hours_end": "07:00"},
                    {"quiet_hours_start": "22:00"},
                    {"quiet_hours_start": "08:00", "quiet_hours_end": "08:00"},
                    {"snoozed_until": "2031-01-01T09:00:00"}, {"push_on_post_comments": None},
                    {"quiet_hours_start": None, "quiet_hours_end": "07:00"}):
            refused = c.put("/preferences", json=bad)
            assert refused.status_code == 400, (bad, refused.text)
        assert c.get("/preferences").json() == saved
        cleared = c.put("/preferences", json={"quiet_hours_start": None, "quiet_hours_end": None,
                                              "snoozed_until": None}).json()
        assert (cleared["quiet_hours_start"], cleared["quiet_hours_end"], cleared["snoozed_until"]) == (
            None, None, None)
        assert cleared["time_zone"] == "Europe/Paris" and cleared["push_on_post_comments"] is False


def test_health_metrics_and_schema(service: ServiceProcess) -> None:
    """Liveness, readiness, Prometheus metrics and the OpenAPI schema need no token."""
    base = service.base_url
    assert httpx.get(base + "/health/live").json() == {"status": "ok"}
    assert httpx.get(base + "/health/ready").json() == {
        "status": "ok", "database": True, "listener": True}
    metrics = scrape(base)
    assert "notifications_ws_open_sockets" in metrics
    assert 'notifications_delivery_lag_seconds_bucket{le="+Inf"}' in metrics
    schema = httpx.get(base + "/schema/openapi.json").json()
    assert "/api/notifications/mark-read" in schema["paths"]
