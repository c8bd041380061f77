"""The IDOR matrix: user A can never read, mark, delete or receive user B's notifications."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from devkit.hostdata import add_post, react, unread_state, wait_until_sequenced
from devkit.servers import ServiceProcess
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, new_user, service, shared_database_url
from tests.integration.ws_client import connect, no_message, recv_json

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(60)
API = "/api/notifications"


def auth(svc: ServiceProcess, user: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, svc.secret)}"}


async def test_user_a_cannot_touch_user_b(service: ServiceProcess,
                                          db: psycopg.Connection[Any]) -> None:
    """Every endpoint and the socket ignore B's ids when called with A's token."""
    a, b, actor = new_user(db, "a"), new_user(db, "b"), new_user(db, "actor")
    react(db, add_post(db, a), actor, "for-a")
    react(db, add_post(db, b), actor, "for-b")
    wait_until_sequenced(db)  # listed and replayed once the sequencer has numbered them
    b_ids = [r[0] for r in db.execute("SELECT id FROM notifications WHERE user_id = %s", (b,))]
    base = service.base_url + API
    a_headers = auth(service, a)
    with httpx.Client(headers=a_headers, timeout=10) as client:
        listed = client.get(base + "/").json()
        assert [n["emoji"] for n in listed["items"]] == ["for-a"]
        groups = client.get(base + "/groups").json()
        assert [g["emojis"] for g in groups["groups"]] == [["for-a"]]
        assert client.post(base + "/mark-read", json=[str(i) for i in b_ids]).json()["marked"] == 0
        assert client.delete(f"{base}/{b_ids[0]}").status_code == 404
        async with connect(f"{service.ws_url}?token={make_token(a, service.secret)}&since=0"
                           ) as ws:
            assert (await recv_json(ws))["user_id"] == a
            assert (await recv_json(ws))["notification"]["emoji"] == "for-a"
            marked_all = client.post(base + "/mark-all-read").json()
            assert marked_all["marked"] == 1
            assert (await recv_json(ws))["type"] == "read"
            react(db, add_post(db, b), actor, "b-again")
            db.execute("UPDATE notifications SET is_read = true WHERE user_id = %s", (b,))
            assert await no_message(ws, 0.7)
    # B's rows are untouched by everything A did (the UPDATE above was B's own, by SQL).
    assert db.execute("SELECT count(*) FROM notifications WHERE user_id = %s",
                      (b,)).fetchone() == (2,)
    assert unread_state(db, b) == (0, 0)
    with httpx.Client(headers=auth(service, b), timeout=10) as client:
        assert {n["emoji"] for n in client.get(base + "/").json()["items"]} == {
            "for-b", "b-again"}


def test_the_user_always_comes_from_the_token(service: ServiceProcess,
                                              db: psycopg.Connection[Any]) -> None:
    """A user_id in the query string or body is ignored: the token alone decides."""
    a, b, actor = new_user(db, "a"), new_user(db, "b"), new_user(db, "actor")
    react(db, add_post(db, b), actor)
    wait_until_sequenced(db)
    with httpx.Client(headers=auth(service, a), timeout=10) as client:
        page = client.get(service.base_url + API + "/", params={"user_id": b}).json()
        assert page["items"] == [] and page["position"] == 0
        assert client.post(service.base_url + API + "/mark-all-read",
                           json={"user_id": b}).status_code == 400
