"""The WebSocket protocol against a real service: auth, replay, live changes, housekeeping.

The service's sequencer gives host writes their stream positions a few
milliseconds after the commit: a test that expects a replay (or a position in
`hello`) waits for it with `wait_until_sequenced` before connecting.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import psycopg
import pytest

from devkit.hostdata import add_post, comment, react, wait_until_sequenced
from devkit.servers import ServiceProcess
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, new_user, service, shared_database_url
from tests.integration.ws_client import close_code, connect, no_message, recv_json

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(60)


def owner_with_post(db: psycopg.Connection[Any]) -> tuple[int, int, int]:
    owner, actor = new_user(db), new_user(db, "actor")
    return owner, actor, add_post(db, owner)


async def test_auth_by_first_message(service: ServiceProcess,
                                     db: psycopg.Connection[Any]) -> None:
    """A client that sends {"type": "auth", "since": 0} first gets hello, the replay, then live."""
    owner, actor, post = owner_with_post(db)
    react(db, post, actor, "before")
    wait_until_sequenced(db)
    async with connect(service.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": make_token(owner, service.secret),
                                  "since": 0}))
        assert (await recv_json(ws))["type"] == "hello"
        replayed = await recv_json(ws)
        assert (replayed["position"], replayed["notification"]["emoji"]) == (1, "before")
        react(db, post, actor, "after")
        live = await recv_json(ws)
        assert (live["position"], live["notification"]["emoji"]) == (2, "after")


async def test_auth_by_subprotocol(service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """A bearer.<jwt> subprotocol authenticates and the server answers notifications.v1."""
    owner, _, _ = owner_with_post(db)
    token = make_token(owner, service.secret)
    async with connect(service.ws_url,
                       subprotocols=["notifications.v1", f"bearer.{token}"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "notifications.v1"
        assert (await recv_json(ws))["user_id"] == owner


@pytest.mark.parametrize("how", ["query", "message", "subprotocol"])
async def test_bad_tokens_close_4401(service: ServiceProcess, how: str) -> None:
    """Forged, expired and malformed tokens close the socket with 4401, however sent."""
    for token in (make_token(1, "wrong-secret-wrong-secret-wrong-1"),
                  make_token(1, service.secret, ttl=-5), "garbage"):
        if how == "query":
            ws_cm = connect(f"{service.ws_url}?token={token}")
        elif how == "subprotocol":
            ws_cm = connect(service.ws_url, subprotocols=[  # type: ignore[list-item]
                "notifications.v1", f"bearer.{token}"])
        else:
            ws_cm = connect(service.ws_url)
        async with ws_cm as ws:
            if how == "message":
                await ws.send(json.dumps({"type": "auth", "token": token}))
            assert await close_code(ws) == 4401


async def test_first_message_must_be_auth(service: ServiceProcess) -> None:
    """A first message that is not auth closes with 4401; one that is not JSON with 4400."""
    async with connect(service.ws_url) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await close_code(ws) == 4401
    async with connect(service.ws_url) as ws:
        await ws.send("{not json")
        assert await close_code(ws) == 4400
    async with connect(f"{service.ws_url}?token=x&since=-3") as ws:
        assert await close_code(ws) == 4400


async def test_ping_pong_and_bad_messages(service: ServiceProcess,
                                          db: psycopg.Connection[Any]) -> None:
    """Text ping gets text pong, JSON ping gets JSON pong, junk gets an error and the socket stays."""
    owner, _, _ = owner_with_post(db)
    async with connect(f"{service.ws_url}?token={make_token(owner, service.secret)}") as ws:
        await recv_json(ws)
        await ws.send("ping")
        assert await asyncio.wait_for(ws.recv(), 5) == "pong"
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}
        await ws.send("[1, 2]")
        assert (await recv_json(ws))["type"] == "error"
        await ws.send(json.dumps({"type": "auth", "token": "x"}))
        assert (await recv_json(ws))["code"] == "already_authenticated"
        await ws.send("ping")
        assert await asyncio.wait_for(ws.recv(), 5) == "pong"


async def test_oversized_client_message_closes_4400(service: ServiceProcess,
                                                    db: psycopg.Connection[Any]) -> None:
    """A client message over the size limit closes the socket with 4400."""
    owner, _, _ = owner_with_post(db)
    async with connect(f"{service.ws_url}?token={make_token(owner, service.secret)}") as ws:
        await recv_json(ws)
        await ws.send("x" * 5000)
        assert await close_code(ws) == 4400


async def test_replay_since_then_live_without_gap_or_duplicate(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """With since, the changes after it are replayed in order, then live ones follow, once each."""
    owner, actor, post = owner_with_post(db)
    reaction = react(db, post, actor, "a")
    react(db, post, actor, "b")
    db.execute("DELETE FROM reactions WHERE id = %s", (reaction,))
    # The sequencer applies the retraction after the commit: wait, so that it is 3, before c.
    wait_until_sequenced(db)
    react(db, post, actor, "c")  # position 4
    wait_until_sequenced(db)
    token = make_token(owner, service.secret)
    async with connect(f"{service.ws_url}?token={token}&since=1") as ws:
        hello = await recv_json(ws)
        assert hello["position"] == 4 and hello["unread_count"] == 2
        replayed = [await recv_json(ws) for _ in range(3)]
        assert [(m["type"], m["position"]) for m in replayed] == [
            ("notification", 2), ("notification_deleted", 3), ("notification", 4)]
        assert replayed[0]["notification"]["emoji"] == "b"
        react(db, post, actor, "d")
        live = await recv_json(ws)
        assert (live["type"], live["position"], live["unread_count"]) == ("notification", 5, 3)
        assert await no_message(ws)


async def test_since_zero_replays_a_created_then_retracted_notification_as_deletion_only(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """A notification retracted before it was sent is skipped; its deletion still comes."""
    owner, actor, post = owner_with_post(db)
    reaction = react(db, post, actor, "a")
    db.execute("DELETE FROM reactions WHERE id = %s", (reaction,))
    wait_until_sequenced(db)  # the retraction is applied, and numbered, by the sequencer
    async with connect(f"{service.ws_url}?token={make_token(owner, service.secret)}&since=0") as ws:
        assert (await recv_json(ws))["position"] == 2
        deleted = await recv_json(ws)
        assert (deleted["type"], deleted["position"], deleted["unread_count"]) == (
            "notification_deleted", 2, 0)


async def test_resync_when_since_is_ahead_or_too_old(service: ServiceProcess,
                                                     db: psycopg.Connection[Any]) -> None:
    """since ahead of the stream, or older than the oldest kept change, gets resync."""
    owner, actor, post = owner_with_post(db)
    for emoji in "abc":
        react(db, post, actor, emoji)
    wait_until_sequenced(db)
    token = make_token(owner, service.secret)
    async with connect(f"{service.ws_url}?token={token}&since=99") as ws:
        await recv_json(ws)
        assert await recv_json(ws) == {"type": "resync", "position": 3, "unread_count": 3}
    db.execute("DELETE FROM notification_events WHERE user_id = %s AND seq <= 2", (owner,))
    async with connect(f"{service.ws_url}?token={token}&since=1") as ws:
        await recv_json(ws)
        assert (await recv_json(ws))["type"] == "resync"
        assert await no_message(ws)
    async with connect(f"{service.ws_url}?token={token}&since=2") as ws:
        await recv_json(ws)
        assert (await recv_json(ws))["position"] == 3


async def test_read_in_one_tab_updates_the_others(service: ServiceProcess,
                                                  db: psycopg.Connection[Any]) -> None:
    """Marking read over REST sends `read` with the new count to every socket of the user."""
    owner, actor, post = owner_with_post(db)
    react(db, post, actor)
    wait_until_sequenced(db)
    token = make_token(owner, service.secret)
    async with connect(f"{service.ws_url}?token={token}") as tab1, \
            connect(f"{service.ws_url}?token={token}") as tab2:
        assert (await recv_json(tab1))["position"] == (await recv_json(tab2))["position"] == 1
        result = httpx.post(service.base_url + "/api/notifications/mark-all-read",
                            headers={"Authorization": f"Bearer {token}"}).json()
        for tab in (tab1, tab2):
            message = await recv_json(tab)
            assert (message["type"], message["unread_count"]) == ("read", 0)
            assert message["position"] == result["position"] == 2


async def test_other_users_changes_never_reach_a_socket(service: ServiceProcess,
                                                        db: psycopg.Connection[Any]) -> None:
    """A socket receives only its own user's changes (the socket half of the IDOR matrix)."""
    a, actor, post_a = owner_with_post(db)
    b, _, post_b = owner_with_post(db)
    async with connect(f"{service.ws_url}?token={make_token(a, service.secret)}&since=0") as ws:
        await recv_json(ws)
        react(db, post_b, actor)
        react(db, post_a, actor, "mine")
        message = await recv_json(ws)
        assert message["notification"]["emoji"] == "mine"
        assert await no_message(ws)


