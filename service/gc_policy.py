"""The garbage-collector policy of a process that holds thousands of sockets.

CPython's full (generation 2) collection walks every object it tracks. With
10,000 sockets that is about 1.7 million objects, a pause of 0.3 to 1.3 s in
which no socket gets a message and the sequencer stops. Sockets, their tasks
and the framework's objects live for minutes to hours, so every `interval`
seconds this policy moves every tracked object into the permanent generation
(`gc.freeze()`, a list splice of a few microseconds): the automatic
collections that follow walk only what is younger than the last freeze.

Nothing here walks the frozen objects (`gc.get_freeze_count()` does, a pause
as long as a full collection) or forces a collection (one before every
freeze put 300 ms pauses into delivery at 10k sockets). What escapes the
automatic collections is cyclic garbage that was frozen: mostly the objects
of a socket frozen before it closed, and the odd cycle not yet collected at
the instant of a freeze. One full pass (`gc.unfreeze()`, `gc.collect()`, then
freeze again) reclaims it, a pause of the old length, timed, logged and
counted. It runs when the sockets closed since the last one reach a quarter
of those open (CPython's own rule for a full collection, 25 % new
long-lived objects, counted in sockets), or every `full_interval` seconds.
Stable sockets thus cost one pause per `full_interval`; heavy churn brings
back CPython's own rhythm, never a leak.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

from service.metrics import Metrics

log = logging.getLogger(__name__)


def freeze_tracked() -> None:
    """Move every object the collector tracks into the permanent generation."""
    gc.freeze()


def full_pass(metrics: Metrics) -> float:
    """Unfreeze, collect everything, freeze again; returns the pause in seconds."""
    started = time.perf_counter()
    gc.unfreeze()
    freed = gc.collect()
    gc.freeze()
    pause = time.perf_counter() - started
    metrics.gc_full_passes.inc()
    metrics.gc_full_pass_seconds.set(pause)
    log.info("garbage collector: full pass freed %d objects in %.0f ms", freed, pause * 1000)
    return pause


def full_pass_due(closed_since: int, open_now: int) -> bool:
    """A quarter of the open sockets (at least 100) closed since the last full pass."""
    return closed_since >= max(100, open_now // 4)


async def run_gc_policy_forever(interval: float, full_interval: float, metrics: Metrics,
                                churn: Callable[[], tuple[int, int]]) -> None:
    """Freeze every `interval` s; a full pass instead when `churn()` (sockets closed since
    start, sockets open) says enough closed, or every `full_interval` s."""
    freeze_tracked()  # the imported modules and the app, once started
    last_full = time.monotonic()
    closed_at_full = churn()[0]
    try:
        while True:
            await asyncio.sleep(interval)
            closed, open_now = churn()
            if (time.monotonic() - last_full >= full_interval
                    or full_pass_due(closed - closed_at_full, open_now)):
                full_pass(metrics)
                last_full, closed_at_full = time.monotonic(), closed
            else:
                freeze_tracked()
    finally:
        # Another app in this process (tests build many) starts from a clean state.
        gc.unfreeze()
