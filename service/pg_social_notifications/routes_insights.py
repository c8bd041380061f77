"""Insight routes (docs/API.md, Insight): recording that a notification was opened, from
the page (the user's own credentials), a push (the signed token the push carried) or a
digest (its link: a redirect through us to the notification's page); and the operators'
report and page under /ops/, only when NOTIFICATIONS_OPS_TOKEN is set.

The digest's link is not an open redirect: it goes only to the link of the notification
the signed token names (made absolute to NOTIFICATIONS_PUBLIC_URL, http(s) only), or to
the site's notifications page.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Annotated, Any

import msgspec
from litestar import MediaType, Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.params import Parameter
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from pg_social_notifications.auth import Caller, provide_caller
from pg_social_notifications.digests import NOTIFICATIONS_PATH, absolute_link
from pg_social_notifications.insights import InsightReport, note_opened, report, variant_for
from pg_social_notifications.open_tokens import InvalidOpenToken, verify_open_token
from pg_social_notifications.paths import WEB_DIR
from pg_social_notifications.request_bodies import strict_body
from pg_social_notifications.routes_rest import parse_notification_id
from pg_social_notifications.settings import Settings
from pg_social_notifications.store import NotificationStore, run

MAX_REPORT_DAYS = 366


class OpenToken(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(max_length=200)]


class Experiment(msgspec.Struct, kw_only=True):
    """The A/B test of the notifications' format the caller is in: its name and the
    caller's variant (both null when none runs). The page and pushes show that format."""

    experiment: str | None
    variant: str | None


@get("/api/notifications/experiment", tags=["insight"],
     summary="The caller's variant of the format A/B test",
     dependencies={"caller": Provide(provide_caller)})
async def experiment(caller: Caller, state: State) -> Experiment:
    settings: Settings = state.settings
    return Experiment(experiment=settings.experiment or None, variant=variant_for(settings, caller.user_id))


@post("/api/notifications/{notification_id:str}/opened", status_code=204, tags=["insight"],
      summary="The caller opened this notification from the page",
      dependencies={"caller": Provide(provide_caller)})
async def opened_in_app(caller: Caller, store: NotificationStore, state: State,
                        notification_id: str) -> None:
    found = await run(store.pool, lambda conn: note_opened(
        conn, state.settings, caller.user_id, parse_notification_id(notification_id), "in_app"),
        transaction=False)
    if not found.found:
        raise NotFoundException(detail="no such notification")


@post("/api/notifications/opened", status_code=204, tags=["insight"],
      summary="A push was opened (the token it carried is the credential)")
async def opened_from_push(store: NotificationStore, state: State,
                           request: Request[Any, Any, Any], data: OpenToken) -> None:
    data = await strict_body(request, OpenToken) or data
    try:
        grant = verify_open_token(state.settings.jwt_secret or "", data.token)
    except InvalidOpenToken as exc:
        raise ValidationException(detail=str(exc)) from None
    # 204 even when the notification is gone: the push was opened all the same.
    await run(store.pool, lambda conn: note_opened(
        conn, state.settings, grant.user_id, grant.notification_id, grant.channel),
        transaction=False)


@get("/api/notifications/open", tags=["insight"], include_in_schema=False,
     summary="A digest's link: note the open, then go to the notification")
async def open_from_email(store: NotificationStore, state: State,
                          token: Annotated[str, Parameter(max_length=200)] = "") -> Response[Any]:
    settings: Settings = state.settings
    site = settings.public_url.rstrip("/")
    try:
        grant = verify_open_token(settings.jwt_secret or "", token)
    except InvalidOpenToken as exc:
        body = (f"<!DOCTYPE html><title>This link does not work</title><p>{escape(str(exc))}.</p>"
                f'<p><a href="{escape(site + NOTIFICATIONS_PATH)}">Your notifications</a></p>')
        return Response(body, status_code=400, media_type=MediaType.HTML,
                        headers={"Cache-Control": "no-store"})
    opened = await run(store.pool, lambda conn: note_opened(
        conn, settings, grant.user_id, grant.notification_id, grant.channel), transaction=False)
    target = (absolute_link(opened.content_url, settings.public_url) if opened.found else None) \
        or site + NOTIFICATIONS_PATH
    return Redirect(target, status_code=303,
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _check_ops_token(request: Request[Any, Any, Any], settings: Settings) -> None:
    given = request.headers.get("authorization", "")
    expected = f"Bearer {settings.ops_token}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAuthorizedException(detail="the operators' token is missing or wrong",
                                     headers={"WWW-Authenticate": 'Bearer realm="ops"'})


@get("/ops/insights.json", tags=["insight"], summary="The insight report (operators' token)")
async def insight_report(request: Request[Any, Any, Any], store: NotificationStore, state: State,
                         days: Annotated[int, Parameter(ge=1, le=MAX_REPORT_DAYS)] = 7) -> InsightReport:
    _check_ops_token(request, state.settings)
    until = datetime.now(UTC)
    return await run(store.pool, lambda conn: report(conn, state.settings, until - timedelta(days=days),
                                                     until), transaction=False)


@get("/ops/insights", include_in_schema=False, media_type=MediaType.HTML)
async def insight_page() -> Response[bytes]:
    """The operators' page: no data in it; it asks for the token, then reads the JSON."""
    return Response((WEB_DIR / "ops" / "insights.html").read_bytes(), media_type=MediaType.HTML,
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def ops_router() -> Router:
    """/ops/: the report, the page and its files (the chart library served from here)."""
    files = create_static_files_router(path="/ops/static", directories=[WEB_DIR / "ops"],
                                       name="ops-static", include_in_schema=False)
    return Router(path="/", route_handlers=[insight_report, insight_page, files])


open_handlers = [opened_in_app, opened_from_push, open_from_email]
