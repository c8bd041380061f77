"""Which PostgreSQL to talk to: DATABASE_URL, or our embedded server."""

from __future__ import annotations

import atexit
import logging
from pathlib import Path

from service.embedded_db import EmbeddedPostgres
from service.settings import Settings

log = logging.getLogger(__name__)


def resolve_database_url(settings: Settings, *, stop_at_exit: bool = True) -> str:
    """DATABASE_URL when set; otherwise start (or reuse) the embedded server.

    A server this process started is stopped cleanly at exit, unless
    `stop_at_exit` is False; one it merely reused is left running.
    """
    if settings.database_url:
        return settings.database_url
    server = EmbeddedPostgres(Path(settings.pgdata), settings.pg_port)
    started = server.start()
    log.info("embedded PostgreSQL %s at %s (data in %s)",
             "started" if started else "reused", server.url, server.data_dir)
    if started and stop_at_exit:
        atexit.register(server.stop)
    return server.url
