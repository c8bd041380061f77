"""Operations endpoints, no token: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from litestar import MediaType, Request, Response, get

from pg_social_notifications.queries import sql
from pg_social_notifications.schemas import HealthStatus


@get("/health/live", tags=["operations"], summary="The process is up")
async def live() -> HealthStatus:
    return HealthStatus(status="ok")


@get("/health/ready", tags=["operations"], summary="The database and the listener are up")
async def ready(request: Request[Any, Any, Any]) -> Response[HealthStatus]:
    state = request.app.state
    database = await state.store.check(timeout=2.0)
    listener = state.listener.connected.is_set()
    ok = database and listener
    depth: int | None = None
    oldest: float | None = None
    if database and getattr(state, "push_worker", None) is not None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0), state.pool.connection() as conn:
                row = await (await conn.execute(sql("push_outbox_depth"))).fetchone()
                depth, oldest = int(row[0]), round(float(row[1]), 3)
    return Response(HealthStatus(status="ok" if ok else "unavailable",
                                 database=database, listener=listener,
                                 push_outbox_depth=depth, push_outbox_oldest_seconds=oldest),
                    status_code=200 if ok else 503)


@get("/metrics", tags=["operations"], media_type=MediaType.TEXT, summary="Prometheus metrics",
     include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    body, content_type = request.app.state.metrics.exposition(request.headers.get("accept", ""))
    # As a header, not media_type: Litestar would add a second `charset` to a text/ type.
    return Response(body, headers={"content-type": content_type})