async def test_edits_and_unread_are_pushed(service: ServiceProcess,
                                           db: psycopg.Connection[Any]) -> None:
    """An edited comment arrives as notification_updated; marking unread again as `unread`."""
    owner, actor, post = owner_with_post(db)
    async with connect(f"{service.ws_url}?token={make_token(owner, service.secret)}") as ws:
        await recv_json(ws)
        comment_id = comment(db, post, actor, "first words")
        created = await recv_json(ws)
        assert created["notification"]["comment_preview"] == "first words"
        db.execute("UPDATE comments SET body = 'second words', updated_at = now() WHERE id = %s",
                   (comment_id,))
        updated = await recv_json(ws)
        assert updated["type"] == "notification_updated" and updated["position"] == 2
        assert updated["notification"]["comment_preview"] == "second words"
        assert updated["notifications"] == [updated["notification"]]
        nid = created["notification"]["id"]
        db.execute("UPDATE notifications SET is_read = true WHERE id = %s", (nid,))
        db.execute("UPDATE notifications SET is_read = false WHERE id = %s", (nid,))
        read, unread = await recv_json(ws), await recv_json(ws)
        assert (read["type"], read["unread_count"]) == ("read", 0)
        assert (unread["type"], unread["unread_count"], unread["ids"]) == ("unread", 1, [nid])


