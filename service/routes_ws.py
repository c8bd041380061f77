"""The WebSocket `/api/notifications/ws` (docs/WEBSOCKET.md): auth, hello, replay, live."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from service import store, streams
from service.admission import CLOSE_BUSY, Admission, Refused
from service.auth import AuthError, Caller, TokenVerifier
from service.fanout import CLOSE_TOO_SLOW, Hub, Subscriber
from service.metrics import Metrics
from service.settings import Settings
from service.ws_messages import CLIENT_DECODER, Auth, Error, Ping, Pong

log = logging.getLogger(__name__)

SUBPROTOCOL = "notifications.v1"
BEARER_PREFIX = "bearer."
AUTH_TIMEOUT = 3.0  # from the upgrade to a valid first message
MAX_CLIENT_MESSAGE = 4096
CLOSE_PROTOCOL, CLOSE_AUTH, CLOSE_ORIGIN, CLOSE_IDLE = 4400, 4401, 4403, 4408


class CloseSocket(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _offered_subprotocols(socket: WebSocket[Any, Any, Any]) -> list[str]:
    raw = socket.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def _parse_since(raw: str | None) -> int | None:
    try:
        return streams.parse_position(raw)
    except ValueError:
        raise CloseSocket(CLOSE_PROTOCOL, "since must be a non-negative integer") from None


async def _receive_text(socket: WebSocket[Any, Any, Any], timeout: float) -> str | None:
    """The next client text (None on disconnect); CloseSocket on timeout or bad frames."""
    try:
        event = await asyncio.wait_for(socket.receive(), timeout)
    except TimeoutError:
        raise CloseSocket(CLOSE_IDLE, "idle timeout") from None
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


async def _authenticate(socket: WebSocket[Any, Any, Any], verifier: TokenVerifier,
                        token: str | None, since: int | None) -> tuple[Caller, int | None]:
    """The caller, from the query/subprotocol token or else a first `auth` message."""
    if token is None:
        text = await _receive_text(socket, AUTH_TIMEOUT)
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
        token, since = message.token, message.since if message.since is not None else since
    try:
        return await verifier.authenticate(token), since
    except AuthError as exc:
        raise CloseSocket(CLOSE_AUTH, str(exc)) from exc


async def _send_loop(socket: WebSocket[Any, Any, Any], sub: Subscriber) -> None:
    """Write queued messages in order; ends on the close sentinel or when the client is gone."""
    while True:
        text = await sub.queue.get()
        if text is None:
            return
        try:
            await socket.send_text(text)
        except Exception as exc:  # the peer went away mid-write: nothing to report
            log.debug("send failed: %s", type(exc).__name__)
            return


async def _wait_closed(sub: Subscriber) -> None:
    """Ends when the hub closes the socket (overflow, shutdown), even if a send is stuck."""
    await sub.closed.wait()


async def _receive_loop(socket: WebSocket[Any, Any, Any], sub: Subscriber,
                        idle_timeout: float) -> None:
    while True:
        text = await _receive_text(socket, idle_timeout)
        if text is None:
            return
        if text == "ping":
            sub.send("pong")
            continue
        try:
            message = CLIENT_DECODER.decode(text)
        except (msgspec.ValidationError, msgspec.DecodeError):
            sub.send(Error(code="bad_message", message="expected {\"type\": \"ping\"}"))
            continue
        if isinstance(message, Ping):
            sub.send(Pong())
        else:
            sub.send(Error(code="already_authenticated", message="auth is only the first message"))


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    if socket.connection_state == "disconnect":
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code=code, reason=reason[:120]), 2.0)


@websocket("/api/notifications/ws", name="notifications_ws")
async def notifications_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Live updates for one user: hello, optional replay from `since`, then live changes."""
    state = socket.app.state
    settings: Settings = state.settings
    hub: Hub = state.hub
    metrics: Metrics = state.metrics
    admission: Admission = state.admission
    offered = _offered_subprotocols(socket)
    address = socket.client.host if socket.client else ""
    sub: Subscriber | None = None
    tasks: list[asyncio.Task[None]] = []
    try:
        # Accepted at once: a refusal before the upgrade reaches a browser as a bare
        # 1006, while a close after it carries a code and when to come back.
        await socket.accept(subprotocols=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        origin = socket.headers.get("origin")
        if settings.allowed_origins and origin not in settings.allowed_origins:
            raise CloseSocket(CLOSE_ORIGIN, "origin not allowed")
        token = socket.query_params.get("token") or next(
            (p[len(BEARER_PREFIX):] for p in offered if p.startswith(BEARER_PREFIX)), None)
        since = _parse_since(socket.query_params.get("since"))
        with admission.unauthenticated(address):  # holds no handshake slot
            caller, since = await _authenticate(socket, state.verifier, token, since)
        admission.check_user(hub.sockets_of(caller.user_id))
        async with admission.slot():  # the costly part: position, then the replay
            sub = await streams.join(state.pool, hub, metrics, user_id=caller.user_id, since=since,
                                     replay_limit=settings.ws_replay_limit,
                                     queue_limit=settings.ws_queue_size)
            tasks = [asyncio.create_task(_send_loop(socket, sub)),
                     asyncio.create_task(_receive_loop(socket, sub, settings.ws_idle_timeout)),
                     asyncio.create_task(_wait_closed(sub))]
            await streams.replay(hub, sub)
        done, _ = await asyncio.wait(tasks, timeout=max(0.0, caller.seconds_left()),
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise CloseSocket(CLOSE_AUTH, "token expired")
        for task in done:
            task.result()  # re-raise CloseSocket or a transport error
        if sub.close_code is not None:
            if sub.close_code == CLOSE_TOO_SLOW:
                metrics.slow_closes.inc()
            raise CloseSocket(sub.close_code, sub.close_reason)
    except Refused as refused:
        metrics.handshakes_refused.inc()
        await _close(socket, refused.code, refused.reason)
    except CloseSocket as close:
        if sub is not None:
            hub.remove(sub)  # at once: closing a stuck client may take a while
        for task in tasks:
            task.cancel()
        await _close(socket, close.code, close.reason)
    except WebSocketDisconnect:
        pass
    except store.DatabaseUnavailable:
        # An outage: "try again later"; the client reconnects with backoff and `since`.
        await _close(socket, CLOSE_BUSY, "database unavailable")
    except Exception:
        log.exception("WebSocket handler failed")
        await _close(socket, 1011, "internal error")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if sub is not None:
            hub.remove(sub)
        await _close(socket, 1000, "")
