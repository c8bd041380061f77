"""Small HTTP rules at the edge: HEAD answers like GET, and /web/ serves only what ships.

Litestar routes HEAD to nothing unless each handler names it, so monitoring
that probes `/health/live` with HEAD got 405. And the static router serves a
directory tree whole: the demo pages (and the client's unit tests) must not
be reachable from a production service.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

WEB_PREFIX = "/web/"
HEAD_REQUEST = "notifications.head"  # scope key: this GET is a HEAD (a stream answers headers only)


def head_as_get(app: ASGIApp) -> ASGIApp:
    """`app` with HEAD answered as GET (server.py wraps the whole app in it)."""
    return HeadAsGet(app)


class HeadAsGet:
    """Wraps the whole app (server.py), outside Litestar's router, which answers 405
    before any middleware runs: a HEAD request runs as GET, answered with headers only.

    Every other request is handed to the app as its own coroutine, not awaited from
    one of ours: a WebSocket keeps the frames it awaits from for its whole life."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    # Not a coroutine function: server.py tells uvicorn the interface is ASGI 3.
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "HEAD":
            return self.app(scope, receive, send)
        return self._head(scope, receive, send)

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # drop the body's parts; the last, empty, ends the response
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(cast(Scope, {**scope, "method": "GET", HEAD_REQUEST: True}), receive,
                       headers_only)


def web_files_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The /web/ router serves the web client's own files, no folder below them: web/tests/
    holds the client's unit tests, and the demo mounts its folders itself."""
    path = connection.url.path
    relative = path[len(WEB_PREFIX):] if path.startswith(WEB_PREFIX) else path
    if "/" in relative:
        raise NotFoundException()
