"""Hostile request shapes get a clear 4xx (or close code), never a 5xx, and change nothing.

Each was a 500 or a wrong close code before: a thousand nested `[` in a small
body (RecursionError in the decoder), JSON strings and numbers coerced into
booleans and positions, a NUL in a validly signed `sub`, a bad `since` in the
first-message auth closing 4401 ("refresh your token") instead of 4400.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg
import pytest

from devkit.hostdata import add_post, add_user, react, wait_until_sequenced
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, new_user, service, shared_database_url
from tests.integration.ws_client import close_code, connect, recv_json

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(90)
API = "/api/notifications"


def client(svc: ServiceProcess, user_id: int) -> httpx.Client:
    return httpx.Client(base_url=svc.base_url + API, timeout=10,
                        headers={"Authorization": f"Bearer {make_token(user_id, svc.secret)}"})


def unread(conn: psycopg.Connection[Any], user_id: int) -> int:
    row = conn.execute("SELECT count(*) FROM notifications WHERE user_id = %s AND NOT is_read",
                       (user_id,)).fetchone()
    return int(row[0]) if row else -1


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/mark-read"), ("POST", "/mark-all-read"), ("PUT", "/preferences")])
@pytest.mark.parametrize("shape", ["[" * 1000, '{"a":' * 1000, "[" * 1000 + "]" * 1000])
def test_deeply_nested_bodies_are_400(service: ServiceProcess, db: psycopg.Connection[Any],
                                      method: str, path: str, shape: str) -> None:
    owner = new_user(db)
    react(db, add_post(db, owner), new_user(db))
    wait_until_sequenced(db)
    with client(service, owner) as c:
        response = c.request(method, path, content=shape.encode(),
                             headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        assert "nests deeper than 32 levels" in response.json()["detail"]
        assert c.get("/preferences").json()["notify_on_post_reactions"] is True
    assert unread(db, owner) == 1


def test_a_shallow_body_with_many_brackets_in_strings_is_not_refused(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """The depth check skips strings: brackets inside one are text, not nesting."""
    with client(service, new_user(db)) as c:
        body = json.dumps({"notify_on_post_comments": False}).replace("}", ', "x": "' + "[" * 100 + '"}')
        response = c.put("/preferences", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400  # the unknown field, not the depth
        assert "nests deeper" not in response.text, response.text


@pytest.mark.parametrize("value", ["false", "true", 0, 1, "", None, [], {}])
def test_preferences_take_json_booleans_only(service: ServiceProcess, db: psycopg.Connection[Any],
                                             value: Any) -> None:
    with client(service, new_user(db)) as c:
        response = c.put("/preferences", json={"notify_on_post_comments": value})
        assert response.status_code == 400, response.text
        assert c.get("/preferences").json()["notify_on_post_comments"] is True
        saved = c.put("/preferences", json={"notify_on_post_comments": False}).json()
        assert saved["notify_on_post_comments"] is False


@pytest.mark.parametrize("value", ["5", 5.0, True, -1, "abc", [5]])
def test_mark_all_read_up_to_is_a_json_integer(service: ServiceProcess,
                                               db: psycopg.Connection[Any], value: Any) -> None:
    owner = new_user(db)
    react(db, add_post(db, owner), new_user(db))
    wait_until_sequenced(db)
    with client(service, owner) as c:
        response = c.post("/mark-all-read", json={"up_to": value})
        assert response.status_code == 400, response.text
        assert unread(db, owner) == 1
        assert c.post("/mark-all-read", json={"up_to": 1}).json()["marked"] == 1
    assert unread(db, owner) == 0


def test_mark_read_ids_are_json_strings(service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    with client(service, new_user(db)) as c:
        for body in ([1], [True], [None], "not-a-list", [["nested"]]):
            assert c.post("/mark-read", json=body).status_code == 400, body
        assert c.post("/mark-read", json=[]).json()["marked"] == 0


async def test_a_bad_since_in_the_auth_message_closes_4400_not_4401(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    token = make_token(new_user(db), service.secret)
    for since in (-1, "5", 1.5, 2**70):
        async with connect(service.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": token, "since": since}))
            assert await close_code(ws) == 4400, since
    async with connect(service.ws_url) as ws:  # the same token, a good since: accepted
        await ws.send(json.dumps({"type": "auth", "token": token, "since": 0}))
        assert (await recv_json(ws))["type"] == "hello"


async def test_control_characters_in_sub_are_401_and_4401(
        shared_database_url: str, db: psycopg.Connection[Any]) -> None:
    user = add_user(db, "sqid_user", "s-ok")
    with running_service(shared_database_url, env={"NOTIFICATIONS_JWT_USER_CLAIM": "sub"}) as svc:
        for sub in ("s-ok\x00", "\x00", "s\nok", "s\x7f", "s-ok\u2028"):
            token = make_token(sub, svc.secret, claim="sub")
            response = httpx.get(svc.base_url + API + "/unread-count", timeout=10,
                                 headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, (sub, response.text)
            assert response.json()["detail"] == "token has no valid sub claim"
            async with connect(svc.ws_url) as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                assert await close_code(ws) == 4401, sub
        good = make_token("s-ok", svc.secret, claim="sub")
        response = httpx.get(svc.base_url + API + "/unread-count", timeout=10,
                             headers={"Authorization": f"Bearer {good}"})
        assert response.status_code == 200 and user > 0
