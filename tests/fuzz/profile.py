"""How every fuzz test runs Hypothesis: failures stay replayable, health checks stay on.

A failing example is saved in `.test-output/hypothesis/` (ignored by git) and
replayed first by the next run of this checkout; the failure's output also
prints a `@reproduce_failure` line (`print_blob`). A failure worth keeping for
everyone is promoted by copying its directory from there into
`tests/fuzz/examples/`, which every run replays and none writes. A bug found
by fuzzing also gets its own explicit example (`@example`, or a concrete
regression test where the strategy draws interactively).

Only one health check is off, for a reason that holds for every fuzz test:
each example is a real round trip to PostgreSQL or to the service, so
`too_slow` would fire on a busy machine without saying anything about the
strategy. `data_too_large` is added where a test draws hostile strings near
their column limits on purpose, and `filter_too_much` where the strategy is
schemathesis's negative mode, which discards every drawn request that turns
out valid (an operation with nothing to invalidate then ends Unsatisfiable,
which the test checks).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    MultiplexedDatabase,
    ReadOnlyDatabase,
)

REPO = Path(__file__).resolve().parents[2]
COMMITTED_EXAMPLES = Path(__file__).resolve().parent / "examples"
LOCAL_EXAMPLES = REPO / ".test-output" / "hypothesis"

DATABASE = MultiplexedDatabase(
    ReadOnlyDatabase(DirectoryBasedExampleDatabase(COMMITTED_EXAMPLES)),
    DirectoryBasedExampleDatabase(LOCAL_EXAMPLES),
)


def fuzz(max_examples: int, *, large_data: bool = False, filtering: bool = False) -> settings:
    """Settings for one fuzz test: `max_examples`, no deadline, the example databases."""
    checks = [HealthCheck.too_slow]
    checks += [HealthCheck.data_too_large] if large_data else []
    checks += [HealthCheck.filter_too_much] if filtering else []
    return settings(max_examples=max_examples, deadline=None, database=DATABASE,
                    print_blob=True, suppress_health_check=checks)
