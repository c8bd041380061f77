"""The app factory: `create_app(settings, database_url)` -> Litestar.

The lifespan owns the connection pool, the socket hub, the LISTEN loop, the
sequencer (which leads in one process per database), the in-service
retention loop and the garbage-collector policy; nothing lives in module
globals, so tests can build as many apps as they like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, Reference, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler
from psycopg_pool import AsyncConnectionPool
from psycopg_pool.base import AttemptWithBackoff

from pg_social_notifications.admission import Admission
from pg_social_notifications.auth import TokenVerifier
from pg_social_notifications.digest_worker import run_digests_forever
from pg_social_notifications.fanout import Hub
from pg_social_notifications.gc_policy import run_gc_policy_forever
from pg_social_notifications.http_edges import web_files_guard
from pg_social_notifications.insights import run_insights_forever
from pg_social_notifications.listener import Listener
from pg_social_notifications.metrics import Metrics
from pg_social_notifications.paths import WEB_DIR
from pg_social_notifications.push_worker import PushWorker, presence_instance, run_presence_forever
from pg_social_notifications.reconnect import connect_options
from pg_social_notifications.request_bodies import JSONRequest
from pg_social_notifications.retention_loop import run_retention_forever
from pg_social_notifications.routes_insights import (
    experiment,
    open_from_email,
    opened_from_push,
    opened_in_app,
    ops_router,
)
from pg_social_notifications.routes_mutes import MutesController
from pg_social_notifications.routes_ops import live, metrics, ready
from pg_social_notifications.routes_push import PushController
from pg_social_notifications.routes_rest import NotificationsController
from pg_social_notifications.routes_sse import (
    OpenStreams,
    ending_on_exit_signals,
    notifications_stream,
    stream_ticket,
)
from pg_social_notifications.routes_unsubscribe import unsubscribe, unsubscribe_page
from pg_social_notifications.routes_ws import notifications_socket
from pg_social_notifications.sequencer import Sequencer
from pg_social_notifications.settings import Settings
from pg_social_notifications.store import DatabaseUnavailable, NotificationStore
from pg_social_notifications.stream_tickets import StreamTickets
from pg_social_notifications.streams import Joiner
from pg_social_notifications.ws_protocol import LeanWebSocketProtocol

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 2
SHUTDOWN_TIMEOUT = 5.0  # for the background tasks, then again for the pool


def invalid_utf8_body(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[Any]:
    """Litestar's JSON decoding lets invalid UTF-8 inside strings escape as a 500: it is a 400."""
    return Response({"status_code": 400, "detail": "request body is not valid UTF-8"},
                    status_code=400)


