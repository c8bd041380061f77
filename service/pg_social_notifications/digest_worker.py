"""Sending the email digests: when each is due, and never one notification twice.

Every instance with NOTIFICATIONS_SMTP_URL and NOTIFICATIONS_PUBLIC_URL runs
`run_digests_forever`; a session advisory lock (as retention's) lets one at a time
do a round. For each candidate (db/queries/digest_candidates.sql) that `is_due`,
in one transaction: the user's notification_digests row is created if missing and
locked (FOR UPDATE), the digest built from the notifications past its covered_seq,
handed to the SMTP server, and only once the server accepted it covered_seq and
last_sent_at advance and the transaction commits. A second sender waits on the row
and then finds nothing new. The crash window: a process that dies (or loses the
database) after the server accepted the message and before the COMMIT leaves the mark
where it was, so those notifications go once more in the next digest. One repeat at
worst, never a loss.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from pg_social_notifications.digests import build_message, load_groups
from pg_social_notifications.insights import note_sent
from pg_social_notifications.metrics import Metrics
from pg_social_notifications.open_tokens import make_open_token
from pg_social_notifications.queries import sql
from pg_social_notifications.quiet_hours import in_quiet_hours, user_zone
from pg_social_notifications.reconnect import log_round_failure
from pg_social_notifications.settings import Settings
from pg_social_notifications.unsubscribe_tokens import make_token

log = logging.getLogger(__name__)

# An arbitrary constant shared by every instance: "notifications digests".
DIGEST_LOCK_KEY = 0x6E6F7469_64696765
SMTP_TIMEOUT = 30.0


def is_due(*, schedule: str, time_zone: str, quiet_start: time | None, quiet_end: time | None,
           snoozed_until: datetime | None, last_sent_at: datetime | None, now: datetime,
           digest_hour: int) -> bool:
    """Daily: once the user's local clock has reached `digest_hour` on a local day after
    the last digest's; weekly: on the seventh local day after it or later. Never off,
    snoozed or in quiet hours."""
    if schedule not in ("daily", "weekly"):
        return False
    if snoozed_until is not None and now < snoozed_until:
        return False
    tz = user_zone(time_zone)
    local = now.astimezone(tz)
    if in_quiet_hours(local.time().replace(tzinfo=None), quiet_start, quiet_end):
        return False
    if local.hour < digest_hour:
        return False
    if last_sent_at is None:
        return True
    days = (local.date() - last_sent_at.astimezone(tz).date()).days
    return days >= (1 if schedule == "daily" else 7)


@dataclass(frozen=True)
class Smtp:
    hostname: str
    port: int
    use_tls: bool
    start_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> Smtp:
        parts = urlsplit(url)
        tls = parts.scheme == "smtps"
        return cls(hostname=parts.hostname or "localhost",
                   port=parts.port or (465 if tls else 25), use_tls=tls,
                   start_tls=parts.scheme == "smtp+starttls",
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)

    def client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(hostname=self.hostname, port=self.port, use_tls=self.use_tls,
                               start_tls=True if self.start_tls else False if not self.use_tls
                               else None, username=self.username, password=self.password,
                               timeout=SMTP_TIMEOUT)


async def send_one(conn: AsyncConnection[Any], smtp: aiosmtplib.SMTP, settings: Settings,
                   user_id: int, metrics: Metrics | None, *, now_mode: bool) -> bool:
    """The user's digest, if there is one to send: True when the server accepted it."""
    assert settings.jwt_secret is not None
    async with conn.transaction():
        await conn.execute(sql("digest_ensure_mark"), {"user_id": user_id})
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql("digest_lock_mark"), {"user_id": user_id})
            mark = await cur.fetchone()
        if mark is None or not mark["email_verified"] or not mark["email"]:
            return False
        if mark["digest_schedule"] == "off":
            return False
        if mark["snoozed_until"] is not None and mark["snoozed_until"] > datetime.now(UTC):
            return False  # snoozed: not even `digest --now`
        if not now_mode and mark["last_sent_at"] is not None and \
                datetime.now(UTC) - mark["last_sent_at"] < timedelta(hours=1):
            return False  # another sender just sent it
        groups = await load_groups(conn, user_id, mark["covered_seq"])
        if not groups:
            return False
        secret = settings.jwt_secret
        digest = build_message(
            groups, to=mark["email"], sender=settings.email_from, public_url=settings.public_url,
            unsubscribe_token=make_token(secret, user_id),
            # A group's link stands for its newest notification (insights count it once).
            open_token=lambda group: make_open_token(secret, group.notification_ids[0], user_id, "email"))
        try:
            await smtp.send_message(digest.message)
        except (aiosmtplib.SMTPException, OSError):
            if metrics is not None:
                metrics.digest_emails_failed.inc()
            raise
        # Accepted: from here to the COMMIT is the crash window (one repeat at worst).
        await conn.execute(sql("digest_advance_mark"),
                           {"user_id": user_id, "covered_seq": digest.covered_seq})
        await note_sent(conn, settings, user_id, [g.group.notification_ids[0] for g in groups], "email")
    if metrics is not None:
        metrics.digest_emails_sent.inc()
    return True


