"""The garbage-collector policy freezes survivors and its full pass reclaims frozen cycles."""

from __future__ import annotations

import asyncio
import gc
import weakref

from service.gc_policy import freeze_survivors, full_pass, run_gc_policy_forever
from service.metrics import Metrics


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
        freeze_survivors()
        assert gc.get_freeze_count() > 0
        del a, b
        gc.collect()  # a frozen cycle is invisible to ordinary collections
        assert gone() is not None
        pause = full_pass(metrics)
        assert gone() is None
        assert metrics.gc_full_passes.value == 1
        assert metrics.gc_full_pass_seconds.value == pause >= 0
    finally:
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
    assert metrics.gc_full_passes.value >= 1  # 0.3 s at a 0.12 s full interval
    assert frozen_after == 0
