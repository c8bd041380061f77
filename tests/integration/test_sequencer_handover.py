"""A sequencer stopping on purpose hands the lead over at once, not at the standby's retry."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from pg_social_notifications.metrics import Metrics
from pg_social_notifications.sequencer import Sequencer


def leading(metrics: Metrics) -> bool:
    return bool(metrics.sequencer_leading._value.get())  # type: ignore[attr-defined]


async def test_a_stopping_leader_hands_over_within_a_fraction_of_the_retry(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    first_metrics, second_metrics = Metrics(), Metrics()
    first = Sequencer(database_url, first_metrics, standby_interval=10.0)
    second = Sequencer(database_url, second_metrics, standby_interval=10.0)
    first_task = asyncio.create_task(first.run())
    while not leading(first_metrics):
        await asyncio.sleep(0.01)
    second_task = asyncio.create_task(second.run())
    await asyncio.sleep(0.5)  # the standby has tried once and now waits up to 7.5-12.5 s
    assert not leading(second_metrics)
    stopped = time.monotonic()
    first_task.cancel()
    await asyncio.gather(first_task, return_exceptions=True)
    while not leading(second_metrics):
        assert time.monotonic() - stopped < 2.0, "the standby waited for its retry"
        await asyncio.sleep(0.01)
    second_task.cancel()
    await asyncio.gather(second_task, return_exceptions=True)
