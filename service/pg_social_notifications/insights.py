"""Insight: what notifications do once delivered, off every path that matters.

Nothing here runs in a host transaction or on the delivery path. The follower reads the
replay log the sequencer already writes (notification_events: 'created' and 'read') and
turns it into one notification_insights row per notification: its kind, the user's A/B
variant, and when it was read. Each run reads the events stamped after the last run's
end and up to NOTIFICATIONS_INSIGHTS_SETTLE seconds (10) before the database's now: a
sequencer batch stamps its events with its transaction's start and may commit a moment
later (after waiting for the sequencer lock), so the newest seconds are left for the next
run. Each event is read once, in small steps (every NOTIFICATIONS_INSIGHTS_INTERVAL
seconds), so the work never comes in bursts. The push and digest workers note what they
sent (`note_sent`), the open endpoints what was opened (`note_opened`). Reports read only
that table: `report()` for `notifications stats` and the operators' page.

The A/B variant of a user is the same every time (`variant_for`, and in SQL
notification_ab_variant()): the first 32 bits of md5('<experiment>:<user id>') modulo the
number of variants.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
import psycopg
from psycopg.rows import dict_row

from pg_social_notifications.queries import sql
from pg_social_notifications.reconnect import connect_options, log_round_failure
from pg_social_notifications.settings import Settings

log = logging.getLogger(__name__)

INSIGHTS_LOCK_KEY = 0x6E6F7469_696E7369  # "notiinsi": one follower at a time
Z_95 = 1.959964  # two-sided 95 %
CHANNELS = ("in_app", "push", "email")

AConn = psycopg.AsyncConnection[Any]


def variant_for(settings: Settings, user_id: int) -> str | None:
    """The user's variant in the configured experiment (None without one)."""
    variants = settings.experiment_variants
    if not variants:
        return None
    digest = hashlib.md5(f"{settings.experiment}:{user_id}".encode(), usedforsecurity=False)
    return variants[int(digest.hexdigest()[:8], 16) % len(variants)]


def experiment_params(settings: Settings) -> dict[str, Any]:
    return {"experiment": settings.experiment, "variants": list(settings.experiment_variants)}


# ---- recording ------------------------------------------------------------------------------


class Followed(msgspec.Struct, frozen=True):
    created: int = 0
    read: int = 0
    skipped: bool = False  # another instance holds the follower's lock


async def follow_once(conn: AConn, settings: Settings, *, now: datetime | None = None) -> Followed:
    """Read the replay log from the last mark to `insights_settle` before now into insight rows, in
    one transaction under the follower's lock. Idempotent: rows read twice change nothing."""
    async with conn.transaction():
        locked = await (await conn.execute(sql("insights_try_lock"), {"key": INSIGHTS_LOCK_KEY})).fetchone()
        if not locked or not locked[0]:
            return Followed(skipped=True)
        row = await (await conn.execute(sql("insights_mark"))).fetchone()
        assert row is not None
        mark: datetime | None = row[0]
        # The database's clock stamped the events. A sequencer batch commits within
        # milliseconds of its now() (at worst one other batch later, after waiting for the
        # lock): the newest seconds are left for the next run.
        until: datetime = (now or row[1]) - timedelta(seconds=settings.insights_settle)
        # The first run starts as far back as the replay log is kept.
        since = mark if mark else until - timedelta(days=settings.event_retention_days)
        if since >= until:
            return Followed()
        params = {**experiment_params(settings), "since": since, "until": until}
        created = (await conn.execute(sql("insights_follow_created"), params)).rowcount
        # After the inserts, in the same transaction: a notification read in the same
        # window as it was created already has its row.
        read = (await conn.execute(sql("insights_follow_read"), params)).rowcount
        await conn.execute(sql("insights_set_mark"), {"until": until})
    return Followed(max(created, 0), max(read, 0))


