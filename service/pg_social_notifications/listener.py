"""The one LISTEN connection of this process.

It only learns *which* users changed: the sequencer (sequencer.py)
announces each batch with the ids of the users whose stream moved, never
trusted for content; `Hub.sync` then reads their changes from
notification_events. After every (re)connect it resynchronises every
connected user, so whatever was committed while it was away still arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

import psycopg

from pg_social_notifications import store
from pg_social_notifications.metrics import Metrics
from pg_social_notifications.queries import sql
from pg_social_notifications.reconnect import MAX_DELAY, connect_options, reconnect_delay

log = logging.getLogger(__name__)


class Listener:
    """LISTEN on a dedicated autocommit connection; wake `sync` with batches of user ids."""

    def __init__(self, database_url: str, sync: Callable[[Iterable[int]], Awaitable[None]],
                 connected_users: Callable[[], list[int]], metrics: Metrics, *,
                 probe_interval: float = 10.0, probe_timeout: float = 5.0,
                 max_backoff: float = MAX_DELAY) -> None:
        self._url = database_url
        self._sync = sync
        self._connected_users = connected_users
        self._metrics = metrics
        self._probe_interval = probe_interval
        self._probe_timeout = probe_timeout
        self._max_backoff = max_backoff
        self._pending: set[int] = set()
        self._wake = asyncio.Event()
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting with capped, jittered backoff."""
        dispatcher = asyncio.create_task(self._dispatch(), name="notifications-dispatch")
        failures = 0
        try:
            while True:
                try:
                    async with await psycopg.AsyncConnection.connect(
                        self._url, autocommit=True, application_name="notifications-listener",
                        **connect_options(self._probe_timeout),
                    ) as conn:
                        await conn.execute(sql("listen_notifications"))
                        if failures:
                            self._metrics.listener_reconnects.inc()
                            log.info("LISTEN connection re-established")
                        failures = 0
                        self._set_connected(True)
                        # Anything committed while we were not listening: catch up now.
                        self.wake(self._connected_users())
                        await self._listen(conn)
                except (psycopg.Error, OSError) as exc:
                    self._set_connected(False)
                    failures += 1
                    delay = reconnect_delay(failures, self._max_backoff)
                    log.warning("LISTEN connection lost (%s); retrying in %.2fs",
                                type(exc).__name__, delay)
                    await asyncio.sleep(delay)
        finally:
            self._set_connected(False)
            dispatcher.cancel()
            await asyncio.gather(dispatcher, return_exceptions=True)

    async def _listen(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        while True:
            heard = False
            async for notify in conn.notifies(timeout=self._probe_interval):
                heard = True
                try:
                    self.wake([int(u) for u in notify.payload.split(",")])
                except ValueError:
                    log.warning("ignored a notification whose payload is not user ids")
            if not heard:
                # Idle: make sure the connection is still alive. A silent network path
                # (a partition, a dead NAT entry) would leave the probe waiting for
                # the kernel's retransmissions, a quarter of an hour: bound it.
                try:
                    async with asyncio.timeout(self._probe_timeout):  # not wait_for: see
                        await conn.execute(sql("health_check"))  # Sequencer._fetch
                except TimeoutError as exc:
                    raise psycopg.OperationalError(
                        f"LISTEN connection did not answer its probe in {self._probe_timeout:g}s"
                    ) from exc

    def wake(self, user_ids: Iterable[int]) -> None:
        """Queue users for the dispatcher (also used after reconnect)."""
        self._pending.update(user_ids)
        if self._pending:
            self._wake.set()

    async def _dispatch(self) -> None:
        """Deliver the users woken so far in one batch; wakeups that arrive meanwhile wait."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            users, self._pending = self._pending, set()
            try:
                await self._sync(users)
            except (psycopg.Error, OSError, store.DatabaseUnavailable) as exc:
                # The database is away: put them back; retried in a second and after reconnect.
                log.warning("fan-out to %d user(s) failed (%s); will retry",
                            len(users), type(exc).__name__)
                self._pending.update(users)
                await asyncio.sleep(1.0)
                self._wake.set()
            except Exception:
                log.exception("fan-out failed for %d user(s); will retry", len(users))
                self._pending.update(users)
                await asyncio.sleep(1.0)
                self._wake.set()

    def _set_connected(self, value: bool) -> None:
        if value:
            self.connected.set()
        else:
            self.connected.clear()
        self._metrics.listener_connected.set(1 if value else 0)
