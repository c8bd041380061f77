"""Named SQL from db/queries/: Python loads queries by name and never builds SQL from input."""

from __future__ import annotations

from functools import cache
from typing import LiteralString

from pg_social_notifications.paths import QUERIES_DIR


@cache
def sql(name: str) -> LiteralString:
    """The text of db/queries/<name>.sql, read once per process."""
    path = QUERIES_DIR / f"{name}.sql"
    # The files ship with the code; they are as trusted as a string literal.
    text: LiteralString = path.read_text()  # type: ignore[assignment,unused-ignore]
    return text
