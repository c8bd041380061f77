"""How the service's connections to PostgreSQL find out that a path failed and come
back: the options every one of them connects with (the pool's, the LISTEN loop's, the
sequencer's), and one backoff for the two long-lived ones."""

from __future__ import annotations

import random
from typing import Any


def connect_options(timeout: float) -> dict[str, Any]:
    """libpq options for a connection of ours. A bounded connect: libpq waits for an
    unanswered one without limit (a dropping firewall, a hung server), and the pool,
    which adds connections one at a time, would wait with it. TCP keepalives: a path
    that went silent under an idle connection is found within 30 + 3 x 10 s instead of
    the kernel's two hours."""
    return {"connect_timeout": max(2, round(timeout)),  # libpq's minimum is 2 s
            "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
            "keepalives_count": 3}


# A short cap: one connection of each kind per process, so retrying every 1–2 s costs the
# database nothing, and the service is whole again within 2 s of its return.
MAX_DELAY = 2.0


def reconnect_delay(failures: int, cap: float = MAX_DELAY) -> float:
    """Seconds to wait after `failures` failures in a row: 0.25 s doubling per failure,
    capped at `cap`, drawn from the upper half of that (jitter: processes that lost the
    database together do not all come back at the same moment)."""
    return min(cap, 0.25 * 2.0 ** min(failures, 8)) * random.uniform(0.5, 1.0)
