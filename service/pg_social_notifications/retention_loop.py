"""Retention inside the service: shortly after start, then once every interval.

Every instance runs the loop; `service.retention.run_cleanup` takes a
PostgreSQL advisory lock and reports `skipped` when another instance holds
it, so only one deletes at a time.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import random

from pg_social_notifications.metrics import Metrics
from pg_social_notifications.reconnect import log_round_failure
from pg_social_notifications.settings import Settings

log = logging.getLogger(__name__)


async def run_retention_once(settings: Settings, database_url: str, metrics: Metrics) -> bool:
    """Run the cleanup in a thread; True when this instance did the work."""
    try:
        retention = importlib.import_module("pg_social_notifications.retention")
    except ModuleNotFoundError:
        log.warning("retention skipped: retention.py is not installed")
        return False
    result = await asyncio.to_thread(
        retention.run_cleanup, database_url, retention_days=settings.retention_days,
        event_retention_days=settings.event_retention_days,
        insight_retention_days=settings.insights_retention_days,
        batch_size=settings.cleanup_batch_size)
    if getattr(result, "skipped", False):
        log.info("retention skipped: another instance holds the lock")
        return False
    metrics.retention_runs.inc()
    log.info("retention deleted %s notifications and %s replay events",
             getattr(result, "notifications", "?"), getattr(result, "events", "?"))
    return True


async def run_retention_forever(settings: Settings, database_url: str, metrics: Metrics) -> None:
    # Jitter keeps several instances started together from all waking at once.
    delay = settings.retention_first_delay * random.uniform(1.0, 1.5)
    while True:
        await asyncio.sleep(delay)
        try:
            await run_retention_once(settings, database_url, metrics)
        except Exception:
            log_round_failure(log, "retention run")
        delay = settings.retention_interval_hours * 3600
