"""The WebSocket `/api/notifications/ws` (docs/WEBSOCKET.md): auth, hello, replay, live."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from pg_social_notifications import origins, store, streams
from pg_social_notifications.admission import Admission, Refused
from pg_social_notifications.auth import AuthError, Caller, TokenVerifier, cookie_token
from pg_social_notifications.close_codes import (
    CLOSE_AUTH,
    CLOSE_BUSY,
    CLOSE_IDLE,
    CLOSE_INTERNAL,
    CLOSE_ORIGIN,
    CLOSE_PROTOCOL,
    CLOSE_TOO_SLOW,
)
from pg_social_notifications.fanout import Hub, Subscriber
from pg_social_notifications.metrics import Metrics
from pg_social_notifications.settings import Settings
from pg_social_notifications.ws_messages import CLIENT_DECODER, Auth, Error, Ping, Pong
from pg_social_notifications.ws_protocol import WAITED

log = logging.getLogger(__name__)

SUBPROTOCOL = "notifications.v1"
BEARER_PREFIX = "bearer."
AUTH_TIMEOUT = 3.0  # from the upgrade to a valid first message
MAX_CLIENT_MESSAGE = 4096


class CloseSocket(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


# The handshake's headers and query are read from the raw scope: Litestar's parsed
# copies (`socket.headers`, `socket.query_params`) are cached in the scope and would
# stay for the socket's whole life, 2 KB each at 10k sockets.
def _query(socket: WebSocket[Any, Any, Any]) -> dict[str, str]:
    """The first value of each query parameter."""
    raw = socket.scope.get("query_string", b"").decode("latin-1")
    found: dict[str, str] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        found.setdefault(key, value)
    return found


def _offered_subprotocols(socket: WebSocket[Any, Any, Any]) -> list[str]:
    raw = origins.header(socket.scope, b"sec-websocket-protocol") or ""
    return [p.strip() for p in raw.split(",") if p.strip()]


def _parse_since(raw: str | None) -> int | None:
    try:
        return streams.parse_position(raw)
    except ValueError:
        raise CloseSocket(CLOSE_PROTOCOL, "since must be a non-negative integer") from None


async def _receive_text(socket: WebSocket[Any, Any, Any]) -> str | None:
    """The next client text (None on disconnect); CloseSocket on bad frames.

    The caller bounds the wait with `asyncio.timeout` (a timer on the socket's own
    task): `asyncio.wait_for` would wrap every receive in one more task per socket.
    """
    event = await socket.receive()
    if event["type"] == "websocket.disconnect":
        return None
    text: Any = event.get("text")
    if text is None:
        data: bytes = event.get("bytes") or b""  # type: ignore[assignment]
        if len(data) > MAX_CLIENT_MESSAGE:
            raise CloseSocket(CLOSE_PROTOCOL, "message too large")
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise CloseSocket(CLOSE_PROTOCOL, "binary frames must be UTF-8 JSON") from None
    if len(text) > MAX_CLIENT_MESSAGE:
        raise CloseSocket(CLOSE_PROTOCOL, "message too large")
    return str(text)


async def _first_message(socket: WebSocket[Any, Any, Any],
                         since: int | None) -> tuple[str | None, int | None]:
    """The token (None: use the session cookie) and `since` of the first message,
    `{"type": "auth", ...}`."""
    try:
        async with asyncio.timeout(AUTH_TIMEOUT):
            text = await _receive_text(socket)
    except TimeoutError:
        raise CloseSocket(CLOSE_IDLE, "idle timeout") from None
    if text is None:
        raise CloseSocket(1000, "client left")
    try:
        message = CLIENT_DECODER.decode(text)
    except msgspec.ValidationError as exc:
        if "$.since" in str(exc):  # a protocol error, not an authentication failure
            raise CloseSocket(CLOSE_PROTOCOL, "since must be a non-negative integer") from exc
        raise CloseSocket(CLOSE_AUTH, "first message must be {\"type\": \"auth\", ...}") from exc
    except msgspec.DecodeError as exc:
        raise CloseSocket(CLOSE_PROTOCOL, "messages must be JSON objects") from exc
    if not isinstance(message, Auth):
        raise CloseSocket(CLOSE_AUTH, "first message must be {\"type\": \"auth\", ...}")
    return message.token, message.since if message.since is not None else since


async def _serve(socket: WebSocket[Any, Any, Any], sub: Subscriber, idle_timeout: float,
                 token_seconds_left: float) -> None:
    """Answer the client until it leaves; CloseSocket on idle timeout, token expiry or
    when the hub closes the socket (overflow, shutdown).

    One timer on the socket's own task bounds each wait: the idle deadline, the
    token's expiry, or now, when the hub calls `close` (`Subscriber.close_timer`).
    """
    loop = asyncio.get_running_loop()
    expires = loop.time() + token_seconds_left
    due = expires
    try:
        async with sub.close_timer() as deadline:
            while sub.close_code is None:
                due = min(loop.time() + idle_timeout, expires)
                deadline.reschedule(due)
                text = await _receive_text(socket)
                if text is None:
                    return
                _answer(sub, text)
    except TimeoutError:
        if sub.close_code is None:
            # Which deadline was set, not the clock: asyncio runs a timer up to its
            # clock's resolution early (measured here: 0.3 ms before `expires`).
            if due >= expires:
                raise CloseSocket(CLOSE_AUTH, "token expired") from None
            raise CloseSocket(CLOSE_IDLE, "idle timeout") from None
    raise CloseSocket(sub.close_code, sub.close_reason)


def _answer(sub: Subscriber, text: str) -> None:
    """The reply to a client message after auth: pong, or an error that keeps the socket."""
    if text == "ping":
        sub.send("pong")
        return
    try:
        message = CLIENT_DECODER.decode(text)
    except (msgspec.ValidationError, msgspec.DecodeError):
        sub.send(Error(code="bad_message", message="expected {\"type\": \"ping\"}"))
        return
    if isinstance(message, Ping):
        sub.send(Pong())
    else:
        sub.send(Error(code="already_authenticated", message="auth is only the first message"))


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    if socket.connection_state == "disconnect":
        return
    with contextlib.suppress(Exception):
        if socket.connection_state == "init":  # refused before the 101: accept to say why
            await _upgrade(socket, _offered_subprotocols(socket))
        await asyncio.wait_for(socket.close(code=code, reason=reason[:120]), 2.0)


async def _open(socket: WebSocket[Any, Any, Any], state: Any) -> tuple[Subscriber, float]:
    """Admit, accept, authenticate, then hello and the replay: the socket's subscriber
    (in the hub) and its token's seconds left. Its own frame, so that what the
    handshake parsed (token, query, headers) is not kept for the socket's life."""
    settings: Settings = state.settings
    admission: Admission = state.admission
    # Refused on arrival when the wait would be too long: no JWT, no database.
    extensions: dict[str, Any] = socket.scope.get("extensions") or {}
    arrived = admission.check_arrival(float(extensions.get(WAITED, 0.0)))
    offered = _offered_subprotocols(socket)
    query = _query(socket)
    token = query.get("token") or next(
        (p[len(BEARER_PREFIX):] for p in offered if p.startswith(BEARER_PREFIX)), None)
    if token is not None:
        # Its slot before the 101: while it waits, the socket costs its connection
        # and nothing more, and the slots serve the queue in arrival order.
        async with admission.slot(arrived):
            await _accept(socket, settings, offered)
            return await _start(socket, state, token, _parse_since(query.get("since")))
    await _accept(socket, settings, offered)
    since = _parse_since(query.get("since"))
    address = socket.client.host if socket.client else ""
    with admission.unauthenticated(address):  # holds no handshake slot
        message_token, since = await _first_message(socket, since)
    token = message_token if message_token is not None else _cookie_token(socket, settings)
    async with admission.slot(arrived):
        return await _start(socket, state, token, since)


