"""The push worker: queued Web Pushes (notification_push_outbox) out to push services.

The sequencer queues one row per new notification and push subscription of its user
(db/triggers/notification_sequence.sql). One service instance per database, the one
holding a session-level advisory lock on its own connection, works the queue; the
others retry the lock every `standby_interval` seconds. Each round:

1. claims due rows (queued `push_delay` seconds ago or more, so an open tab or a quick
   retraction is seen first) with FOR UPDATE SKIP LOCKED, giving each an attempt and
   a lease, in one short transaction (push_claim.sql);
2. decides each (`decide`): the notification still exists (retracted: dropped), the
   subscription is still its user's, the user's push switch for its kind is on, not
   snoozed, not in quiet hours (their time zone), and no socket of the user is open in
   any instance (notification_presence, written by `run_presence_forever` in each);
3. sends it (RFC 8030 POST, RFC 8291 aes128gcm, RFC 8292 VAPID, through pywebpush, in
   a thread: it is synchronous) after the SSRF guard checked the endpoint again, never
   following a redirect, with a bounded time and response size; then
   201/202: delivered, row deleted; 404/410: subscription removed (its rows cascade);
   429/5xx/network: retried after Retry-After or an exponential backoff, up to
   MAX_ATTEMPTS; any other answer: dropped and logged.

Each (notification, subscription) is sent at most once per successful claim. The
crash window: a send the push service accepted whose row was not yet deleted (the
process died in between) is claimed again once its lease ends and sent once more;
the device collapses the two by their common Topic.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import hashlib
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
import psycopg
import requests
from psycopg.rows import dict_row
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from pg_social_notifications.insights import note_sent, variant_for
from pg_social_notifications.metrics import Metrics
from pg_social_notifications.open_tokens import make_open_token
from pg_social_notifications.push_endpoints import EndpointRefused, check_endpoint
from pg_social_notifications.queries import sql
from pg_social_notifications.quiet_hours import quiet_now
from pg_social_notifications.reconnect import connect_options, reconnect_delay
from pg_social_notifications.schemas import Notification, Preferences
from pg_social_notifications.settings import Settings
from pg_social_notifications.store import notification_from_row

log = logging.getLogger(__name__)

PUSH_LOCK_KEY = 0x6E6F7469_70757368  # "notipush"
BATCH = 100
LEASE_SECONDS = 120.0  # a claimed row another worker may take again after this
SEND_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
MAX_ATTEMPTS = 8
MAX_BACKOFF = 3600.0
PARALLEL_SENDS = 8
PRESENCE_INTERVAL = 2.0  # seconds between an instance's presence reports
PRESENCE_FRESH = 3 * PRESENCE_INTERVAL  # older reports count as gone


class Payload(msgspec.Struct, kw_only=True):
    """What a push carries: the notification; the signed token the service worker sends
    back when it is opened (insights); the user's A/B variant of the format."""

    type: str
    notification: Notification
    open_token: str | None = None
    variant: str | None = None


@dataclass(frozen=True)
class Claimed:
    notification_id: uuid.UUID
    subscription_id: int
    user_id: int
    attempts: int


def preference_kind(notification_type: str, content_type: str) -> str:
    """post_reactions, post_comments, blog_reactions or blog_comments."""
    return (("post" if content_type == "post" else "blog") + "_"
            + ("reactions" if notification_type == "reaction" else "comments"))


def decide(notification: Notification, prefs: Preferences, now: datetime, present: bool) -> str | None:
    """Why this push must not go (a metrics label), or None to send it."""
    if not getattr(prefs, "push_on_" + preference_kind(notification.notification_type,
                                                        notification.content_type)):
        return "preferences"
    if prefs.snoozed_until is not None and prefs.snoozed_until > now:
        return "snoozed"
    if quiet_now(now, prefs.time_zone, prefs.quiet_hours_start, prefs.quiet_hours_end):
        return "quiet_hours"
    if present:
        return "socket_open"
    return None


