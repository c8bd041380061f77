"""How the service's own long-lived connections (the LISTEN loop, the sequencer) come back
after a failure: one backoff for both."""

from __future__ import annotations

import random

# A short cap: one connection of each kind per process, so retrying every 1–2 s costs the
# database nothing, and the service is whole again within 2 s of its return.
MAX_DELAY = 2.0


def reconnect_delay(failures: int, cap: float = MAX_DELAY) -> float:
    """Seconds to wait after `failures` failures in a row: 0.25 s doubling per failure,
    capped at `cap`, drawn from the upper half of that (jitter: processes that lost the
    database together do not all come back at the same moment)."""
    return min(cap, 0.25 * 2.0 ** min(failures, 8)) * random.uniform(0.5, 1.0)
