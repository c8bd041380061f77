"""Database objects through yoyo-migrations: apply, roll back, report.

Every migration runs with a `lock_timeout`: DDL on a table the host writes
queues behind the host's open transactions, and every later host write
would queue behind it. So a migration that cannot get its locks quickly
gives up, says which sessions held them, and is tried again after a pause.
Functions are created with the search_path pinned (`SET search_path FROM
CURRENT`, with pg_temp last), so they run the same in any host session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from yoyo import read_migrations
from yoyo.backends.base import DatabaseBackend
from yoyo.connections import get_backend_class, parse_uri
from yoyo.migrations import default_migration_table

from pg_social_notifications.paths import HOST_SCHEMA_FILE, MIGRATIONS_DIR
from pg_social_notifications.queries import sql

log = logging.getLogger(__name__)
T = TypeVar("T")

LOCK_TIMEOUT = "2s"  # as db/queries/migration_lock_timeout.sql sets it
LOCK_ATTEMPTS = 10
RETRY_PAUSE = 3.0


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


def prepare_session(execute: Callable[[str], Any]) -> None:
    """The session settings every migration (and the trigger-file drift test) runs with.

    pg_temp goes last in the search_path the functions capture, so a host's
    temporary table can never stand in for one of ours.
    """
    execute(sql("migration_pin_search_path"))
    execute(sql("migration_lock_timeout"))


# yoyo's bookkeeping tables live here, not among the host's tables in `public`.
BOOKKEEPING_SCHEMA = "notification_migrations"  # also in migration_bookkeeping_*.sql
YOYO_TABLES = ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock")


def _move_bookkeeping(database_url: str) -> None:
    """Create our bookkeeping schema; move yoyo's tables there from an older install."""
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(sql("migration_bookkeeping_schema"))
        for table in YOYO_TABLES:
            row = conn.execute(sql("migration_bookkeeping_table"), {"table": table}).fetchone()
            if row is not None and row[0]:
                conn.execute(psycopg.sql.SQL("ALTER TABLE {}.{} SET SCHEMA {}").format(
                    psycopg.sql.Identifier(row[0]), psycopg.sql.Identifier(table),
                    psycopg.sql.Identifier(BOOKKEEPING_SCHEMA)))


def _backend(database_url: str) -> DatabaseBackend:
    """A yoyo backend whose bookkeeping connection sees only our schema and whose
    migration connections (yoyo opens one per migration) get `prepare_session`."""
    _move_bookkeeping(database_url)
    uri = parse_uri(yoyo_url(database_url))

    class Backend(get_backend_class(uri.scheme)):  # type: ignore[misc]
        for_migrations = False

        def init_connection(self, connection: Any) -> None:
            super().init_connection(connection)
            cursor = connection.cursor()
            if self.for_migrations:
                prepare_session(cursor.execute)
            else:
                cursor.execute(sql("migration_bookkeeping_search_path"))
            connection.commit()  # session settings survive only a committed SET

        def copy(self) -> DatabaseBackend:
            migration_backend = Backend.__new__(Backend)
            migration_backend.for_migrations = True
            migration_backend.__init__(self.uri, self.migration_table)  # type: ignore[misc]
            return migration_backend

    backend: DatabaseBackend = Backend(uri, default_migration_table)
    backend.init_database()
    return backend


def _blockers(database_url: str) -> list[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [f"pid {pid} ({app}, {state}, transaction open {secs}s): {locks}"
                for pid, app, state, secs, locks in conn.execute(sql("migration_blockers"))]


def _with_lock_retries(database_url: str, step: Callable[[DatabaseBackend], T]) -> T:
    """Run `step` on a fresh backend; on a lock timeout, report the blockers and retry."""
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        backend = _backend(database_url)
        try:
            return step(backend)
        except psycopg.errors.LockNotAvailable:
            if attempt == LOCK_ATTEMPTS:
                raise
            blockers = _blockers(database_url)
            log.warning("migration waited %s for a lock and stepped back (attempt %d of %d); "
                        "held by: %s", LOCK_TIMEOUT, attempt, LOCK_ATTEMPTS,
                        "; ".join(blockers) or "nobody now")
            time.sleep(RETRY_PAUSE)
        finally:
            backend.connection.close()
    raise AssertionError("unreachable")


def apply(database_url: str) -> list[str]:
    """Apply every pending migration; returns the ids applied."""
    def step(backend: DatabaseBackend) -> list[str]:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]

    return _with_lock_retries(database_url, step)


def rollback(database_url: str, *, everything: bool = False) -> list[str]:
    """Roll back the newest applied migration, or all of them."""
    def step(backend: DatabaseBackend) -> list[str]:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            applied = backend.to_rollback(migrations)
            chosen: Sequence[Any] = applied if everything else applied[:1]
            backend.rollback_migrations(chosen)
        return [m.id for m in chosen]

    return _with_lock_retries(database_url, step)


def status(database_url: str) -> list[MigrationState]:
    backend = _backend(database_url)
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        return [MigrationState(m.id, backend.is_applied(m)) for m in migrations]
    finally:
        backend.connection.close()


def create_host_tables(database_url: str) -> None:
    """Create the host's tables (CONTRACT §1) for tests and the demo only."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(HOST_SCHEMA_FILE.read_text())