async def send_digests(settings: Settings, database_url: str, metrics: Metrics | None = None,
                       *, now_mode: bool = False, now: datetime | None = None) -> int:
    """One round: the digests that are due (with `now_mode`, every one there is something
    for, ignoring the schedule's hour, day and quiet hours), sent. Returns how many."""
    smtp_settings = Smtp.from_url(settings.smtp_url)
    sent = 0
    async with await AsyncConnection.connect(database_url, autocommit=True,
                                             application_name="notifications-digests") as conn:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql("digest_candidates"))
            candidates = await cur.fetchall()
        moment = now or datetime.now(UTC)
        due = [c["user_id"] for c in candidates if now_mode or is_due(
            schedule=c["digest_schedule"], time_zone=c["time_zone"],
            quiet_start=c["quiet_hours_start"], quiet_end=c["quiet_hours_end"],
            snoozed_until=c["snoozed_until"], last_sent_at=c["last_sent_at"], now=moment,
            digest_hour=settings.digest_hour)]
        if not due:
            return 0
        smtp = smtp_settings.client()
        await smtp.connect()
        try:
            for user_id in due:
                try:
                    if await send_one(conn, smtp, settings, user_id, metrics,
                                      now_mode=now_mode):
                        sent += 1
                except aiosmtplib.SMTPRecipientsRefused:
                    log.warning("digest for user %s: the SMTP server refused the address",
                                user_id)
                    await conn.execute(sql("digest_refused"), {"user_id": user_id})
                except aiosmtplib.SMTPResponseException as exc:
                    if not smtp.is_connected:
                        raise
                    if exc.code >= 500:  # for good: not again before the next period
                        log.warning("digest for user %s refused: %s", user_id, exc)
                        await conn.execute(sql("digest_refused"), {"user_id": user_id})
                    else:  # 4xx: the next round tries again
                        log.warning("digest for user %s deferred: %s", user_id, exc)
        finally:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except aiosmtplib.SMTPException:
                    smtp.close()
    return sent


async def run_digest_round(settings: Settings, database_url: str, metrics: Metrics) -> int | None:
    """A round if no other instance is in one (None when it is)."""
    async with await AsyncConnection.connect(database_url, autocommit=True,
                                             application_name="notifications-digest-lock") as lock:
        row = await (await lock.execute(sql("digest_try_lock"), {"key": DIGEST_LOCK_KEY})).fetchone()
        if row is None or not row[0]:
            return None
        try:
            return await send_digests(settings, database_url, metrics)
        finally:
            await lock.execute(sql("digest_unlock"), {"key": DIGEST_LOCK_KEY})


async def run_digests_forever(settings: Settings, database_url: str, metrics: Metrics) -> None:
    while True:
        # Jitter keeps several instances started together from all waking at once.
        await asyncio.sleep(settings.digest_interval * random.uniform(1.0, 1.2))
        try:
            sent = await run_digest_round(settings, database_url, metrics)
            if sent:
                log.info("digests: %s sent", sent)
        except Exception:
            log_round_failure(log, "digest round")
