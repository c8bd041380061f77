"""Fair admission: idle sockets crowd nobody out, a connect wave is queued, refusals say when.

Before: the handshake slot was taken before the upgrade and held while the
service waited for the auth message, so 64 sockets that sent nothing refused
every legitimate upgrade with HTTP 403 (a browser sees only 1006), and a
plain wave of 1,000 connects got 229 refused.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import time
from typing import Any

import psycopg
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from devkit.hostdata import add_post, add_user, comment, sequence
from devkit.scrape import metric
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.integration.ws_client import close_code, recv_json

pytestmark = pytest.mark.timeout(180)
RETRY_HINT = re.compile(r"retry after (\d+) ms")


def refused_total(svc: ServiceProcess) -> int:
    return int(metric(svc.base_url, "notifications_ws_handshakes_refused_total"))


async def hello_or_close(svc: ServiceProcess, user: int, *, in_url: bool = False
                         ) -> tuple[str, int | None, str]:
    """("hello", None, "") or ("closed", code, reason) for one authenticating client
    (token in its first message, or in the URL: then its slot is taken before the 101)."""
    token = make_token(user, svc.secret)
    url = f"{svc.ws_url}?token={token}" if in_url else svc.ws_url
    async with websockets.connect(url, open_timeout=20) as ws:
        try:
            # A socket refused on arrival is closed before it can send its auth message.
            if not in_url:
                await ws.send(f'{{"type": "auth", "token": "{token}"}}')
            message = await recv_json(ws, timeout=30)
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            return "closed", rcvd.code if rcvd else None, rcvd.reason if rcvd else ""
        return message["type"], None, ""


async def idle_sockets(svc: ServiceProcess, count: int, source: str) -> list[ClientConnection]:
    """`count` upgraded sockets from `source` that never send anything."""
    opened = []
    for _ in range(count):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.bind((source, 0))
        raw.connect(("127.0.0.1", svc.port))
        raw.setblocking(False)
        opened.append(await websockets.connect(svc.ws_url, sock=raw, open_timeout=20))
    return opened


@pytest.mark.parametrize("in_url", [False, True], ids=["first-message", "url-token"])
async def test_a_connect_wave_past_the_handshake_slots_is_queued_not_refused(
        database_url: str, conn: psycopg.Connection[Any], in_url: bool) -> None:
    users = [add_user(conn, f"wave{i}") for i in range(40)]
    with running_service(database_url, env={"NOTIFICATIONS_WS_MAX_HANDSHAKES": "1"}) as svc:
        outcomes = await asyncio.gather(*(hello_or_close(svc, u, in_url=in_url) for u in users))
        assert [o[0] for o in outcomes] == ["hello"] * len(users), outcomes
        assert refused_total(svc) == 0


@pytest.mark.parametrize("idle", [64, 1000])
async def test_idle_unauthenticated_sockets_do_not_delay_a_legitimate_connect(
        database_url: str, conn: psycopg.Connection[Any], idle: int) -> None:
    user = add_user(conn, "legit")
    env = {"NOTIFICATIONS_WS_MAX_UNAUTHENTICATED_PER_ADDRESS": "256"}
    with running_service(database_url, env=env) as svc:
        sockets = await idle_sockets(svc, idle, "127.0.0.2")
        try:
            started = time.monotonic()
            outcome = await hello_or_close(svc, user)
            assert outcome[0] == "hello", outcome
            assert time.monotonic() - started < 2.0
            # Past the per-address cap (256) the idle ones were closed at once, told when
            # to come back; the rest are closed at the 3 s auth deadline.
            codes = await asyncio.gather(*(close_code(ws, timeout=15) for ws in sockets))
            assert set(codes) <= {1013, 4408}, set(codes)
            if idle <= 256:
                assert codes.count(4408) == idle
            else:  # opening 1,000 takes longer than the deadline: some slots came free
                assert codes.count(4408) >= 256 and codes.count(1013) >= 1, codes.count(1013)
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


@pytest.mark.parametrize("in_url", [False, True], ids=["first-message", "url-token"])
@pytest.mark.parametrize("limit", [{"NOTIFICATIONS_WS_ADMISSION_WAIT": "0.001"},
                                   {"NOTIFICATIONS_WS_ADMISSION_QUEUE": "0"}])
async def test_past_the_admission_wait_or_queue_a_socket_is_told_when_to_come_back(
        database_url: str, conn: psycopg.Connection[Any], limit: dict[str, str],
        in_url: bool) -> None:
    users = [add_user(conn, f"busy{i}") for i in range(40)]
    env = {"NOTIFICATIONS_WS_MAX_HANDSHAKES": "1", **limit}
    with running_service(database_url, env=env) as svc:
        outcomes = await asyncio.gather(*(hello_or_close(svc, u, in_url=in_url) for u in users))
        refused = [o for o in outcomes if o[0] != "hello"]
        assert refused, "a wave of 40 never waited for one slot"
        for _, code, reason in refused:
            hint = RETRY_HINT.search(reason)
            assert code == 1013 and hint and 1000 <= int(hint.group(1)) <= 5000, (code, reason)
        assert refused_total(svc) == len(refused)
        assert "hello" in [o[0] for o in outcomes]


async def test_a_user_past_their_socket_cap_is_closed_4429_with_a_hint(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    user = add_user(conn, "many_tabs")
    with running_service(database_url, env={"NOTIFICATIONS_WS_MAX_SOCKETS_PER_USER": "2"}) as svc:
        url = f"{svc.ws_url}?token={make_token(user, svc.secret)}"
        async with websockets.connect(url) as first, websockets.connect(url) as second:
            assert (await recv_json(first))["type"] == "hello"
            assert (await recv_json(second))["type"] == "hello"
            outcome = await hello_or_close(svc, user)
            assert outcome[:2] == ("closed", 4429), outcome
            assert "at most 2 sockets per user" in outcome[2] and RETRY_HINT.search(outcome[2])
        # Both closed: room again.
        for _ in range(50):
            if (await hello_or_close(svc, user))[0] == "hello":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the cap never freed up")


async def test_a_wave_of_reconnects_each_gets_exactly_what_it_missed(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Streams asked for together start in one batch (streams.Joiner): each socket still gets
    its own hello, then the changes after its own `since`, in order, once; a `since` out of
    the log gets resync."""
    actor = add_user(conn, "wave_actor")
    owners = [add_user(conn, f"wave_owner{i}") for i in range(60)]
    for i, owner in enumerate(owners):
        post = add_post(conn, owner)
        for n in range(i % 5 + 1):
            comment(conn, post, actor, f"c{n}")
    sequence(conn)
    # since: 0 (everything), one behind, current, and ahead of the log (resync)
    sinces = {owner: [0, i % 5, i % 5 + 1, 99][i % 4] for i, owner in enumerate(owners)}

    async def reconnect(svc: ServiceProcess, owner: int) -> list[dict[str, Any]]:
        async with websockets.connect(svc.ws_url, open_timeout=20) as ws:
            await ws.send(f'{{"type": "auth", "token": "{make_token(owner, svc.secret)}",'
                          f' "since": {sinces[owner]}}}')
            got = [await recv_json(ws, timeout=20)]
            while True:
                try:
                    got.append(await recv_json(ws, timeout=1.0))
                except TimeoutError:
                    return got

    with running_service(database_url) as svc:
        streams = await asyncio.gather(*(reconnect(svc, o) for o in owners))
    for i, (owner, got) in enumerate(zip(owners, streams, strict=True)):
        total, since = i % 5 + 1, sinces[owner]
        assert got[0]["type"] == "hello" and got[0]["position"] == total, got
        if since > total:
            assert [m["type"] for m in got[1:]] == ["resync"], got
            continue
        positions = [m["position"] for m in got[1:]]
        assert positions == list(range(since + 1, total + 1)), (owner, since, got)


