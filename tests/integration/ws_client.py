"""Small helpers for real WebSocket clients in tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The next server message, decoded; fails the test if none comes in time."""
    raw = await asyncio.wait_for(ws.recv(), timeout)
    message: dict[str, Any] = json.loads(raw)
    return message


async def close_code(ws: ClientConnection, timeout: float = 8.0) -> int | None:
    """Read until the server closes the socket; the close code it sent."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    return None


async def no_message(ws: ClientConnection, wait: float = 0.5) -> bool:
    """True when nothing arrives within `wait` seconds."""
    try:
        await asyncio.wait_for(ws.recv(), wait)
    except TimeoutError:
        return True
    return False


def connect(url: str, **kwargs: Any) -> websockets.asyncio.client.connect:
    return websockets.connect(url, open_timeout=5, close_timeout=2, **kwargs)
