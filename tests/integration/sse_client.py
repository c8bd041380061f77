"""A small Server-Sent Events reader over httpx, for tests of /api/notifications/stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    """One dispatched event: its id (None when the event set none), type and data."""

    id: str | None
    event: str
    data: str

    def json(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.data)
        return message


@dataclass
class EventReader:
    """Parses an event stream as the WHATWG EventSource does (fields, comments, retry).

    A background task reads the lines (a read cancelled half-way would end httpx's
    line iterator), so waiting for an event with a timeout loses nothing.
    """

    response: httpx.Response
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    _events: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        event_id: str | None = None
        kind, data = "message", []
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if data:
                        self._events.put_nowait(Event(event_id, kind, "\n".join(data)))
                    event_id, kind, data = None, "message", []
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        data.append(value)
                    elif name == "id":
                        event_id = value
                    elif name == "event":
                        kind = value
                    elif name == "retry" and value.isdigit():
                        self.retry = int(value)
        except httpx.HTTPError:
            pass
        finally:
            self._events.put_nowait(None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def next(self, timeout: float = 5.0) -> Event:
        """The next event; TimeoutError if none in time, EOFError if the stream ended."""
        self.start()
        event = await asyncio.wait_for(self._events.get(), timeout)
        if event is None:
            self._events.put_nowait(None)  # ended for good
            raise EOFError("the stream ended")
        return event

    async def nothing(self, wait: float = 0.5) -> bool:
        """True when no event arrives within `wait` seconds."""
        try:
            await self.next(wait)
        except TimeoutError:
            return True
        return False


def stream_url(base_url: str) -> str:
    return base_url + "/api/notifications/stream"


@asynccontextmanager
async def open_stream(base_url: str, *, token: str | None = None, ticket: str | None = None,
                      since: int | str | None = None, last_event_id: str | None = None,
                      headers: dict[str, str] | None = None,
                      ) -> AsyncIterator[tuple[httpx.Response, EventReader]]:
    """GET the stream (authenticated by header or ticket); the response and a reader."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if last_event_id is not None:
        sent["Last-Event-ID"] = last_event_id
    params = {k: str(v) for k, v in (("ticket", ticket), ("since", since)) if v is not None}
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=60.0)) as client, \
            client.stream("GET", stream_url(base_url), params=params, headers=sent) as response:
        reader = EventReader(response)
        try:
            yield response, reader
        finally:
            await reader.stop()


async def ticket_for(base_url: str, token: str, headers: dict[str, str] | None = None) -> str:
    async with httpx.AsyncClient(timeout=10.0) as client:
        answer = await client.post(base_url + "/api/notifications/stream/ticket",
                                   headers={"Authorization": f"Bearer {token}", **(headers or {})})
    assert answer.status_code == 200, answer.text
    ticket: str = answer.json()["ticket"]
    return ticket
