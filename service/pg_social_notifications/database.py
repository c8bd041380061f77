"""Which PostgreSQL to talk to: DATABASE_URL, or our embedded server."""

from __future__ import annotations

import atexit
import logging
import signal
import sys
import threading
from pathlib import Path

from pg_social_notifications.embedded_db import EmbeddedPostgres
from pg_social_notifications.settings import Settings

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
        _exit_cleanly_on_sigterm()
    return server.url


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into a normal exit, so atexit stops the embedded server.

    uvicorn shuts down gracefully on SIGTERM and then re-raises the signal
    with the handler it found installed; with the default handler the
    process would die there, skipping atexit and leaving PostgreSQL running.
    """
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
