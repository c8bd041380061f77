"""The IDOR matrix: user A, holding B's notification ids, can never read, mark, delete or receive them."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from devkit.hostdata import add_post, add_user, comment, react, wait_until_sequenced
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, service, shared_database_url

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(90)
API = "/api/notifications"
Conn = psycopg.Connection[Any]


def snapshot(conn: Conn, user_id: int) -> tuple[Any, ...]:
    """Everything of one user that an endpoint could change."""
    return (
        conn.execute("SELECT unread_count, last_seq FROM notification_counters WHERE user_id = %s",
                     (user_id,)).fetchone(),
        conn.execute("SELECT id, is_read, read_at FROM notifications WHERE user_id = %s ORDER BY id",
                     (user_id,)).fetchall(),
        conn.execute("SELECT count(*) FROM notification_events WHERE user_id = %s",
                     (user_id,)).fetchone(),
        conn.execute("SELECT * FROM notification_preferences WHERE user_id = %s",
                     (user_id,)).fetchall(),
    )


def victim_and_attacker(conn: Conn, tag: str) -> tuple[int, int, list[str]]:
    """B (victim) with a reaction and a comment notification; A (attacker) with one of their own."""
    victim, attacker, actor = (add_user(conn, f"{n}_{tag}") for n in ("victim", "attacker", "actor"))
    post = add_post(conn, victim, "B's secret artwork")
    react(conn, post, actor, "🔒")
    comment(conn, post, actor, "for B's eyes only")
    react(conn, add_post(conn, attacker, "A's own"), actor, "🅰")
    # Numbered by the service's sequencer after the commit: wait, so that the snapshot is final.
    wait_until_sequenced(conn)
    ids = [str(r[0]) for r in conn.execute("SELECT id FROM notifications WHERE user_id = %s",
                                           (victim,))]
    return victim, attacker, ids


def as_user(svc: ServiceProcess, user_id: int) -> httpx.Client:
    return httpx.Client(base_url=svc.base_url + API, timeout=10,
                        headers={"Authorization": f"Bearer {make_token(user_id, svc.secret)}"})


def test_every_endpoint_refuses_another_users_notifications(service: ServiceProcess, db: Conn) -> None:
    """A's list, count, groups, mark-read, mark-all-read, delete and preferences never touch B."""
    victim, attacker, ids = victim_and_attacker(db, "rest")
    before = snapshot(db, victim)
    with as_user(service, attacker) as a:
        page = a.get("/", params={"limit": 200}).json()
        assert {n["id"] for n in page["items"]}.isdisjoint(ids)
        assert [n["content_title"] for n in page["items"]] == ["A's own"]
        unread = a.get("/", params={"unread_only": "true"}).json()
        assert {n["id"] for n in unread["items"]}.isdisjoint(ids)
        assert a.get("/unread-count").json() == {"unread_count": 1, "position": 1}
        groups = a.get("/groups", params={"window_hours": 720}).json()["groups"]
        assert all(set(g["notification_ids"]).isdisjoint(ids) for g in groups)
        assert all(g["content_title"] == "A's own" for g in groups)
        marked = a.post("/mark-read", json=ids)
        assert marked.status_code == 200 and marked.json()["marked"] == 0
        assert a.post("/mark-all-read", json={"up_to": 10**12}).json()["marked"] == 1
        for nid in ids:
            assert a.delete(f"/{nid}").status_code == 404
        assert a.put("/preferences", json={"notify_on_post_reactions": False}).status_code == 200
    assert snapshot(db, victim) == before
    with as_user(service, victim) as b:
        assert b.get("/unread-count").json()["unread_count"] == 2
        assert b.get("/preferences").json()["notify_on_post_reactions"] is True


def test_a_cursor_from_another_user_only_pages_the_callers_rows(service: ServiceProcess,
                                                                db: Conn) -> None:
    """A cursor is a position, not a capability: replayed by A it lists A's rows only."""
    victim, attacker, ids = victim_and_attacker(db, "cursor")
    with as_user(service, victim) as b:
        cursor = b.get("/", params={"limit": 1}).json()["next_cursor"]
    assert cursor is not None
    with as_user(service, attacker) as a:
        page = a.get("/", params={"cursor": cursor, "limit": 200}).json()
    assert {n["id"] for n in page["items"]}.isdisjoint(ids)