async def shown_notifications(ws: Any, count: int) -> list[dict[str, Any]]:
    """The notifications of `notification` messages, until `count` came or none for 2 seconds."""
    shown: list[dict[str, Any]] = []
    while len(shown) < count:
        try:
            message = await recv_json(ws, timeout=2.0)
        except TimeoutError:
            break
        if message["type"] == "notification":
            shown += message.get("notifications") or [message["notification"]]
    return shown


async def test_one_statement_of_several_reactions_reaches_the_socket_in_full(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """Three reactions INSERTed by one host statement arrive as three notifications, live and replayed."""
    owner, actor, post = owner_with_post(db)
    token = make_token(owner, service.secret)
    async with connect(f"{service.ws_url}?token={token}") as ws:
        await recv_json(ws)
        db.execute("INSERT INTO reactions (post_id, user_id, emoji)"
                   " SELECT %s, %s, 'm' || g FROM generate_series(1, 3) g", (post, actor))
        live = await shown_notifications(ws, 3)
    wait_until_sequenced(db)
    async with connect(f"{service.ws_url}?token={token}&since=0") as ws:
        assert (await recv_json(ws))["unread_count"] == 3
        replayed = await shown_notifications(ws, 3)
    assert sorted(n["emoji"] for n in live) == ["m1", "m2", "m3"]
    assert sorted(n["emoji"] for n in replayed) == ["m1", "m2", "m3"]