async def _upgrade(socket: WebSocket[Any, Any, Any], offered: list[str]) -> None:
    """The 101, with our subprotocol when the client offered it."""
    await socket.accept(subprotocols=SUBPROTOCOL if SUBPROTOCOL in offered else None)


async def _accept(socket: WebSocket[Any, Any, Any], settings: Settings,
                  offered: list[str]) -> None:
    # Accepted, then checked: a refusal before the upgrade reaches a browser as a
    # bare 1006, while a close after it carries a code and when to come back.
    await _upgrade(socket, offered)
    if settings.allowed_origins and not origins.trusted(
            socket.scope, origins.request_origin(socket.scope), settings.allowed_origins):
        raise CloseSocket(CLOSE_ORIGIN, "origin not allowed")


def _cookie_token(socket: WebSocket[Any, Any, Any], settings: Settings) -> str:
    """An auth message without a token: the session cookie the upgrade carried, from a
    trusted Origin only. A browser sends the cookie on an upgrade any site's page asks
    for, and the socket would read the user's notifications to that page (cross-site
    WebSocket hijacking)."""
    token = cookie_token(socket.scope, settings.jwt_cookie)
    if token is None:
        raise CloseSocket(CLOSE_AUTH, "auth message has no token"
                          + (" and the upgrade no session cookie" if settings.jwt_cookie else ""))
    if not origins.trusted(socket.scope, origins.request_origin(socket.scope),
                           settings.allowed_origins):
        raise CloseSocket(CLOSE_ORIGIN, "origin not allowed for a socket authenticated by cookie")
    return token


async def _start(socket: WebSocket[Any, Any, Any], state: Any, token: str,
                 since: int | None) -> tuple[Subscriber, float]:
    """In a handshake slot: the token, the user's cap, then the stream."""
    verifier: TokenVerifier = state.verifier
    hub: Hub = state.hub
    try:
        caller: Caller = await verifier.authenticate_once(token)
    except AuthError as exc:
        raise CloseSocket(CLOSE_AUTH, str(exc)) from exc
    state.admission.check_user(hub.sockets_of(caller.user_id))
    sub = await state.joiner.join(caller.user_id, since, socket.send_text)
    return sub, caller.seconds_left()


@websocket("/api/notifications/ws", name="notifications_ws")
async def notifications_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Live updates for one user: hello, optional replay from `since`, then live changes."""
    state = socket.app.state
    hub: Hub = state.hub
    metrics: Metrics = state.metrics
    sub: Subscriber | None = None
    try:
        sub, seconds_left = await _open(socket, state)
        await _serve(socket, sub, state.settings.ws_idle_timeout, seconds_left)
    except Refused as refused:
        metrics.handshakes_refused.inc()
        await _close(socket, refused.code, refused.reason)
    except CloseSocket as close:
        if close.code == CLOSE_TOO_SLOW:
            metrics.slow_closes.inc()
        if sub is not None:
            hub.remove(sub)  # at once: closing a stuck client may take a while
            await sub.stop_sending()
        await _close(socket, close.code, close.reason)
    except WebSocketDisconnect:
        pass
    except store.DatabaseUnavailable:
        # An outage: "try again later"; the client reconnects with backoff and `since`.
        await _close(socket, CLOSE_BUSY, "database unavailable")
    except Exception:
        log.exception("WebSocket handler failed")
        await _close(socket, CLOSE_INTERNAL, "internal error")
    finally:
        if sub is not None:
            hub.remove(sub)
            await sub.stop_sending()
        await _close(socket, 1000, "")
