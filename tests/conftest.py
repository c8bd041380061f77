"""Shared fixtures: one real PostgreSQL per test session, one database per test.

The server is the embedded one (a temp data dir, a free port) unless
DATABASE_URL names a server to use instead. Each test gets its own database
cloned from a migrated template, so tests can COMMIT and LISTEN for real
and never see each other's rows.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from devkit import databases
from pg_social_notifications.embedded_db import EmbeddedPostgres, free_port


@dataclass
class PgServer:
    """The session's PostgreSQL server and how to reach its databases."""

    admin_url: str
    embedded: EmbeddedPostgres | None

    def url_for(self, dbname: str) -> str:
        return databases.url_for(self.admin_url, dbname)

    def create_database(self, template: str | None = None) -> str:
        return databases.create_database(self.admin_url, template=template)

    def drop_database(self, name: str) -> None:
        databases.drop_database(self.admin_url, name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The PostgreSQL server for the whole session."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield PgServer(admin_url=external, embedded=None)
        return
    with tempfile.TemporaryDirectory(prefix="notifications-test-pg-") as tmp:
        for attempt in range(3):
            server = EmbeddedPostgres(
                Path(tmp) / "data",
                free_port(),
                # Durability buys nothing in tests; speed does.
                settings={"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off",
                          # the host may use two-phase commit (tests/integration/test_host_transactions.py)
                          "max_prepared_transactions": "10"},
            )
            try:
                server.start()
                break
            except subprocess.CalledProcessError:
                # The free port can be taken between asking and binding (many
                # client sockets on one machine): try another one.
                if attempt == 2:
                    raise
        try:
            yield PgServer(admin_url=server.url, embedded=server)
        finally:
            server.stop("immediate")


@pytest.fixture(scope="session")
def template_database(pg_server: PgServer) -> Iterator[str]:
    """A database with the host tables and every migration applied."""
    name = pg_server.create_database()
    databases.migrate_with_host_tables(pg_server.url_for(name))
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def database_url(pg_server: PgServer, template_database: str) -> Iterator[str]:
    """A fresh migrated database for this test only; dropped afterwards."""
    name = pg_server.create_database(template=template_database)
    yield pg_server.url_for(name)
    pg_server.drop_database(name)


@pytest.fixture
def bare_database_url(pg_server: PgServer) -> Iterator[str]:
    """An empty database (no host tables, no migrations) for this test only."""
    name = pg_server.create_database()
    yield pg_server.url_for(name)
    pg_server.drop_database(name)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's database: every statement commits."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection
