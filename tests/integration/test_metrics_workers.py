"""`serve --workers 2`: a scrape of either worker reports the whole service.

Real worker processes share their samples through PROMETHEUS_MULTIPROC_DIR;
the sockets land on both (the kernel hands out the accepts), and psutil says
how many each holds, so a total no single worker holds proves the sum.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from websockets.asyncio.client import ClientConnection

from devkit.hostdata import add_post, add_user, react
from devkit.scrape import scrape
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from pg_social_notifications.metrics import MULTIPROC_ENV
from tests.integration.ws_client import connect, recv_json

pytestmark = pytest.mark.timeout(120)
MAX_SOCKETS = 30  # under the per-user cap (32 per process) even if one worker takes all


def workers_of(svc: ServiceProcess) -> list[psutil.Process]:
    """uvicorn's worker processes: the children that accept on the service's port."""
    assert svc.process is not None
    found = []
    for child in psutil.Process(svc.process.pid).children(recursive=True):
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == svc.port
                   for c in child.net_connections(kind="tcp")):
                found.append(child)
        except psutil.Error:
            pass
    return found


def both_workers_started(svc: ServiceProcess, directory: Path | None = None,
                         timeout: float = 15.0) -> list[psutil.Process]:
    """The two workers, once each has built its app (its metric files exist): ready means
    one worker answers; the other may still be starting."""
    deadline = time.monotonic() + timeout
    while True:
        workers = workers_of(svc)
        if len(workers) == 2:
            folder = directory or Path(workers[0].environ()[MULTIPROC_ENV])
            expected = {f"counter_{w.pid}.db" for w in workers}
            files = {p.name for p in folder.iterdir()}
            if expected <= files:
                return workers
        assert time.monotonic() < deadline, (workers, directory)
        time.sleep(0.2)


def sockets_held(process: psutil.Process, port: int) -> int:
    try:
        return sum(1 for c in process.net_connections(kind="tcp")
                   if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port)
    except psutil.Error:
        return 0


async def wait_for_metric(svc: ServiceProcess, name: str, expected: float,
                          timeout: float = 15.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        values = await asyncio.to_thread(scrape, svc.base_url)
        if values.get(name) == expected or time.monotonic() > deadline:
            assert values.get(name) == expected, (name, values.get(name), expected)
            return values
        await asyncio.sleep(0.2)


async def open_until_both_workers_hold_some(
        svc: ServiceProcess, token: str, workers: list[psutil.Process],
        stack: AsyncExitStack) -> list[ClientConnection]:
    sockets: list[ClientConnection] = []
    while len(sockets) < MAX_SOCKETS:
        ws = await stack.enter_async_context(connect(f"{svc.ws_url}?token={token}"))
        assert (await recv_json(ws))["type"] == "hello"
        sockets.append(ws)
        held = [sockets_held(w, svc.port) for w in workers]
        if len(sockets) >= 8 and min(held) >= 2:
            return sockets
    raise AssertionError(f"the sockets did not land on both workers: {held}")


async def test_a_scrape_of_either_worker_reports_the_sum_over_both(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Open sockets and delivered messages scraped from one worker are the totals over both;
    a SIGKILLed worker's sockets stop counting, its counters do not go backwards; the
    private directory is gone when the service exits."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "actor")
    post = add_post(conn, owner)
    with running_service(database_url, workers=2) as svc:
        workers = both_workers_started(svc)
        directory = Path(workers[0].environ()[MULTIPROC_ENV])
        assert directory.is_dir() and workers[1].environ()[MULTIPROC_ENV] == str(directory)
        assert MULTIPROC_ENV not in os.environ  # made by `serve`, not inherited from here
        async with AsyncExitStack() as stack:
            sockets = await open_until_both_workers_hold_some(
                svc, make_token(owner, svc.secret), workers, stack)
            total = len(sockets)
            held = [sockets_held(w, svc.port) for w in workers]
            assert sum(held) == total and max(held) < total, held
            await wait_for_metric(svc, "notifications_ws_open_sockets", total)
            # Every scrape is a new connection that either worker may accept.
            for _ in range(20):
                values = await asyncio.to_thread(scrape, svc.base_url)
                assert values["notifications_ws_open_sockets"] == total, (values, held)
                assert values["notifications_listener_connected"] == 1  # both listen
                assert values["notifications_sequencer_leading"] == 1  # one leads
            assert values["notifications_ws_messages_delivered_total"] == 0

            react(conn, post, actor)
            for ws in sockets:
                assert (await recv_json(ws, timeout=10))["position"] == 1
            values = await wait_for_metric(svc, "notifications_ws_messages_delivered_total", total)
            assert values["notifications_delivery_lag_seconds_count"] == total
            assert values['notifications_delivery_lag_seconds_bucket{le="+Inf"}'] == total

            victim = max(workers, key=lambda w: sockets_held(w, svc.port))
            survivors = total - sockets_held(victim, svc.port)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            values = await wait_for_metric(svc, "notifications_ws_open_sockets", survivors)
            assert values["notifications_ws_messages_delivered_total"] == total, values
        svc.stop()
    assert not directory.exists(), sorted(p.name for p in directory.iterdir())


async def test_an_operators_multiprocess_directory_is_wiped_at_start_and_kept(
        database_url: str, tmp_path: Path) -> None:
    """PROMETHEUS_MULTIPROC_DIR set by the operator is used as given: a previous run's
    samples left in it are dropped at start, not added, and the directory stays."""
    given = tmp_path / "metrics"
    given.mkdir()
    stale = MmapedDict(str(given / "counter_99999.db"))
    stale.write_value(mmap_key("notifications_ws_replays", "notifications_ws_replays_total",
                               [], [], "Sockets that resumed with `since` and got a replay."),
                      1000.0, 0.0)
    stale.close()
    with running_service(database_url, workers=2, env={MULTIPROC_ENV: str(given)}) as svc:
        assert scrape(svc.base_url)["notifications_ws_replays_total"] == 0
        assert not (given / "counter_99999.db").exists()
        both_workers_started(svc, given)  # their files, in the operator's directory
        svc.stop()
    assert given.is_dir()
