"""How the service's connections to PostgreSQL find out that a path failed and come
back: the options every one of them connects with (the pool's, the LISTEN loop's, the
sequencer's), one backoff for the long-lived ones, and how the periodic rounds (retention,
digests, insight) report a round the database's absence failed."""

from __future__ import annotations

import logging
import random
import sys
from typing import Any

import psycopg


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


def log_round_failure(log: logging.Logger, what: str) -> None:
    """Call from an `except` block of a periodic round. A lost database is an outage that
    /health/ready reports, not a bug: one warning line. Anything else is a bug: traceback."""
    exc = sys.exc_info()[1]
    if isinstance(exc, (psycopg.OperationalError, OSError)):
        log.warning("%s: the database is unavailable (%s); trying again at the next interval",
                    what, type(exc).__name__)
    else:
        log.exception("%s failed; trying again at the next interval", what)
