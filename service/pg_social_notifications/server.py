"""`notifications serve`: run the app with uvicorn, in one process or several.

The database URL is resolved once, in the parent: with `--workers N` every
worker gets it through DATABASE_URL, so no worker starts its own embedded
PostgreSQL. Each worker has its own pool and its own LISTEN connection; they
share their metrics through PROMETHEUS_MULTIPROC_DIR, made before they start.
"""

from __future__ import annotations

import logging
import os
import socket

import uvicorn
from litestar.types import ASGIApp, ControllerRouterHandler
from uvicorn.supervisors import Multiprocess

from pg_social_notifications.app import create_app
from pg_social_notifications.database import resolve_database_url
from pg_social_notifications.http_edges import head_as_get
from pg_social_notifications.logging_setup import log_config
from pg_social_notifications.metrics import multiprocess_directory
from pg_social_notifications.settings import Settings
from pg_social_notifications.ws_protocol import LeanWebSocketProtocol

log = logging.getLogger(__name__)

DEMO_ENV = "NOTIFICATIONS_DEMO"
WS_MAX_FRAME = 64 * 1024


def app_from_env() -> ASGIApp:
    """uvicorn's app factory for worker processes (everything comes from the environment)."""
    settings = Settings.from_env()
    LeanWebSocketProtocol.drain_seconds = settings.drain_seconds
    if not settings.database_url:
        raise RuntimeError("workers need DATABASE_URL; start them with `notifications serve`")
    demo = os.environ.get(DEMO_ENV) == "1"
    return head_as_get(create_app(settings, settings.database_url,
                                  extra_handlers=_demo_handlers(settings, settings.database_url, demo)))


def _demo_handlers(settings: Settings, database_url: str, demo: bool
                   ) -> list[ControllerRouterHandler]:
    """The demo's routes with --demo: its own package, imported only then."""
    if not demo:
        return []
    import pg_social_notifications_demo

    return pg_social_notifications_demo.route_handlers(settings, database_url)


def listening_socket(host: str, port: int) -> socket.socket:
    """The service's port, bound with SO_REUSEPORT: a new process binds it beside the old
    one and the kernel spreads new connections over both, so a planned restart starts
    the new process first (docs/OPERATIONS.md). Not yet listening: uvicorn listens once
    the app has started, so no connection waits on a process that cannot serve it."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.set_inheritable(True)  # for --workers
    return sock


def serve(settings: Settings, workers: int, demo: bool) -> None:
    """Run the service until interrupted."""
    database_url = resolve_database_url(settings)
    if demo:
        from pg_social_notifications_demo import prepare_demo

        settings = prepare_demo(settings, database_url)
    if not settings.jwt_secret:
        raise SystemExit("NOTIFICATIONS_JWT_SECRET is required (or use --demo)")
    LeanWebSocketProtocol.drain_seconds = settings.drain_seconds
    common: dict[str, object] = {
        "host": settings.host, "port": settings.port,
        "log_config": log_config(settings.log_level, settings.log_format),
        "ws_max_size": WS_MAX_FRAME, "proxy_headers": False,
        # Our messages are small JSON; per-socket compression state roughly doubled
        # the server memory per connection (docs/BENCHMARKS.md) for little gain.
        "ws_per_message_deflate": False,
        # No protocol-level pings: clients ping every 25 s and a silent socket is closed
        # after NOTIFICATIONS_WS_IDLE_TIMEOUT; at 10k sockets uvicorn's pings were 500
        # writes a second, a fifth of the service's CPU (docs/BENCHMARKS.md).
        "ws_ping_interval": None,
        # The drain window (sockets closed over it, ws_protocol.py), then 5 s for the rest.
        "timeout_graceful_shutdown": int(settings.drain_seconds) + 5,
        # Said, not guessed: uvicorn takes an app whose __call__ is not a coroutine
        # function (http_edges.HeadAsGet) for ASGI 2.
        "interface": "asgi3",
        # uvicorn's sans-I/O protocol without the state an open socket no longer needs.
        "ws": "pg_social_notifications.ws_protocol:LeanWebSocketProtocol",
    }
    # Before any worker starts: they all write their metrics there, so a scrape of one
    # reports the whole service (metrics.py).
    sock = listening_socket(settings.host, settings.port)
    with multiprocess_directory(workers):
        if workers <= 1:
            app = head_as_get(create_app(
                settings, database_url, extra_handlers=_demo_handlers(settings, database_url, demo)))
            server = uvicorn.Server(uvicorn.Config(app, **common))  # type: ignore[arg-type]
            server.run(sockets=[sock])
            if not server.started:
                raise SystemExit(3)  # as uvicorn.run: the app did not start
            return
        os.environ["DATABASE_URL"] = database_url
        os.environ["NOTIFICATIONS_JWT_SECRET"] = settings.jwt_secret
        os.environ[DEMO_ENV] = "1" if demo else "0"
        if settings.vapid_private_key:  # the demo's made-up pair reaches the workers too
            os.environ["NOTIFICATIONS_VAPID_PRIVATE_KEY"] = settings.vapid_private_key
            os.environ["NOTIFICATIONS_VAPID_SUBJECT"] = settings.vapid_subject
        config = uvicorn.Config("pg_social_notifications.server:app_from_env", factory=True, workers=workers,
                                **common)  # type: ignore[arg-type]
        Multiprocess(config, sockets=[sock]).run()
