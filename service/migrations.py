"""Database objects through yoyo-migrations: apply, roll back, report."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from yoyo import get_backend, read_migrations

from service.paths import HOST_SCHEMA_FILE, MIGRATIONS_DIR


def yoyo_url(database_url: str) -> str:
    """yoyo picks its driver from the scheme: ask for psycopg 3."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise ValueError("DATABASE_URL must start with postgresql://")
    return f"postgresql+psycopg://{rest}"


@dataclass(frozen=True)
class MigrationState:
    id: str
    applied: bool


def apply(database_url: str) -> list[str]:
    """Apply every pending migration; returns the ids applied."""
    backend = get_backend(yoyo_url(database_url))
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


def rollback(database_url: str, *, everything: bool = False) -> list[str]:
    """Roll back the newest applied migration, or all of them."""
    backend = get_backend(yoyo_url(database_url))
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            applied = backend.to_rollback(migrations)
            chosen = applied if everything else applied[:1]
            backend.rollback_migrations(chosen)
        return [m.id for m in chosen]
    finally:
        backend.connection.close()


def status(database_url: str) -> list[MigrationState]:
    backend = get_backend(yoyo_url(database_url))
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        return [MigrationState(m.id, backend.is_applied(m)) for m in migrations]
    finally:
        backend.connection.close()


def create_host_tables(database_url: str) -> None:
    """Create the host's tables (CONTRACT §1) for tests and the demo only."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(HOST_SCHEMA_FILE.read_text())
