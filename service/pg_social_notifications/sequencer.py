"""The sequencer: after host transactions commit, number their changes and announce them.

Host triggers only append (db/triggers/). One service instance per database,
the one holding a session-level advisory lock, calls `notification_sequence()`
in a loop on a dedicated connection: each call applies the hosts' requests
(retractions, edits), gives every committed change the next position of its
user's stream, and sends one `pg_notify('notifications_v2', '<user ids>')`
per batch. Every other instance retries the lock every `standby_interval`
seconds, so one takes over within seconds when the leader dies; a leader that
stops on purpose (a restart, a deploy) unlocks and says so on the channel
`notifications_sequencer`, and a standby takes over at once.

A leader whose network path goes silent (a partition: no reset, no close)
must not keep the lock: each batch must answer within `timeout` or this
process reconnects, and the server ends the session on its side once it has
been idle (or unable to send) that long, which releases the lock for
whichever instance asks next, this one included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import LiteralString

import psycopg

from pg_social_notifications.metrics import Metrics
from pg_social_notifications.queries import sql
from pg_social_notifications.reconnect import MAX_DELAY, connect_options, reconnect_delay

log = logging.getLogger(__name__)

BATCH_ROWS = 5000


class Sequencer:
    """Leads while it holds the lock; polls for committed changes every `poll_interval`."""

    def __init__(self, database_url: str, metrics: Metrics, *, poll_interval: float = 0.005,
                 standby_interval: float = 2.0, timeout: float = 10.0,
                 max_backoff: float = MAX_DELAY) -> None:
        self._url = database_url
        self._timeout = timeout
        self._metrics = metrics
        self._poll_interval = poll_interval
        self._standby_interval = standby_interval
        self._max_backoff = max_backoff

    async def run(self) -> None:
        """Until cancelled: take the lead when free, sequence while leading, reconnect on failure."""
        failures = 0
        try:
            while True:
                try:
                    async with await psycopg.AsyncConnection.connect(
                        self._url, autocommit=True, application_name="notifications-sequencer",
                        options=self._session_options(),
                        **connect_options(self._timeout),
                    ) as conn:
                        failures = 0
                        await self._wait_for_lead(conn)
                        log.info("this process is now the sequencer")
                        self._set_leading(True)
                        try:
                            await self._sequence(conn)
                        except asyncio.CancelledError:
                            await self._hand_over(conn)
                            raise
                except (psycopg.Error, OSError) as exc:
                    self._set_leading(False)
                    failures += 1
                    delay = reconnect_delay(failures, self._max_backoff)
                    log.warning("sequencer connection lost (%s); retrying in %.2fs",
                                type(exc).__name__, delay)
                    await asyncio.sleep(delay)
        finally:
            self._set_leading(False)

    def _session_options(self) -> str:
        ms = int(self._timeout * 1000)
        return " ".join((
            # Never queue for long behind a lock (a DBA's open transaction): give up,
            # and the same changes go in the next batch.
            "-c lock_timeout=2000",
            f"-c statement_timeout={ms}",
            # The server's side of a silent path: a session idle this long (its
            # client gone quiet) or unable to deliver bytes ends, and with it the lock.
            f"-c idle_session_timeout={ms}",
            f"-c tcp_user_timeout={ms}",
        ))

    async def _fetch(self, conn: psycopg.AsyncConnection[tuple[object, ...]], query: LiteralString,
                     params: dict[str, object] | None = None) -> tuple[object, ...] | None:
        """One round trip, bounded: a silent path raises instead of waiting on TCP.

        `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` swallows a
        cancellation that lands as the round trip completes, and the sequencer then
        never stopped at shutdown (measured: 50 s to exit with 10k sockets).
        """
        try:
            async with asyncio.timeout(self._timeout):
                return await (await conn.execute(query, params)).fetchone()
        except TimeoutError as exc:
            raise psycopg.OperationalError(
                f"sequencer connection did not answer in {self._timeout:g}s") from exc

    async def _wait_for_lead(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        await conn.execute(sql("sequencer_listen"))
        while True:
            row = await self._fetch(conn, sql("sequencer_try_lead"))
            if row is not None and row[0]:
                await conn.execute(sql("sequencer_unlisten"))
                return
            # Until the leader hands over, or the next retry (a leader that died says
            # nothing; its session's end frees the lock).
            async for _ in conn.notifies(
                    timeout=self._standby_interval * random.uniform(0.75, 1.25), stop_after=1):
                break

    async def _hand_over(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        """Free the lead now and tell the standbys (best effort: closing the session
        frees it anyway, and a standby then takes it at its next retry)."""
        self._set_leading(False)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await conn.execute(sql("sequencer_hand_over"))

    async def _sequence(self, conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        while True:
            started = time.perf_counter()
            try:
                row = await self._fetch(conn, sql("sequence_batch"), {"max_rows": BATCH_ROWS})
            except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable) as exc:
                # Our batch met one of the service's own short writers (mark-read):
                # nothing was taken, the same changes wait for the next batch.
                log.info("sequencer batch retried after %s", type(exc).__name__)
                await asyncio.sleep(self._poll_interval)
                continue
            taken = int(str(row[0])) if row is not None and row[0] is not None else 0
            if taken:
                self._metrics.sequencer_rows.inc(taken)
                self._metrics.sequencer_batch_seconds.observe(time.perf_counter() - started)
            if taken < BATCH_ROWS:
                # Caught up: wait a little for more commits (a full batch goes again at once).
                await asyncio.sleep(self._poll_interval)

    def _set_leading(self, value: bool) -> None:
        self._metrics.sequencer_leading.set(1 if value else 0)
