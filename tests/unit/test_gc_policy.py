"""The garbage-collector policy freezes survivors and its full pass reclaims frozen cycles."""

from __future__ import annotations

import asyncio
import gc
import weakref

from service.gc_policy import freeze_tracked, full_pass, full_pass_due, run_gc_policy_forever
from service.metrics import Metrics


def passes(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value("notifications_gc_full_passes_total")


class Node:
    """A cycle of these is garbage only the cyclic collector can free."""

    def __init__(self) -> None:
        self.other: Node | None = None


def test_a_cycle_frozen_while_alive_is_freed_by_the_full_pass_only() -> None:
    metrics = Metrics()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        freeze_tracked()
        assert gc.get_freeze_count() > 0
        del a, b
        gc.collect()  # a frozen cycle is invisible to ordinary collections
        assert gone() is not None
        pause = full_pass(metrics)
        assert gone() is None
        assert passes(metrics) == 1
        assert metrics.registry.get_sample_value("notifications_gc_last_full_pass_seconds") == pause >= 0
    finally:
        gc.unfreeze()


def test_garbage_frozen_at_a_freeze_is_reclaimed_by_the_full_pass() -> None:
    """A cycle already unreachable when frozen escapes ordinary collections until the full pass."""
    gc.disable()  # no automatic collection may free it first
    metrics = Metrics()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        freeze_tracked()
        gc.collect()
        assert gone() is not None
        full_pass(metrics)
        assert gone() is None
    finally:
        gc.enable()
        gc.unfreeze()


def test_the_policy_task_freezes_on_its_interval_and_unfreezes_when_cancelled() -> None:
    metrics = Metrics()

    async def main() -> tuple[int, int]:
        gc.unfreeze()
        task = asyncio.create_task(run_gc_policy_forever(0.05, 0.12, metrics, lambda: (0, 10)))
        await asyncio.sleep(0.3)
        frozen = gc.get_freeze_count()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return frozen, gc.get_freeze_count()

    frozen_while_running, frozen_after = asyncio.run(main())
    assert frozen_while_running > 0
    assert passes(metrics) >= 1  # 0.3 s at a 0.12 s full interval
    assert frozen_after == 0


def test_socket_churn_brings_the_full_pass_forward() -> None:
    """A quarter of the open sockets closed (at least 100) triggers the full pass early."""
    assert not full_pass_due(99, 10)
    assert full_pass_due(100, 10)
    assert not full_pass_due(2_499, 10_000)
    assert full_pass_due(2_500, 10_000)
    metrics = Metrics()
    closed = [0]

    async def main() -> None:
        gc.unfreeze()
        task = asyncio.create_task(run_gc_policy_forever(0.05, 3600, metrics,
                                                         lambda: (closed[0], 1_000)))
        await asyncio.sleep(0.2)
        assert passes(metrics) == 0  # no churn, long interval
        closed[0] = 250
        await asyncio.sleep(0.2)
        assert passes(metrics) == 1  # once, then counted from there
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
