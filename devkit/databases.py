"""Databases for a test or a benchmark run: made on a server (optionally from a template),
migrated with the host's tables, dropped afterwards."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from pg_social_notifications import migrations


def url_for(server_url: str, dbname: str) -> str:
    """`server_url` (a postgresql:// URL) naming database `dbname` instead; URL form,
    since yoyo and the service take DATABASE_URL as a URL."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{dbname}"))


def create_database(server_url: str, *, prefix: str = "t", template: str | None = None) -> str:
    """A new database with a unique name (`prefix_…`), copied from `template` if given."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(statement)
    return name


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def migrate_with_host_tables(url: str) -> None:
    """The host's tables (as the demo and the tests have them), then every migration."""
    migrations.create_host_tables(url)
    migrations.apply(url)
