"""Admission's arithmetic: the measured rate, refusals on arrival, turns spread at that rate."""

from __future__ import annotations

import asyncio
import re

import pytest

from pg_social_notifications.admission import RETRY_MIN_MS, Admission, Refused
from pg_social_notifications.close_codes import CLOSE_BUSY

HINT = re.compile(r"retry after (\d+) ms")


def admission(**overrides: float) -> Admission:
    settings: dict[str, float] = {"max_handshakes": 1, "wait": 0.5, "max_waiting": 10_000,
                                  "per_address": 8, "per_user": 8}
    settings.update(overrides)
    return Admission(**settings)  # type: ignore[arg-type]


async def test_the_rate_is_measured_while_sockets_wait() -> None:
    gate = admission(wait=10)

    async def one() -> None:
        async with gate.slot():
            await asyncio.sleep(0.01)  # about 100 admissions a second, one slot

    await asyncio.gather(*(one() for _ in range(120)))
    assert 50 < gate.rate < 130, gate.rate


async def test_a_socket_that_would_wait_too_long_is_refused_on_arrival_with_spread_turns() -> None:
    gate = admission(wait=0.5)
    gate.rate = 100.0  # as measured: 50 waiting sockets fill the 0.5 s budget, 51 pass it
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.slot():
            await release.wait()

    async def waiter() -> None:
        async with gate.slot():
            pass

    tasks = [asyncio.create_task(holder())]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(waiter()) for _ in range(50)]
    await asyncio.sleep(0)
    hints = []
    for _ in range(300):
        with pytest.raises(Refused) as refused:
            gate.check_arrival()
        assert refused.value.code == CLOSE_BUSY
        match = HINT.search(refused.value.reason)
        assert match
        hints.append(int(match.group(1)))
    release.set()
    await asyncio.gather(*tasks)
    # 300 turns at 100 a second, after the 0.5 s queue: spread over about 3.5 s.
    assert min(hints) >= RETRY_MIN_MS
    assert 2_500 < max(hints) < 5_000, max(hints)
    early, late = hints[:50], hints[-50:]
    assert sum(late) / 50 - sum(early) / 50 > 2_000, (early, late)


async def test_a_free_slot_is_never_refused() -> None:
    gate = admission(wait=0.0001)
    gate.rate = 1.0
    for _ in range(5):
        gate.check_arrival()
        async with gate.slot():
            pass


async def test_when_even_the_quickest_handshake_was_slow_arrivals_are_refused_for_a_window(
        ) -> None:
    gate = admission(max_handshakes=8, wait=3)
    loop = asyncio.get_running_loop()
    arrived = loop.time() - 2.0  # as if each had spent 2 s since its arrival
    for _ in range(3):
        async with gate.slot(arrived):
            pass
    await asyncio.sleep(0.55)  # the window closes with the next admission
    async with gate.slot(arrived):
        pass
    assert gate.behind
    with pytest.raises(Refused) as refused:
        gate.check_arrival()
    assert refused.value.code == CLOSE_BUSY and HINT.search(refused.value.reason)
    # No fresh evidence: the refusals end by themselves after the window.
    await asyncio.sleep(0.55)
    assert not gate.behind
    gate.check_arrival()


async def test_one_quick_handshake_in_the_window_means_not_behind() -> None:
    gate = admission(max_handshakes=8, wait=3)
    loop = asyncio.get_running_loop()
    async with gate.slot(loop.time() - 2.0):
        pass
    async with gate.slot(gate.check_arrival()):
        pass
    await asyncio.sleep(0.55)
    async with gate.slot(loop.time() - 2.0):
        pass
    assert not gate.behind


async def test_the_wait_counts_from_the_requests_arrival_in_the_kernel() -> None:
    """A socket whose request already sat `waited` seconds has only the rest of `wait`
    left; a free slot still takes it, however long it waited."""
    gate = admission(wait=1.0)
    gate.rate = 100.0
    assert gate.check_arrival(waited=5.0) <= asyncio.get_running_loop().time() - 5.0
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.slot():
            await release.wait()

    task = asyncio.create_task(holder())
    await asyncio.sleep(0)
    gate.check_arrival(waited=0.5)  # one ahead at 100 a second: 0.01 s of the 0.5 left
    with pytest.raises(Refused):
        gate.check_arrival(waited=0.995)  # 0.005 s left
    release.set()
    await task