async def note_sent(conn: AConn, settings: Settings, user_id: int, ids: list[uuid.UUID],
                    channel: str) -> None:
    """These notifications of the user went out as a push or in a digest, now."""
    if ids:
        await conn.execute(sql("insights_noted"), {
            **experiment_params(settings), "user_id": user_id, "ids": ids, "channel": channel})


class OpenResult(msgspec.Struct, frozen=True):
    found: bool  # the notification exists and is the user's
    content_url: str | None = None  # where its link goes (a digest's redirect)


async def note_opened(conn: AConn, settings: Settings, user_id: int, notification_id: uuid.UUID,
                      channel: str) -> OpenResult:
    """The user opened the notification through `channel` (only the first open counts)."""
    cur = await conn.execute(sql("insights_opened"), {
        **experiment_params(settings), "user_id": user_id, "id": notification_id, "channel": channel})
    row = await cur.fetchone()
    return OpenResult(False) if row is None else OpenResult(True, row[1])


async def run_insights_forever(settings: Settings, database_url: str) -> None:
    """Every instance runs it; the lock lets one follow at a time."""
    await asyncio.sleep(settings.insights_interval * random.uniform(0.2, 1.0))
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                    database_url, autocommit=True, application_name="notifications-insights",
                    **connect_options(10.0)) as conn:
                result = await follow_once(conn, settings)
            if result.created or result.read:
                log.debug("insights: %d created, %d read", result.created, result.read)
        except Exception:
            log_round_failure(log, "insight follower")
        await asyncio.sleep(settings.insights_interval)


# ---- reports --------------------------------------------------------------------------------


class ChannelStats(msgspec.Struct, kw_only=True):
    kind: str
    channel: str
    delivered: int
    opened: int
    open_rate: float | None
    median_seconds_to_open: float | None
    median_seconds_to_read: float | None


class VariantStats(msgspec.Struct, kw_only=True):
    """One variant's open rate on one channel, with its 95 % Wilson interval, and its
    difference from the control (the first variant) with a 95 % interval (normal
    approximation; None for the control itself)."""

    variant: str
    channel: str
    delivered: int
    opened: int
    open_rate: float | None
    open_rate_low: float | None
    open_rate_high: float | None
    difference: float | None = None
    difference_low: float | None = None
    difference_high: float | None = None


class DailyStats(msgspec.Struct, kw_only=True):
    day: str  # YYYY-MM-DD, UTC
    channel: str
    delivered: int
    opened: int


class InsightReport(msgspec.Struct, kw_only=True):
    since: datetime
    until: datetime
    experiment: str | None
    channels: list[ChannelStats]
    variants: list[VariantStats]
    daily: list[DailyStats]