def topic_for(notification: Notification) -> str:
    """RFC 8030 Topic: 32 URL-safe base64 characters, one per content item, so a device
    keeps only the newest push about a post (and a repeat after a crash collapses)."""
    digest = hashlib.sha256(f"{notification.content_type}:{notification.content_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def backoff(attempts: int) -> float:
    return min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


class BoundedSession(requests.Session):
    """A requests session that never follows a redirect (a 3xx is the answer) and reads
    at most MAX_RESPONSE_BYTES of a response body."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        response = super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]
        try:
            body = response.raw.read(MAX_RESPONSE_BYTES, decode_content=False) or b""
        finally:
            response.close()
        response._content = body
        response._content_consumed = True
        return response


@dataclass(frozen=True)
class SendResult:
    status: int | None  # None: no answer (network error, timeout)
    retry_after: str | None
    error: str


def send_push(vapid: Vapid02, subject: str, ttl: int, endpoint: str, p256dh: str, auth: str,
              body: bytes, topic: str) -> SendResult:
    """One POST to the push service (blocking: run it in a thread)."""
    parts = urlsplit(endpoint)
    claims: dict[str, str | int] = {"sub": subject, "aud": f"{parts.scheme}://{parts.netloc}",
                                    "exp": int(time.time()) + 12 * 3600}
    with BoundedSession() as session:
        try:
            response = webpush({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                               body, vapid_private_key=vapid, vapid_claims=claims, ttl=ttl,
                               headers={"Urgency": "normal", "Topic": topic},
                               timeout=SEND_TIMEOUT, requests_session=session)
        except WebPushException as exc:
            resp = exc.response
            if resp is None:
                return SendResult(None, None, str(exc)[:200])
            return SendResult(int(resp.status_code), resp.headers.get("Retry-After"),
                              f"{resp.status_code} {resp.reason}")
        except requests.RequestException as exc:
            return SendResult(None, None, type(exc).__name__)
    status = getattr(response, "status_code", None)
    return SendResult(int(status) if status is not None else None, None, "")


class PushWorker:
    """Leads the push queue while it holds the lock (see the module's docstring)."""

    def __init__(self, settings: Settings, database_url: str, metrics: Metrics,
                 connected_users: Any, *, poll_interval: float = 0.25,
                 standby_interval: float = 2.0) -> None:
        self._settings = settings
        self._url = database_url
        self._metrics = metrics
        self._local_users = connected_users  # this process's hub: seen before presence is
        self._poll = poll_interval
        self._standby = standby_interval
        self._vapid = Vapid02.from_pem(settings.vapid_private_key.encode())
        self._sends = asyncio.Semaphore(PARALLEL_SENDS)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self._url, autocommit=True, application_name="notifications-push",
                        **connect_options(10.0)) as conn:
                    failures = 0
                    while not await self._try_lead(conn):
                        await asyncio.sleep(self._standby * random.uniform(0.75, 1.25))
                    log.info("this process is now the push worker")
                    while True:
                        if await self._round(conn) < BATCH:
                            await asyncio.sleep(self._poll)
            except (psycopg.Error, OSError) as exc:
                failures += 1
                delay = reconnect_delay(failures)
                log.warning("push worker connection lost (%s); retrying in %.2fs",
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)

    async def _try_lead(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        row = await (await conn.execute(sql("push_worker_try_lock"), {"key": PUSH_LOCK_KEY})).fetchone()
        return bool(row and row[0])

    async def _round(self, conn: psycopg.AsyncConnection[Any]) -> int:
        async with conn.transaction():
            rows = await (await conn.execute(sql("push_claim"), {
                "delay": self._settings.push_delay, "batch": BATCH, "lease": LEASE_SECONDS})).fetchall()
        claimed = [Claimed(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]
        for row in claimed:
            await self._handle(conn, row)
        return len(claimed)

    async def _handle(self, conn: psycopg.AsyncConnection[Any], row: Claimed) -> None:
        keys = {"notification_id": row.notification_id, "subscription_id": row.subscription_id}
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql("notifications_by_ids"),
                              {"ids": [row.notification_id], "user_ids": [row.user_id]})
            found = await cur.fetchone()
            await cur.execute(sql("push_subscription"), {"id": row.subscription_id, "user_id": row.user_id})
            subscription = await cur.fetchone()
            await cur.execute(sql("get_preferences"), {"user_id": row.user_id})
            prefs_row = await cur.fetchone()
        if found is None or subscription is None:
            await self._drop(conn, keys, "retracted" if found is None else "subscription_moved")
            return
        notification = notification_from_row(found)
        prefs = Preferences() if prefs_row is None else Preferences(**prefs_row)
        present = row.user_id in self._local_users() or bool((await (await conn.execute(
            sql("push_user_present"), {"user_id": row.user_id, "fresh": PRESENCE_FRESH})).fetchone() or
            (False,))[0])
        reason = decide(notification, prefs, datetime.now(UTC), present)
        if reason is not None:
            await self._drop(conn, keys, reason)
            return
        try:
            await check_endpoint(subscription["endpoint"], self._settings.push_insecure_hosts)
        except EndpointRefused as exc:
            log.warning("push subscription %d refused at send time: %s", row.subscription_id, exc)
            await conn.execute(sql("push_remove_subscription"), keys)
            self._metrics.push_subscriptions_removed.inc()
            self._metrics.push_dropped.labels("endpoint_refused").inc()
            return
        body = msgspec.json.encode(Payload(
            type="notification", notification=notification,
            # Valid for a while from the notification's time, not the send's: a retry
            # carries the very same body.
            open_token=make_open_token(self._settings.jwt_secret or "", notification.id,
                                       row.user_id, "push", now=notification.created_at.timestamp()),
            variant=variant_for(self._settings, row.user_id)))
        async with self._sends:
            result = await asyncio.to_thread(
                send_push, self._vapid, self._settings.vapid_subject, self._settings.push_ttl,
                subscription["endpoint"], subscription["p256dh"], subscription["auth"], body,
                topic_for(notification))
        await self._outcome(conn, row, keys, result)

    async def _outcome(self, conn: psycopg.AsyncConnection[Any], row: Claimed,
                       keys: dict[str, Any], result: SendResult) -> None:
        status = result.status
        if status in (200, 201, 202):
            async with conn.transaction():
                await conn.execute(sql("push_done"), keys)
                await conn.execute(sql("push_delivered"), keys)
                await note_sent(conn, self._settings, row.user_id, [row.notification_id], "push")
            self._metrics.push_sent.inc()
            return
        self._metrics.push_failed.inc()
        if status in (404, 410):
            await conn.execute(sql("push_remove_subscription"), keys)
            self._metrics.push_subscriptions_removed.inc()
            log.info("push subscription %d removed: the push service answered %d",
                     row.subscription_id, status)
            return
        if status is None or status == 429 or status >= 500:
            if row.attempts >= MAX_ATTEMPTS:
                log.warning("push of %s to subscription %d given up after %d attempts (%s)",
                            row.notification_id, row.subscription_id, row.attempts, result.error)
                await self._drop(conn, keys, "gave_up")
                return
            delay = retry_after_seconds(result.retry_after, time.time())
            delay = min(86400.0, delay) if delay is not None else backoff(row.attempts)
            await conn.execute(sql("push_reschedule"), {**keys, "delay": delay,
                                                        "error": result.error[:200]})
            self._metrics.push_retried.inc()
            return
        log.warning("push of %s to subscription %d dropped: the push service answered %s",
                    row.notification_id, row.subscription_id, result.error)
        await self._drop(conn, keys, "rejected")

    async def _drop(self, conn: psycopg.AsyncConnection[Any], keys: dict[str, Any], reason: str) -> None:
        await conn.execute(sql("push_done"), keys)
        self._metrics.push_dropped.labels(reason).inc()


async def run_presence_forever(pool: Any, connected_users: Any, instance: str) -> None:
    """Report this instance's users with an open socket every PRESENCE_INTERVAL seconds;
    remove the report when stopped."""
    try:
        while True:
            try:
                async with pool.connection() as conn:
                    await conn.execute(sql("push_presence_upsert"),
                                       {"instance": instance, "user_ids": list(connected_users())})
            except Exception as exc:
                log.info("presence report failed (%s); next in %gs", type(exc).__name__,
                         PRESENCE_INTERVAL)
            await asyncio.sleep(PRESENCE_INTERVAL)
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0), pool.connection() as conn:
                await conn.execute(sql("push_presence_delete"),
                                   {"instance": instance, "fresh": PRESENCE_FRESH})


def presence_instance() -> str:
    return f"{uuid.uuid4()}"

