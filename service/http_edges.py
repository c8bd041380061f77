"""Small HTTP rules at the edge: HEAD answers like GET, and /web/ serves only what ships.

Litestar routes HEAD to nothing unless each handler names it, so monitoring
that probes `/health/live` with HEAD got 405. And the static router serves a
directory tree whole: the demo pages (and the client's unit tests) must not
be reachable from a production service.
"""

from __future__ import annotations

from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

WEB_PREFIX = "/web/"
HEAD_REQUEST = "notifications.head"  # scope key: this GET is a HEAD (a stream answers headers only)
DEMO_FOLDERS = frozenset({"demo", "demo-art"})


def head_as_get(app: ASGIApp) -> ASGIApp:
    """Wraps the whole app (server.py), outside Litestar's router, which answers 405
    before any middleware runs: a HEAD request runs as GET, answered with headers only."""
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "HEAD":
            await app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # drop the body's parts; the last, empty, ends the response
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await app(cast(Scope, {**scope, "method": "GET", HEAD_REQUEST: True}), receive, headers_only)
    return middleware


def web_files_guard(demo: bool) -> Any:
    """A guard for the /web/ router: the web components always, the demo's folders only
    with --demo, nothing else (web/tests/ holds the client's unit tests)."""
    folders = {""} | (DEMO_FOLDERS if demo else set())

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        path = connection.url.path
        relative = path[len(WEB_PREFIX):] if path.startswith(WEB_PREFIX) else path
        if relative.rpartition("/")[0] not in folders:
            raise NotFoundException()
    return guard
