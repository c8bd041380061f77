"""The garbage-collector policy of a process that holds thousands of sockets.

CPython's full (generation 2) collection walks every object it tracks. With
10,000 sockets that is about 1.7 million objects, a pause of 0.3 to 1.3 s in
which no socket gets a message and the sequencer stops. Sockets, their tasks
and the framework's objects live for minutes to hours, so every
`interval` seconds this policy moves every tracked object into the permanent
generation (`gc.freeze()`, a constant-time list splice): the automatic full
collections that follow walk only what is younger than the last freeze.
Nothing here walks the frozen objects (`gc.get_freeze_count()` does, one
pause as long as a full collection) and no collection is forced, which
measured 40 to 100 ms at 10k sockets, so the policy's own pauses stay
invisible.

The price is cyclic garbage that was frozen (the objects of a socket frozen
before it closed, or a cycle not yet collected): no automatic pass sees it
again. Every
`full_interval` seconds one full pass (`gc.unfreeze()`, `gc.collect()`, then
freeze again) reclaims it: one pause of the old length, timed, logged and
counted, instead of one every few seconds under load.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

from service.metrics import Metrics

log = logging.getLogger(__name__)


def freeze_survivors() -> None:
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


async def run_gc_policy_forever(interval: float, full_interval: float, metrics: Metrics) -> None:
    """Freeze survivors every `interval` s and run a full pass every `full_interval` s."""
    freeze_survivors()  # the imported modules and the app, once started
    last_full = time.monotonic()
    try:
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - last_full >= full_interval:
                full_pass(metrics)
                last_full = time.monotonic()
            else:
                freeze_survivors()
    finally:
        # Another app in this process (tests build many) starts from a clean state.
        gc.unfreeze()
