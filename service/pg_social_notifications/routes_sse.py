"""Server-Sent Events, `GET /api/notifications/stream` (docs/SSE.md): the socket's stream over
plain HTTP, for networks that block WebSockets.

A stream is one Subscriber in the Hub, as a socket is (streams.py), so
replay, order, de-duplication and the slow-client rule are the socket's. Each
message is the socket's JSON in a `data:` line with its position as the
event's `id:`, so an EventSource that reconnects by itself sends
`Last-Event-ID` and resumes where it left off.

What can be refused is refused before the response starts, as an HTTP error
with the API's JSON body; once streaming, the stream ends with an
`event: close` carrying the socket's close code and reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ServiceUnavailableException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from pg_social_notifications import origins, store, streams
from pg_social_notifications.admission import Refused, retry_after_ms
from pg_social_notifications.auth import AuthError, Caller, TokenVerifier, http_credential, provide_caller
from pg_social_notifications.close_codes import (
    CLOSE_AUTH,
    CLOSE_BUSY,
    CLOSE_INTERNAL,
    CLOSE_TOO_MANY,
    CLOSE_TOO_SLOW,
)
from pg_social_notifications.fanout import Subscriber
from pg_social_notifications.http_edges import HEAD_REQUEST
from pg_social_notifications.metrics import Metrics
from pg_social_notifications.schemas import StreamTicket
from pg_social_notifications.settings import Settings
from pg_social_notifications.stream_tickets import StreamTickets

log = logging.getLogger(__name__)

STREAM_PATH = "/api/notifications/stream"
FINAL_WRITE_TIMEOUT = 2.0  # a client that does not take its close event in this long is dropped
WRITE_BATCH = 64  # queued messages joined into one write (a replay is hundreds)
HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    # no-transform: a compressing proxy would otherwise hold events back to fill its blocks.
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}
_RAW_HEADERS = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="notifications"'}


class _Framing(msgspec.Struct):
    """What the framing needs of a queued message: its type and position (others skipped)."""

    type: str = ""
    position: int | None = None


class _Close(msgspec.Struct):
    code: int
    reason: str


_FRAMING = msgspec.json.Decoder(_Framing)
_ENCODER = msgspec.json.Encoder()


def frame(text: str, hello_id: int) -> bytes:
    """One message as an event. `hello` takes the position the stream continues after (with a
    replay to come, that is `since`, not hello's own position): a reconnect right after it
    must ask for the replay again, not skip it."""
    info = _FRAMING.decode(text)
    event_id = hello_id if info.type == "hello" else info.position
    head = "" if event_id is None else f"id: {event_id}\n"
    return f"{head}data: {text}\n\n".encode()


def close_frame(code: int, reason: str) -> bytes:
    return b"event: close\ndata: " + _ENCODER.encode(_Close(code=code, reason=reason)) + b"\n\n"


def origin_allowed(settings: Settings, scope: Scope) -> bool:
    """The socket's allow-list (the service's own origin always on it), except that a missing
    Origin passes: browsers send one on every WebSocket and every cross-origin request, but
    not on a same-origin GET (Fetch standard), and outside a browser anything can claim any
    Origin."""
    origin = origins.request_origin(scope)
    return (not settings.allowed_origins or origin is None
            or origins.trusted(scope, origin, settings.allowed_origins))


class OpenStreams:
    """This process's open event streams: counted for /metrics, ended first at shutdown."""

    def __init__(self, metrics: Metrics) -> None:
        self._subs: set[Subscriber] = set()
        self._metrics = metrics

    def add(self, sub: Subscriber) -> None:
        self._subs.add(sub)
        self._metrics.sse_open_streams.set(len(self._subs))

    def discard(self, sub: Subscriber) -> None:
        self._subs.discard(sub)
        self._metrics.sse_open_streams.set(len(self._subs))

    def close_all(self, code: int, reason: str) -> None:
        for sub in list(self._subs):
            sub.close(code, reason)


