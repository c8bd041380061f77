"""docs/RELIABILITY.md names only tests that exist, so the list of guarantees cannot rot."""

from __future__ import annotations

import re

from devkit.servers import REPO_ROOT

DOC = REPO_ROOT / "docs" / "RELIABILITY.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def test_every_test_named_in_reliability_md_exists() -> None:
    """Each `tests/…py::test_name` (and each `::test_name` after it) in the doc is a real test."""
    missing: list[str] = []
    named = 0
    for line in DOC.read_text().splitlines():
        current: str | None = None
        for path, name in REFERENCE.findall(line):
            if path:
                current = path
                if not (REPO_ROOT / path).is_file():
                    missing.append(path)
                    continue
            if name and current:
                named += 1
                source = (REPO_ROOT / current).read_text()
                if not re.search(rf"^(async )?def {name}\(", source, re.MULTILINE):
                    missing.append(f"{current}::{name}")
    assert missing == []
    assert named >= 60
