"""Web Push end to end, with no internet: the real service, a host write in plain SQL, and
the fake push service of devkit.webpush in this process, which checks the VAPID header
(ES256 signature, aud, exp, sub), the encoding, TTL and Topic, decrypts the aes128gcm body
with the fake browser's own keys, and answers as scripted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02

from devkit import webpush
from devkit.hostdata import add_post, react
from devkit.servers import SECRET, ServiceProcess, running_service
from devkit.tokens import make_token
from devkit.webpush import FakeBrowser, FakePushService, b64, unb64, vapid_private_pem
from pg_social_notifications.push_worker import PUSH_LOCK_KEY
from tests.integration.service_fixtures import db, new_user, shared_database_url  # noqa: F401
from tests.integration.ws_client import connect, recv_json

PUSH_DELAY = 1.0
CAP = 3


@pytest.fixture(scope="module")
def push_service() -> Iterator[FakePushService]:
    fake = FakePushService()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def vapid_pem() -> str:
    return vapid_private_pem()


def push_env(vapid_pem: str) -> dict[str, str]:
    return webpush.push_env(vapid_pem, delay=PUSH_DELAY, cap=CAP)


@pytest.fixture(scope="module")
def service(shared_database_url: str, vapid_pem: str) -> Iterator[ServiceProcess]:  # noqa: F811
    with running_service(shared_database_url, env=push_env(vapid_pem)) as svc:
        yield svc


def auth(user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user_id, SECRET)}"}


def public_key(service: ServiceProcess) -> str:
    r = httpx.get(service.base_url + "/api/notifications/push/public-key")
    assert r.status_code == 200
    key: str = r.json()["public_key"]
    return key


def subscribe(service: ServiceProcess, user_id: int, browser: FakeBrowser) -> httpx.Response:
    return httpx.post(service.base_url + "/api/notifications/push/subscriptions",
                      json=browser.to_json(), headers=auth(user_id))


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def outbox(db: psycopg.Connection[Any], user_id: int) -> int:  # noqa: F811
    row = db.execute("SELECT count(*) FROM notification_push_outbox WHERE user_id = %s",
                     (user_id,)).fetchone()
    assert row is not None
    return int(row[0])


def subscribed_user(service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
                    push_service: FakePushService) -> tuple[int, int, FakeBrowser]:
    owner, actor = new_user(db, "owner"), new_user(db, "actor")
    browser = FakeBrowser(push_service.endpoint())
    assert subscribe(service, owner, browser).status_code == 201
    return owner, actor, browser


def test_the_public_key_is_the_vapid_key(service: ServiceProcess, vapid_pem: str) -> None:
    raw = unb64(public_key(service))
    assert len(raw) == 65 and raw[0] == 4
    expected = Vapid02.from_pem(vapid_pem.encode()).public_key.public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint)
    assert raw == expected


def test_a_host_reaction_is_pushed_once_and_decrypts_to_the_notification(
        service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
        push_service: FakePushService) -> None:
    owner, actor, browser = subscribed_user(service, db, push_service)
    react(db, add_post(db, owner), actor, "🔥")
    wait_for(lambda: push_service.to(browser.endpoint))
    time.sleep(PUSH_DELAY + 1.0)
    received = push_service.to(browser.endpoint)
    assert len(received) == 1
    message = browser.open(received[0], public_key(service))
    listed = httpx.get(service.base_url + "/api/notifications/", headers=auth(owner)).json()["items"]
    assert message["type"] == "notification"
    assert message["notification"] == listed[0]
    assert outbox(db, owner) == 0
    row = db.execute("SELECT last_success_at IS NOT NULL FROM notification_push_subscriptions"
                     " WHERE endpoint = %s", (browser.endpoint,)).fetchone()
    assert row == (True,)


def test_an_open_socket_suppresses_the_push(service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
                                            push_service: FakePushService) -> None:
    owner, actor, browser = subscribed_user(service, db, push_service)

    async def scenario() -> None:
        async with connect(f"{service.ws_url}?token={make_token(owner, SECRET)}") as ws:
            assert (await recv_json(ws))["type"] == "hello"
            wait_for(lambda: db.execute("SELECT EXISTS (SELECT 1 FROM notification_presence"
                                        " WHERE %s = ANY (user_ids))", (owner,)).fetchone() == (True,))
            react(db, add_post(db, owner), actor, "👍")
            assert (await recv_json(ws))["type"] == "notification"
            await asyncio.sleep(PUSH_DELAY + 1.5)

    asyncio.run(scenario())
    assert push_service.to(browser.endpoint) == []
    assert outbox(db, owner) == 0


def test_the_push_switch_off_suppresses_the_push(service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
                                                 push_service: FakePushService) -> None:
    owner, actor, browser = subscribed_user(service, db, push_service)
    r = httpx.put(service.base_url + "/api/notifications/preferences",
                  json={"push_on_post_reactions": False}, headers=auth(owner))
    assert r.status_code == 200
    react(db, add_post(db, owner), actor, "👍")
    wait_for(lambda: db.execute("SELECT EXISTS (SELECT 1 FROM notifications WHERE user_id = %s)",
                                (owner,)).fetchone() == (True,))
    wait_for(lambda: outbox(db, owner) == 0)
    time.sleep(0.5)
    assert push_service.to(browser.endpoint) == []


def test_a_retraction_before_the_delay_sends_nothing(service: ServiceProcess,
                                                     db: psycopg.Connection[Any],  # noqa: F811
                                                     push_service: FakePushService) -> None:
    owner, actor, browser = subscribed_user(service, db, push_service)
    reaction = react(db, add_post(db, owner), actor, "👍")
    db.execute("DELETE FROM reactions WHERE id = %s", (reaction,))
    time.sleep(PUSH_DELAY + 1.5)
    assert push_service.to(browser.endpoint) == []
    assert outbox(db, owner) == 0


@pytest.mark.parametrize("status", [404, 410])
def test_gone_removes_the_subscription(service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
                                       push_service: FakePushService, status: int) -> None:
    owner, actor, browser = subscribed_user(service, db, push_service)
    push_service.script["/" + browser.endpoint.split("/", 3)[3]].append((status, {}))
    react(db, add_post(db, owner), actor, "👍")
    wait_for(lambda: db.execute("SELECT count(*) FROM notification_push_subscriptions WHERE endpoint = %s",
                                (browser.endpoint,)).fetchone() == (0,))
    assert len(push_service.to(browser.endpoint)) == 1
    assert outbox(db, owner) == 0


@pytest.mark.parametrize(("status", "headers", "least_gap"), [
    (429, {"Retry-After": "2"}, 1.8),
    (500, {}, 0.5),
])
def test_a_busy_or_failing_push_service_is_retried_then_delivered_once(
        service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
        push_service: FakePushService, status: int, headers: dict[str, str], least_gap: float) -> None:
    owner, actor, browser = subscribed_user(service, db, push_service)
    push_service.script["/" + browser.endpoint.split("/", 3)[3]].append((status, headers))
    react(db, add_post(db, owner), actor, "👍")
    wait_for(lambda: len(push_service.to(browser.endpoint)) >= 2, timeout=15)
    wait_for(lambda: outbox(db, owner) == 0)
    time.sleep(1.0)
    first, second = push_service.to(browser.endpoint)
    assert second.at - first.at >= least_gap
    key = public_key(service)
    assert browser.open(first, key) == browser.open(second, key)


@pytest.mark.parametrize("endpoint", [
    "https://127.0.0.1/push/x", "https://10.0.0.1/", "https://169.254.169.254/",
    "http://push.example/", "https://localhost/push/x", "https://[::1]/x",
])
def test_the_ssrf_guard_refuses_private_and_insecure_endpoints(
        service: ServiceProcess, db: psycopg.Connection[Any], endpoint: str) -> None:  # noqa: F811
    user = new_user(db, "ssrf")
    r = subscribe(service, user, FakeBrowser(endpoint))
    assert r.status_code == 400, r.text
    assert db.execute("SELECT count(*) FROM notification_push_subscriptions WHERE user_id = %s",
                      (user,)).fetchone() == (0,)


def test_bad_keys_are_refused(service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
                              push_service: FakePushService) -> None:
    user = new_user(db, "keys")
    body = FakeBrowser(push_service.endpoint()).to_json()
    for keys in ({"p256dh": b64(b"\x04" + b"x" * 63), "auth": body["keys"]["auth"]},
                 {"p256dh": body["keys"]["p256dh"], "auth": b64(b"y" * 15)},
                 {**body["keys"], "extra": "no"}):
        r = httpx.post(service.base_url + "/api/notifications/push/subscriptions",
                       json={**body, "keys": keys}, headers=auth(user))
        assert r.status_code == 400, keys


def test_the_per_user_cap(service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
                          push_service: FakePushService) -> None:
    user = new_user(db, "cap")
    browsers = [FakeBrowser(push_service.endpoint()) for _ in range(CAP + 1)]
    for browser in browsers[:CAP]:
        assert subscribe(service, user, browser).status_code == 201
    refused = subscribe(service, user, browsers[CAP])
    assert refused.status_code == 409 and "at most 3" in refused.json()["detail"]
    assert subscribe(service, user, browsers[0]).status_code == 201  # the same one again: fine


def test_unauthenticated_calls_are_refused(service: ServiceProcess, push_service: FakePushService) -> None:
    url = service.base_url + "/api/notifications/push/subscriptions"
    assert httpx.post(url, json=FakeBrowser(push_service.endpoint()).to_json()).status_code == 401
    assert httpx.request("DELETE", url, json={"endpoint": "https://push.example/x"}).status_code == 401


def test_delete_removes_only_the_callers_own(service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
                                             push_service: FakePushService) -> None:
    owner, stranger = new_user(db, "mine"), new_user(db, "theirs")
    browser = FakeBrowser(push_service.endpoint())
    assert subscribe(service, owner, browser).status_code == 201
    url = service.base_url + "/api/notifications/push/subscriptions"

    def count() -> Any:
        return db.execute("SELECT count(*) FROM notification_push_subscriptions WHERE endpoint = %s",
                          (browser.endpoint,)).fetchone()

    assert httpx.request("DELETE", url, json={"endpoint": browser.endpoint},
                         headers=auth(stranger)).status_code == 204
    assert count() == (1,)
    assert httpx.request("DELETE", url, json={"endpoint": browser.endpoint},
                         headers=auth(owner)).status_code == 204
    assert count() == (0,)


def test_ready_reports_the_outbox(service: ServiceProcess) -> None:
    body = httpx.get(service.base_url + "/health/ready").json()
    assert body["status"] == "ok" and isinstance(body["push_outbox_depth"], int)
    # The module's earlier tests delivered pushes and dropped some.
    assert service.counter("notifications_push_sent_total") >= 1
    assert "notifications_push_dropped_total{reason=" in httpx.get(service.base_url + "/metrics").text


def push_lock_holders(db: psycopg.Connection[Any]) -> int:  # noqa: F811
    """Backends holding the push worker's advisory lock (a bigint key: classid, objid)."""
    key = PUSH_LOCK_KEY
    row = db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                     " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
                     (key >> 32, key & 0xFFFFFFFF)).fetchone()
    assert row is not None
    return int(row[0])