@contextlib.contextmanager
def ending_on_exit_signals(end: Callable[[], None]) -> Iterator[None]:
    """Run `end` in the event loop as soon as SIGTERM or SIGINT arrives, then the handler that
    was there (uvicorn's). uvicorn waits for open HTTP responses to finish before it runs
    the lifespan's shutdown: without this every stream would hold a restart for the
    graceful timeout and then be cancelled with a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    loop = asyncio.get_running_loop()
    installed: dict[signal.Signals, tuple[Any, Any]] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        prior = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None, prior: Any = prior) -> None:
            loop.call_soon_threadsafe(end)
            if callable(prior):
                prior(signum, frame)
            elif prior == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        signal.signal(sig, handler)
        installed[sig] = (handler, prior)
    try:
        yield
    finally:
        for number, (handler, prior) in installed.items():
            if signal.getsignal(number) is handler:
                signal.signal(number, prior)


def _since(request: Request[Any, Any, Any]) -> int | None:
    """`Last-Event-ID` (an EventSource's own reconnect: the freshest) or else `?since=`."""
    last = request.headers.get("last-event-id")
    name, raw = ("Last-Event-ID", last) if last else ("since", request.query_params.get("since"))
    try:
        return streams.parse_position(raw)
    except ValueError:
        raise ValidationException(detail=f"{name} must be a non-negative integer") from None


async def _caller(request: Request[Any, Any, Any]) -> Caller:
    """From `?ticket=` (browsers without the session cookie), `Authorization: Bearer`
    (everything else) or the session cookie, or 401.

    A stream authenticated by the cookie may come without an Origin (an EventSource on the
    service's own origin sends none) but not from another site's page: it could not read
    the stream, yet it would hold one of the user's sockets for as long as it liked."""
    state = request.app.state
    settings: Settings = state.settings
    ticket = request.query_params.get("ticket")
    try:
        if ticket is not None:
            tickets: StreamTickets = state.tickets
            return tickets.redeem(ticket)
        credential = http_credential(request.headers.get("authorization"), request.scope,
                                     settings.jwt_cookie, alternatives=("?ticket=",))
        origin = origins.request_origin(request.scope)
        if credential.from_cookie and origin is not None and not origins.trusted(
                request.scope, origin, settings.allowed_origins):
            raise PermissionDeniedException(
                detail="origin not allowed for a stream authenticated by cookie")
        verifier: TokenVerifier = state.verifier
        return await verifier.authenticate(credential.token)
    except AuthError as exc:
        raise NotAuthorizedException(detail=str(exc), headers=WWW_AUTHENTICATE) from exc


def _refusal(refused: Refused) -> HTTPException:
    """Admission's refusals as HTTP: 429 for the per-user cap, 503 for busy, with Retry-After."""
    kind = TooManyRequestsException if refused.code == CLOSE_TOO_MANY else ServiceUnavailableException
    return kind(detail=refused.reason, headers={"Retry-After": str(math.ceil(refused.retry_ms / 1000))})


def _body(data: bytes, more: bool = True) -> Any:
    return {"type": "http.response.body", "body": data, "more_body": more}


HEARTBEAT = ": ping"  # queued like a message, so it never cuts into an event being written


class _Writer:
    """The subscriber's transport: the response's start on the first write (so whatever
    fails before it, a database outage included, is still an HTTP error), then each queued
    message as one event, a heartbeat as a comment, in the order queued."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.hello_id = 0  # the position the stream continues after (see frame())

    async def __call__(self, text: str) -> None:
        await self._start()
        await self._send(_body(b": ping\n\n" if text == HEARTBEAT
                               else frame(text, self.hello_id)))

    async def finish(self, end: tuple[int, str] | None) -> None:
        """The last write: the close event, if the stream is ended rather than left."""
        await self._start()
        await self._send(_body(b"" if end is None else close_frame(*end), more=False))

    async def _start(self) -> None:
        if not self.started:
            self.started = True
            await self._send({"type": "http.response.start", "status": 200,
                              "headers": _RAW_HEADERS})
            # EventSource's own reconnect delay, spread so a fleet does not return at once.
            await self._send(_body(f"retry: {retry_after_ms()}\n\n".encode()))


async def _serve(receive: Receive, sub: Subscriber, heartbeat: float,
                 token_seconds_left: float) -> tuple[int, str] | None:
    """Until the client leaves (None) or the stream must end (the close event to send): the
    token expires, or the hub closes it (overflow, shutdown). A heartbeat comment every
    `heartbeat` seconds keeps proxies from closing a quiet connection.

    One timer on the stream's own task bounds each wait, as for a socket (routes_ws.py).
    """
    loop = asyncio.get_running_loop()
    expires = loop.time() + token_seconds_left
    try:
        async with sub.close_timer():
            while sub.close_code is None:
                try:
                    async with asyncio.timeout(min(heartbeat, max(0.0, expires - loop.time()))):
                        while (await receive())["type"] != "http.disconnect":
                            pass
                        return None
                except TimeoutError:
                    if loop.time() >= expires:
                        return (CLOSE_AUTH, "token expired")
                    sub.send(HEARTBEAT)
    except TimeoutError:
        pass  # the hub closed it: close_code is set
    assert sub.close_code is not None
    return (sub.close_code, sub.close_reason)


class EventStream:
    """One authenticated stream, as an ASGI app: admission, hello, replay, live, the end.

    One coroutine owns it from start to end, so whatever way it ends (the client
    leaves, the token expires, the hub closes it, the server cancels it) the slot,
    the subscriber and the tasks are released.
    """

    def __init__(self, state: State, caller: Caller, since: int | None) -> None:
        self._state = state
        self._caller = caller
        self._since = since

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state, caller, since = self._state, self._caller, self._since
        settings: Settings = state.settings
        metrics: Metrics = state.metrics
        open_streams: OpenStreams = state.sse_streams
        sub: Subscriber | None = None
        writer = _Writer(send)
        end: tuple[int, str] | None = None
        try:
            try:
                state.admission.check_user(state.hub.sockets_of(caller.user_id))
                async with state.admission.slot():  # the costly part: position, then the replay
                    # hello's event id, before the sender's first turn
                    sub = await state.joiner.join(
                        caller.user_id, since, writer,
                        on_start=lambda s: setattr(writer, "hello_id", s.position))
                open_streams.add(sub)
            except Refused as refused:
                metrics.handshakes_refused.inc()
                raise _refusal(refused) from None
            end = await _serve(receive, sub, settings.sse_heartbeat_interval,
                               caller.seconds_left())
            if end is not None and end[0] == CLOSE_TOO_SLOW:
                metrics.slow_closes.inc()
        except store.DatabaseUnavailable:
            if not writer.started:
                raise  # the app's handler answers 503 with Retry-After
            end = (CLOSE_BUSY, "database unavailable")
        except Exception:
            if not writer.started:
                raise
            log.exception("event stream failed")
            end = (CLOSE_INTERNAL, "internal error")
        finally:
            if sub is not None:
                state.hub.remove(sub)
                open_streams.discard(sub)
                await sub.stop_sending()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(FINAL_WRITE_TIMEOUT):
                await writer.finish(end)


@get(STREAM_PATH, name="notifications_stream", include_in_schema=False)
async def notifications_stream(request: Request[Any, Any, Any]) -> ASGIApp:
    """Live updates for one user as Server-Sent Events: hello, the replay after `Last-Event-ID`
    or `since`, then live changes (docs/SSE.md)."""
    settings: Settings = request.app.state.settings
    if not origin_allowed(settings, request.scope):
        raise PermissionDeniedException(detail="origin not allowed")
    since = _since(request)
    caller = await _caller(request)  # last: a ticket is spent once redeemed
    if request.scope.get(HEAD_REQUEST):
        return ASGIResponse(body=b"", headers=HEADERS, media_type=HEADERS["Content-Type"])
    return EventStream(request.app.state, caller, since)


@post(f"{STREAM_PATH}/ticket", status_code=200, tags=["notifications"],
      dependencies={"caller": Provide(provide_caller)},
      summary="A single-use ticket that opens the event stream within seconds (for EventSource)")
async def stream_ticket(caller: Caller, request: Request[Any, Any, Any]) -> StreamTicket:
    settings: Settings = request.app.state.settings
    if not origin_allowed(settings, request.scope):
        raise PermissionDeniedException(detail="origin not allowed")
    tickets: StreamTickets = request.app.state.tickets
    return StreamTicket(ticket=tickets.issue(caller), expires_in=int(tickets.ttl))
