"""Module-scoped fixtures: one database and one running service shared by a test module.

Tests that share them create their own users (unique handles), so they never
see each other's notifications.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from devkit.hostdata import add_user
from devkit.servers import ServiceProcess, running_service
from tests.conftest import PgServer


@pytest.fixture(scope="module")
def shared_database_url(pg_server: PgServer, template_database: str) -> Iterator[str]:
    """A migrated database for the whole module."""
    name = pg_server.create_database(template=template_database)
    yield pg_server.url_for(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def service(shared_database_url: str) -> Iterator[ServiceProcess]:
    """One service process for the whole module."""
    with running_service(shared_database_url) as svc:
        yield svc


@pytest.fixture
def db(shared_database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the module's database."""
    with psycopg.connect(shared_database_url, autocommit=True) as connection:
        yield connection


def new_user(conn: psycopg.Connection[Any], prefix: str = "u", sqid: bool = False) -> int:
    """A user with a unique handle (and public_sqid when asked)."""
    suffix = uuid.uuid4().hex[:10]
    return add_user(conn, f"{prefix}_{suffix}", f"s{suffix}" if sqid else None)