def test_one_push_worker_at_a_time_and_a_standby_takes_over(  # last: it restarts `service`
        service: ServiceProcess, db: psycopg.Connection[Any],  # noqa: F811
        push_service: FakePushService, shared_database_url: str, vapid_pem: str) -> None:  # noqa: F811
    owner, actor, browser = subscribed_user(service, db, push_service)
    with running_service(shared_database_url, env=push_env(vapid_pem)) as standby:
        time.sleep(2.5)  # the standby has tried the lock at least once
        assert push_lock_holders(db) == 1
        react(db, add_post(db, owner), actor, "👍")
        wait_for(lambda: len(push_service.to(browser.endpoint)) == 1)
        # Its outbox row gone: a kill between the push service's 201 and that commit would
        # leave the push to be sent once more after its lease (the crash window the README
        # names), which is not what this test is about.
        wait_for(lambda: outbox(db, owner) == 0)
        # The leader dies (a crash, not a shutdown); the standby takes the queue over.
        service.kill()
        try:
            wait_for(lambda: push_lock_holders(db) == 1, timeout=15)
            react(db, add_post(db, owner), actor, "🔥")
            wait_for(lambda: len(push_service.to(browser.endpoint)) == 2, timeout=15)
            time.sleep(PUSH_DELAY + 1.0)
            first, second = push_service.to(browser.endpoint)
            key = public_key(standby)
            assert browser.open(first, key)["notification"]["emoji"] == "👍"
            assert browser.open(second, key)["notification"]["emoji"] == "🔥"
            assert standby.counter("notifications_push_sent_total") == 1
            assert outbox(db, owner) == 0
        finally:
            service.start()
