"""The garbage-collector policy: young cycles collected before each freeze, survivors frozen,
an optional full pass for frozen cycles, every pause timed."""

from __future__ import annotations

import asyncio
import gc
import weakref

from pg_social_notifications.gc_policy import (
    PauseTimer,
    collect_young_then_freeze,
    freeze_tracked,
    full_pass,
    run_gc_policy_forever,
)
from pg_social_notifications.metrics import Metrics


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
        task = asyncio.create_task(run_gc_policy_forever(0.05, 0.12, metrics))
        await asyncio.sleep(0.3)
        frozen = gc.get_freeze_count()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return frozen, gc.get_freeze_count()

    frozen_while_running, frozen_after = asyncio.run(main())
    assert frozen_while_running > 0
    assert passes(metrics) >= 1  # 0.3 s at a 0.12 s full interval
    assert frozen_after == 0


def test_young_garbage_is_collected_before_a_freeze_so_none_is_frozen() -> None:
    """A cycle already unreachable at the policy's freeze is freed by it, not frozen."""
    gc.disable()  # no automatic collection may free it first
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        collect_young_then_freeze()
        assert gone() is None
    finally:
        gc.enable()
        gc.unfreeze()


def test_no_full_pass_by_default_and_every_pause_is_timed() -> None:
    """full_interval 0: never a full pass; each collection lands in the pause histogram and
    the longest in its gauge."""
    metrics = Metrics()

    async def main() -> None:
        gc.unfreeze()
        task = asyncio.create_task(run_gc_policy_forever(0.02, 0, metrics))
        await asyncio.sleep(0.3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert passes(metrics) == 0
    timed = metrics.registry.get_sample_value("notifications_gc_pause_seconds_count")
    assert timed is not None and timed >= 10  # one young collection per 0.02 s round at least
    longest = metrics.registry.get_sample_value("notifications_gc_longest_pause_seconds")
    assert longest is not None and 0 < longest < 1
    assert not any(isinstance(c, PauseTimer) for c in gc.callbacks)  # removed on exit