def wilson(opened: int, delivered: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of opened / delivered (sound at small counts and at 0 %)."""
    if delivered <= 0:
        return None
    p = opened / delivered
    denominator = 1 + z * z / delivered
    centre = (p + z * z / (2 * delivered)) / denominator
    half = z * math.sqrt(p * (1 - p) / delivered + z * z / (4 * delivered * delivered)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def difference(a: tuple[int, int], b: tuple[int, int], z: float = Z_95
               ) -> tuple[float, float, float] | None:
    """(rate b - rate a, low, high): the 95 % interval of the difference of two open rates
    (opened, delivered), by the normal approximation."""
    (opened_a, n_a), (opened_b, n_b) = a, b
    if n_a <= 0 or n_b <= 0:
        return None
    p_a, p_b = opened_a / n_a, opened_b / n_b
    half = z * math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    return p_b - p_a, p_b - p_a - half, p_b - p_a + half


def _rate(opened: int, delivered: int) -> float | None:
    return opened / delivered if delivered else None


def variant_stats(rows: list[dict[str, Any]], variants: tuple[str, ...]) -> list[VariantStats]:
    """Each variant's rate per channel, compared with the control's (the first variant, or
    the first seen when the experiment's list is not given)."""
    order = list(variants) + sorted({r["variant"] for r in rows} - set(variants))
    by_key = {(r["variant"], r["channel"]): (int(r["opened"]), int(r["delivered"])) for r in rows}
    result: list[VariantStats] = []
    for channel in CHANNELS:
        present = [v for v in order if (v, channel) in by_key]
        if not present:
            continue
        control = by_key[(present[0], channel)]
        for variant in present:
            opened, delivered = by_key[(variant, channel)]
            low_high = wilson(opened, delivered)
            diff = difference(control, (opened, delivered)) if variant != present[0] else None
            result.append(VariantStats(
                variant=variant, channel=channel, delivered=delivered, opened=opened,
                open_rate=_rate(opened, delivered),
                open_rate_low=low_high[0] if low_high else None,
                open_rate_high=low_high[1] if low_high else None,
                difference=diff[0] if diff else None, difference_low=diff[1] if diff else None,
                difference_high=diff[2] if diff else None))
    return result


async def report(conn: AConn, settings: Settings, since: datetime, until: datetime) -> InsightReport:
    """Everything the stats command and the operators' page show, in one snapshot."""
    params = {"since": since, "until": until}
    async with conn.transaction():
        await conn.execute(sql("snapshot_repeatable_read"))
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql("insights_report"), params)
            channel_rows = await cur.fetchall()
            await cur.execute(sql("insights_variants"), params)
            variant_rows = await cur.fetchall()
            await cur.execute(sql("insights_daily"), params)
            daily_rows = await cur.fetchall()
    channels = [ChannelStats(
        kind=r["kind"], channel=r["channel"], delivered=int(r["delivered"]), opened=int(r["opened"]),
        open_rate=_rate(int(r["opened"]), int(r["delivered"])),
        median_seconds_to_open=r["median_seconds_to_open"],
        median_seconds_to_read=r["median_seconds_to_read"]) for r in channel_rows]
    daily = [DailyStats(day=r["day"].strftime("%Y-%m-%d"), channel=r["channel"],
                        delivered=int(r["delivered"]), opened=int(r["opened"])) for r in daily_rows]
    variants = variant_stats(variant_rows, settings.experiment_variants)
    return InsightReport(since=since, until=until, experiment=settings.experiment or None,
                         channels=channels, variants=variants, daily=daily)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def format_report(result: InsightReport) -> str:
    """The report as Markdown tables (what `notifications stats` prints)."""
    period = f"{result.since:%Y-%m-%d %H:%M} to {result.until:%Y-%m-%d %H:%M} UTC"
    lines = [f"Notifications created {period}", "",
             "| kind | channel | delivered | opened | open rate | median to open | median to read |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for c in result.channels:
        lines.append(f"| {c.kind} | {c.channel} | {c.delivered} | {c.opened} | {_percent(c.open_rate)} | "
                     f"{_duration(c.median_seconds_to_open)} | {_duration(c.median_seconds_to_read)} |")
    if not result.channels:
        lines.append("| (no notifications in this period) | | | | | | |")
    if result.variants:
        lines += ["", f"A/B test {result.experiment or '(unnamed)'}: open rate by variant, 95% intervals",
                  "", "| variant | channel | delivered | opened | open rate | interval | vs control |",
                  "|---|---|---:|---:|---:|---|---|"]
        for v in result.variants:
            interval = (f"{_percent(v.open_rate_low)}–{_percent(v.open_rate_high)}"
                        if v.open_rate_low is not None else "—")
            versus = ("control" if v.difference is None else
                      f"{100 * v.difference:+.1f} pts ({100 * (v.difference_low or 0):+.1f} to "
                      f"{100 * (v.difference_high or 0):+.1f})")
            lines.append(f"| {v.variant} | {v.channel} | {v.delivered} | {v.opened} | "
                         f"{_percent(v.open_rate)} | {interval} | {versus} |")
    return "\n".join(lines)