UPGRADE = (b"GET /api/notifications/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")


async def test_an_upgrade_whose_client_left_in_the_accept_queue_costs_nothing_and_a_wait_counts(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """While the process is stopped (as when its loop is saturated in a storm), upgrade
    requests wait in the kernel. One whose client gives up meanwhile is dropped unanswered
    when the process reads it (counted), and one that waited past the admission wait while
    the slot is taken is refused `1013` with a hint at once, its wait counted from its
    arrival; the others are served."""
    users = [add_user(conn, f"queued{i}") for i in range(3)]
    env = {"NOTIFICATIONS_WS_MAX_HANDSHAKES": "1", "NOTIFICATIONS_WS_ADMISSION_WAIT": "1"}
    with running_service(database_url, env=env) as svc:
        assert svc.process is not None
        os.kill(svc.process.pid, signal.SIGSTOP)
        try:
            gone = socket.create_connection(("127.0.0.1", svc.port))
            gone.sendall(UPGRADE)
            gone.close()  # gave up before the process read it
            waiting = [websockets.connect(f"{svc.ws_url}?token={make_token(u, svc.secret)}",
                                          open_timeout=30) for u in users]
            opening = [asyncio.ensure_future(w.__aenter__()) for w in waiting]
            await asyncio.sleep(1.5)  # past the 1 s admission wait, in the kernel
        finally:
            os.kill(svc.process.pid, signal.SIGCONT)
        sockets = await asyncio.gather(*opening)
        outcomes = []
        for ws in sockets:
            try:
                outcomes.append((await recv_json(ws, timeout=30))["type"])
            except ConnectionClosed as closed:
                assert closed.rcvd is not None, closed
                assert closed.rcvd.code == 1013 and RETRY_HINT.search(closed.rcvd.reason), closed
                outcomes.append("refused")
            await ws.close()
        # The first read takes the slot at once (a free slot is never refused); the others,
        # read while it starts its stream, had already waited 1.5 s of their 1 s.
        assert sorted(outcomes) == ["hello", "refused", "refused"], outcomes
        assert metric(svc.base_url, "notifications_ws_upgrades_abandoned_total") == 1