def hs256(signing_input: str, key: bytes) -> str:
    """A token signed by hand (PyJWT refuses some of the keys an attacker would try)."""
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def forged_tokens(attacker: int, victim: int, secret: str) -> dict[str, str]:
    """Tokens that try to name the victim without the host's signature."""
    good = make_token(attacker, secret)
    header, payload, signature = good.split(".")

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    swapped = b64({**claims, "user_id": victim})
    return {
        "payload swapped, old signature": f"{header}.{swapped}.{signature}",
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{swapped}.",
        "alg HS512 header on an HS256 signature":
            f"{b64({'alg': 'HS512', 'typ': 'JWT'})}.{swapped}.{signature}",
        "signed with the wrong secret": make_token(victim, secret + "x"),
        "signed with an empty secret": hs256(f"{header}.{swapped}", b""),
        "victim id as a string": make_token(str(victim), secret),
        "victim id as a float": make_token(float(victim), secret),  # type: ignore[arg-type]
        "victim id as a list": make_token([victim], secret),  # type: ignore[arg-type]
        "boolean user_id": make_token(True, secret),  # type: ignore[arg-type]
        "victim in sub, not user_id": make_token(victim, secret, claim="sub"),
    }


def test_forged_tokens_never_reach_the_victim(service: ServiceProcess, db: Conn) -> None:
    """Tokens with a swapped payload, alg none/HS512, wrong secrets or odd claim types are 401."""
    victim, attacker, _ = victim_and_attacker(db, "forge")
    for name, token in forged_tokens(attacker, victim, service.secret).items():
        response = httpx.get(service.base_url + API + "/unread-count",
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 401, name


async def test_socket_never_carries_another_users_changes(service: ServiceProcess, db: Conn) -> None:
    """A's socket, even resuming from B's positions, gets no replay or live change of B's."""
    victim, attacker, ids = victim_and_attacker(db, "ws")
    token = make_token(attacker, service.secret)
    received: list[str] = []
    async with websockets.connect(f"{service.ws_url}?token={token}&since=0") as ws:
        async def collect() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    received.append(str(raw))
        task = asyncio.create_task(collect())
        db.execute("UPDATE notifications SET is_read = true WHERE user_id = %s", (victim,))
        db.execute("DELETE FROM notifications WHERE user_id = %s", (victim,))
        late_actor = add_user(db, "late_actor_ws")
        react(db, db.execute("SELECT id FROM posts WHERE owner_id = %s", (victim,)).fetchone()[0],  # type: ignore[index]
              late_actor, "🆕")
        # Positive control: the attacker's own change, written after all of the victim's,
        # arrives; the victim's would have been sequenced and announced before it.
        react(db, add_post(db, attacker, "attacker's own"), late_actor, "✅")
        def own_arrived() -> bool:
            return any((json.loads(raw).get("notification") or {}).get("emoji") == "✅"
                       for raw in received)
        for _ in range(100):
            if own_arrived():
                break
            await asyncio.sleep(0.05)
        task.cancel()
    everything = "\n".join(received)
    assert json.loads(received[0])["user_id"] == attacker
    assert own_arrived(), received
    assert all(nid not in everything for nid in ids)
    assert "B's secret artwork" not in everything and "🆕" not in everything
    for name, forged in forged_tokens(attacker, victim, service.secret).items():
        async with websockets.connect(f"{service.ws_url}?token={forged}") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401, name


@pytest.fixture
def sub_service(database_url: str) -> Iterator[ServiceProcess]:
    """A service that names users by public_sqid in `sub`, as the live site does."""
    with running_service(database_url, env={"NOTIFICATIONS_JWT_USER_CLAIM": "sub"}) as svc:
        yield svc


def test_sqid_tokens_see_only_their_own_user(sub_service: ServiceProcess, conn: Conn) -> None:
    """In sub mode, A's sqid sees only A; user_id claims, unknown or SQL-ish sqids are 401."""
    victim = add_user(conn, "victim_sqid", "victimSQ")
    attacker = add_user(conn, "attacker_sqid", "attackSQ")
    react(conn, add_post(conn, victim), add_user(conn, "actor_sqid"))
    secret = sub_service.secret

    def status(token: str) -> int:
        return httpx.get(sub_service.base_url + API + "/", timeout=10,
                         headers={"Authorization": f"Bearer {token}"}).status_code

    own = httpx.get(sub_service.base_url + API + "/", timeout=10, headers={
        "Authorization": f"Bearer {make_token('attackSQ', secret, claim='sub')}"}).json()
    assert own["items"] == [] and own["unread_count"] == 0
    assert status(make_token(victim, secret)) == 401  # user_id claims mean nothing in sub mode
    assert status(make_token(attacker, secret, claim="sub")) == 401  # an int is not a sqid
    for sqid in ("nobody", "' OR '1'='1", "victimSQ' --", "VICTIMSQ", "victimSQ ", "%", "x" * 17):
        assert status(make_token(sqid, secret, claim="sub")) == 401, sqid