def database_unavailable(request: Request[Any, Any, Any],
                         exc: DatabaseUnavailable) -> Response[Any]:
    """An outage is answered at once, with when to try again, never left hanging."""
    return Response({"status_code": 503, "detail": "the database is unavailable; retry shortly"},
                    status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def shorten_reconnect_sleeps() -> None:
    """psycopg_pool adds connections one at a time, and after a failed attempt sleeps
    1 s, then 2 s, before the next. A request that comes as PostgreSQL returns waits out
    that sleep: past NOTIFICATIONS_DB_TIMEOUT (2 s) it was answered 503 after the outage
    had ended (seen in CI). Sleeps of 0.1 s growing 1.5× (at most 0.76 s before the
    pool's 2 s reconnect window gives up) let it connect within the timeout. Attempts
    during an outage are refused connections: cheap."""
    AttemptWithBackoff.INITIAL_DELAY = 0.1
    AttemptWithBackoff.DELAY_BACKOFF = 1.5


def security_schemes(settings: Settings) -> dict[str, SecurityScheme | Reference]:
    """The API's ways to authenticate, for the OpenAPI schema: the Bearer header, and the
    session cookie when NOTIFICATIONS_JWT_COOKIE names one."""
    schemes: dict[str, SecurityScheme | Reference] = {"BearerToken": SecurityScheme(
        type="http", scheme="bearer", bearer_format="JWT",
        description="The host's access token (HS256 JWT)")}
    if settings.jwt_cookie:
        schemes["SessionCookie"] = SecurityScheme(
            type="apiKey", name=settings.jwt_cookie, security_scheme_in="cookie",
            description="The same JWT in the host's session cookie, used when there is no "
                        "Authorization header; POST, PUT and DELETE need a trusted Origin")
    return schemes


def create_app(settings: Settings, database_url: str, *,
               extra_handlers: Sequence[ControllerRouterHandler] = ()) -> Litestar:
    """A Litestar app serving the API, the WebSocket, /web/ and operations endpoints, and
    `extra_handlers` (the demo's, with `serve --demo`)."""
    if not settings.jwt_secret:
        raise ValueError("NOTIFICATIONS_JWT_SECRET must be set (or run with --demo)")
    secret = settings.jwt_secret

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        shorten_reconnect_sleeps()
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            database_url, min_size=settings.pool_min_size, max_size=settings.pool_max_size,
            open=False, name="notifications",
            # Autocommit: a one-statement read is one round trip. Outside it psycopg
            # sends BEGIN first and the pool COMMITs after: three round trips for the
            # badge. Work that needs a transaction asks store.run for one.
            # Bounded connects (connect_options): an attempt the network never answered
            # held the pool's one growing slot for good, and every request after the
            # path came back was answered 503.
            kwargs={"application_name": "notifications-api", "autocommit": True,
                    **connect_options(settings.db_timeout)},
            # No check on checkout (a round trip per request): store.run retries on
            # another connection when a pooled one died with a PostgreSQL restart.
            timeout=settings.db_timeout,
            # psycopg_pool retries a lost connection with a delay that doubles without a
            # cap: after a 20 s outage a slot would wait up to half a minute more. Giving
            # the slot up instead makes the next request connect at once.
            reconnect_timeout=settings.db_timeout,
        )
        await pool.open()
        metrics_ = Metrics()
        LeanWebSocketProtocol.on_abandoned = metrics_.upgrades_abandoned.inc
        store = NotificationStore(pool)
        hub = Hub(store, metrics_)
        listener = Listener(database_url, hub.sync, hub.connected_users, metrics_,
                            probe_interval=settings.listener_probe_interval,
                            probe_timeout=settings.listener_probe_timeout)
        sequencer = Sequencer(database_url, metrics_, poll_interval=settings.sequencer_interval,
                              timeout=settings.sequencer_timeout)
        admission = Admission(
            max_handshakes=settings.ws_max_handshakes, wait=settings.ws_admission_wait,
            max_waiting=settings.ws_admission_queue,
            per_address=settings.ws_max_unauthenticated_per_address,
            per_user=settings.ws_max_sockets_per_user)
        sse_streams = OpenStreams(metrics_)
        app.state.update(pool=pool, store=store, metrics=metrics_, hub=hub, listener=listener,
                         sequencer=sequencer, admission=admission,
                         joiner=Joiner(store, hub, metrics_, replay_limit=settings.ws_replay_limit,
                                       queue_limit=settings.ws_queue_size),
                         verifier=TokenVerifier(secret, settings.jwt_user_claim, store),
                         tickets=StreamTickets(secret), sse_streams=sse_streams)
        tasks = [asyncio.create_task(listener.run(), name="notifications-listener"),
                 asyncio.create_task(sequencer.run(), name="notifications-sequencer")]
        if settings.retention_interval_hours > 0:
            tasks.append(asyncio.create_task(
                run_retention_forever(settings, database_url, metrics_),
                name="notifications-retention"))
        if settings.vapid_private_key:  # Web Push on: presence everywhere, one worker leads
            app.state.push_worker = PushWorker(settings, database_url, metrics_, hub.connected_users)
            tasks.append(asyncio.create_task(app.state.push_worker.run(), name="notifications-push"))
            tasks.append(asyncio.create_task(
                run_presence_forever(pool, hub.connected_users, presence_instance()),
                name="notifications-presence"))
        if settings.smtp_url and settings.public_url:
            tasks.append(asyncio.create_task(
                run_digests_forever(settings, database_url, metrics_),
                name="notifications-digests"))
        if settings.insights_interval > 0:
            tasks.append(asyncio.create_task(run_insights_forever(settings, database_url),
                                             name="notifications-insights"))
        if settings.gc_freeze_interval > 0:
            tasks.append(asyncio.create_task(
                run_gc_policy_forever(settings.gc_freeze_interval, settings.gc_full_interval,
                                      metrics_),
                name="notifications-gc"))
        try:
            with ending_on_exit_signals(lambda: sse_streams.close_all(1001, "service shutting down")):
                yield
        finally:
            hub.close_all(1001, "service shutting down")
            for task in tasks:
                task.cancel()
            # Bounded: a task that does not stop must not keep the process (and the port a
            # restarted one waits for) alive; name it, so the next look starts there.
            _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)
            if stuck:
                log.warning("shutdown: %s did not stop within %gs; exiting without them",
                            ", ".join(sorted(t.get_name() for t in stuck)), SHUTDOWN_TIMEOUT)
            await pool.close(timeout=SHUTDOWN_TIMEOUT)

    async def provide_store(state: State) -> NotificationStore:
        store: NotificationStore = state.store
        return store

    schemes = security_schemes(settings)
    handlers: list[ControllerRouterHandler] = [
        # Either scheme authenticates each operation (OpenAPI: one requirement per scheme).
        Router(path="/", route_handlers=[NotificationsController, MutesController, PushController,
                                         stream_ticket, opened_in_app, experiment],
               security=[{name: []} for name in schemes]),
        notifications_socket, notifications_stream,
        live, ready, metrics, unsubscribe_page, unsubscribe, opened_from_push, open_from_email,
        *([ops_router()] if settings.ops_token else []),
        create_static_files_router(path="/web", directories=[WEB_DIR], name="web",
                                   include_in_schema=False, guards=[web_files_guard]),
        *extra_handlers,
    ]
    return Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        dependencies={"store": Provide(provide_store)},
        state=State({"settings": settings}),
        openapi_config=OpenAPIConfig(
            title="Notifications API", version="1.0.0", path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
            components=Components(security_schemes=schemes),
        ),
        request_max_body_size=MAX_BODY_BYTES,
        request_class=JSONRequest,
        exception_handlers={UnicodeDecodeError: invalid_utf8_body,
                            DatabaseUnavailable: database_unavailable},
        # The host's pages may live on another origin; the allow-list is the socket's.
        # Tokens travel in a header, so credentials stay off, except for the listed
        # origins of a cookie-session site (NOTIFICATIONS_JWT_COOKIE): the ones its
        # cookie-authenticated writes may come from may also read what the cookie opens.
        cors_config=CORSConfig(
            allow_origins=list(settings.allowed_origins) or ["*"],
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=bool(settings.jwt_cookie and settings.allowed_origins),
            max_age=600,
        ),
        # Our log setup (logging_setup.py, applied by uvicorn) owns the handlers;
        # Litestar only logs unexpected errors, through them, and never 4xx as tracebacks.
        logging_config=LoggingConfig(
            configure_root_logger=False, log_exceptions="always",
            disable_stack_trace={400, 401, 403, 404, 405, 413, 429, 503,
                                 DatabaseUnavailable},
            loggers={"litestar": {"level": settings.log_level.upper(), "handlers": [],
                                  "propagate": True}},
        ),
        debug=False,
    )
