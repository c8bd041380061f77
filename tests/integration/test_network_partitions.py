"""A connection whose network path goes silent (no reset, no close) is found and replaced.

A partition or a dead NAT entry leaves a TCP connection that neither errors
nor delivers: an unbounded round trip would wait for the kernel's
retransmissions, a quarter of an hour. Here the service talks to PostgreSQL
through a proxy that can silence one of its connections (bytes dropped both
ways, nothing closed) while every other connection and every new one flows:
the LISTEN connection (NOTIFYs stop arriving), and the sequencer's (which
also holds the sequencer lock, so nothing would be numbered or announced
again until the server let go of it).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import ClientConnection

from devkit.hostdata import add_post, add_user, react
from devkit.netproxy import proxied
from devkit.scrape import metric
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.integration.ws_client import connect, recv_json

pytestmark = pytest.mark.timeout(120)


async def arrives_within(ws: ClientConnection, svc: ServiceProcess, emoji: str,
                         seconds: float) -> dict[str, Any]:
    """The next message is the notification of `emoji`, within `seconds`."""
    started = time.monotonic()
    try:
        message = await recv_json(ws, timeout=60)
    except TimeoutError:
        raise AssertionError(svc.log_text()[-3000:]) from None
    assert message["type"] == "notification", message
    assert message["notification"]["emoji"] == emoji
    assert time.monotonic() - started < seconds
    return message


async def test_a_silent_listen_connection_is_replaced_and_nothing_is_missed(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    owner, actor = add_user(conn, "partitioned"), add_user(conn, "actor")
    post = add_post(conn, owner)
    env = {"NOTIFICATIONS_LISTENER_PROBE_INTERVAL": "1", "NOTIFICATIONS_LISTENER_PROBE_TIMEOUT": "1"}
    with proxied(database_url) as (proxy, url), running_service(url, env=env) as svc:
        token = make_token(owner, svc.secret)
        async with connect(f"{svc.ws_url}?token={token}&since=0") as ws:
            assert (await recv_json(ws))["type"] == "hello"
            react(conn, post, actor, "before")  # the live path works
            assert (await recv_json(ws, timeout=30))["notification"]["emoji"] == "before"
            assert proxy.silence("notifications-listener") == 1
            react(conn, post, actor, "during")  # its NOTIFY goes into the silent path
            # Found within the probe's interval and timeout, plus psycopg's own bounded
            # cancellation of the unanswered probe (5 s, then 5 s more before it closes).
            await arrives_within(ws, svc, "during", 55)
        assert metric(svc.base_url, "notifications_listener_reconnects_total") >= 1
        log = svc.log_text()
        assert "LISTEN connection lost (OperationalError)" in log, log[-2000:]
        assert "LISTEN connection re-established" in log


async def test_a_silent_sequencer_connection_gives_up_the_lead_and_nothing_is_missed(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    owner, actor = add_user(conn, "partitioned"), add_user(conn, "actor")
    post = add_post(conn, owner)
    env = {"NOTIFICATIONS_SEQUENCER_TIMEOUT": "2"}
    with proxied(database_url) as (proxy, url), running_service(url, env=env) as svc:
        token = make_token(owner, svc.secret)
        async with connect(f"{svc.ws_url}?token={token}&since=0") as ws:
            assert (await recv_json(ws))["type"] == "hello"
            react(conn, post, actor, "before")
            assert (await recv_json(ws, timeout=30))["notification"]["emoji"] == "before"
            assert proxy.silence("notifications-sequencer") == 1
            # Committed while the lock's holder cannot be reached: only once the server
            # ends that session can anyone (here the same process, reconnected) lead.
            react(conn, post, actor, "during")
            assert (await arrives_within(ws, svc, "during", 55))["position"] == 2
        log = svc.log_text()
        assert "sequencer connection lost (OperationalError)" in log, log[-2000:]
        assert log.count("this process is now the sequencer") == 2, log[-2000:]
    # The silenced session ended on the server (the proxy still holds its socket open):
    # nothing of ours is left holding the lock once the service has stopped.
    holders = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'notifications-sequencer'"
    ).fetchone()
    assert holders is not None and holders[0] == 0


async def test_a_connection_attempt_that_is_never_answered_does_not_stop_the_pool(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """The pool grows one connection at a time. An attempt accepted and then never
    answered (a dropping firewall, a hung server) once held that one slot for good:
    after the path came back every request was answered 503 (seen in CI as two 503s
    in a row after an outage, from the test proxy's own stuck reset)."""
    owner = add_user(conn, "stalled")
    env = {"NOTIFICATIONS_DB_TIMEOUT": "2", "NOTIFICATIONS_POOL_MIN_SIZE": "1"}
    with proxied(database_url) as (proxy, url), running_service(url, env=env) as svc:
        headers = {"Authorization": f"Bearer {make_token(owner, svc.secret)}"}
        api = svc.base_url + "/api/notifications/unread-count"
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(api, headers=headers)).status_code == 200
            proxy.cut()
            proxy.stall()
            down = await http.get(api, headers=headers)
            assert down.status_code == 503, down.text  # its attempt to connect hangs
            proxy.restore()
            restored = time.monotonic()
            statuses = []
            while (status := (await http.get(api, headers=headers)).status_code) != 200:
                statuses.append(status)
                assert time.monotonic() - restored < 10, (statuses, svc.log_text()[-3000:])
            # The hung attempt gives up within its connect timeout (2 s), then the
            # next request's attempt connects.
            assert statuses in ([], [503]), statuses
