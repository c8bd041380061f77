"""The garbage-collector policy of a process that holds thousands of sockets.

CPython's full (generation 2) collection walks every object it tracks. With
10,000 sockets that is about 950,000 objects (88 a socket: uvicorn's, the
websockets parser's, Litestar's and ours), a pause of 0.3 to 1.9 s in which
no socket gets a message and the sequencer stops. Sockets live for minutes to
hours, so every `interval` seconds this policy collects the young generations
(what was allocated since the last round: milliseconds) and then moves every
tracked object into the permanent generation (`gc.freeze()`, a list splice of
a few microseconds). Automatic collections then walk only what is younger than
the last freeze, and never the sockets.

Frozen objects are still freed by reference counting; only a cycle that
becomes garbage after it was frozen escapes, until a full pass. A closed
socket leaves none: after 6,000 sockets opened and closed under this policy a
full collection found 0 unreachable objects and the tracked count was back to
its start (docs/BENCHMARKS.md, "Cheap sockets"). So no full pass runs by
default; `full_interval` > 0 schedules one (unfreeze, collect, freeze: a pause
of the old length, timed, logged and counted) for a host whose own plugins
might leak cycles.

Every collection's pause is timed through `gc.callbacks`, so the longest one
is visible (`notifications_gc_longest_pause_seconds`), not assumed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

from pg_social_notifications.metrics import Metrics

log = logging.getLogger(__name__)

YOUNG = 1  # gc.collect(YOUNG) collects generations 0 and 1, never the old objects


def freeze_tracked() -> None:
    """Move every object the collector tracks into the permanent generation."""
    gc.freeze()


def collect_young_then_freeze() -> None:
    """Free the young cycles first, so that no garbage is frozen, then freeze."""
    gc.collect(YOUNG)
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


class PauseTimer:
    """Times every collection (automatic or ours) into the metrics, while installed."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._started = 0.0
        self.longest = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        self._metrics.gc_pauses.observe(pause)
        if pause > self.longest:
            self.longest = pause
            self._metrics.gc_longest_pause.set(pause)

    def __enter__(self) -> PauseTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


async def run_gc_policy_forever(interval: float, full_interval: float, metrics: Metrics) -> None:
    """Collect the young and freeze every `interval` s; a full pass every `full_interval` s
    when that is above 0."""
    with PauseTimer(metrics):
        collect_young_then_freeze()  # the imported modules and the app, once started
        last_full = time.monotonic()
        try:
            while True:
                await asyncio.sleep(interval)
                if full_interval > 0 and time.monotonic() - last_full >= full_interval:
                    full_pass(metrics)
                    last_full = time.monotonic()
                else:
                    collect_young_then_freeze()
        finally:
            # Another app in this process (tests build many) starts from a clean state.
            gc.unfreeze()
