"""The email digests' unsubscribe link (List-Unsubscribe, RFC 8058 one-click).

The signed token in the query (unsubscribe_tokens.py) is the credential: no login, and
no Origin check (a mail provider's one-click POST comes from its own servers). `GET`
only shows a page with a button, and changes nothing: mail scanners prefetch links.
`POST` (the button, or the provider's `List-Unsubscribe=One-Click`) turns the user's
digests off. A forged, expired or malformed token: 400, nothing changed.
Not in the OpenAPI document: a link for mail clients and people, not for API clients
(web/types/openapi.d.ts is generated from that document). docs/API.md describes it.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import MediaType, Response, get, post
from litestar.datastructures import State
from psycopg_pool import AsyncConnectionPool

from pg_social_notifications.queries import sql
from pg_social_notifications.unsubscribe_tokens import InvalidToken, verify_token

PATH = "/api/notifications/unsubscribe"
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 30em; margin: 3em auto;">
<h1 style="font-size: 1.3em;">{title}</h1>
{body}
</body></html>
"""
FORM = """<p>Stop the email digests of your notifications?</p>
<form method="post" action="{action}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>"""


def _page(title: str, body: str, status: int) -> Response[str]:
    return Response(PAGE.format(title=escape(title), body=body), status_code=status,
                    media_type=MediaType.HTML,
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _refused(exc: InvalidToken) -> Response[str]:
    return _page("This unsubscribe link does not work",
                 f"<p>{escape(str(exc))}. Change your email settings on the site instead.</p>",
                 400)


def _user(state: State, token: str | None) -> int:
    settings = state.settings
    return verify_token(settings.jwt_secret, token or "")


@get(PATH, tags=["email"], summary="The unsubscribe page (changes nothing)",
     media_type=MediaType.HTML, include_in_schema=False)
async def unsubscribe_page(state: State, token: str | None = None) -> Response[str]:
    try:
        _user(state, token)
    except InvalidToken as exc:
        return _refused(exc)
    action = escape(f"{PATH}?token={token}", quote=True)
    return _page("Unsubscribe from email digests", FORM.format(action=action), 200)


@post(PATH, tags=["email"], summary="Turn email digests off (RFC 8058 one-click)",
      media_type=MediaType.HTML, status_code=200, include_in_schema=False)
async def unsubscribe(state: State, token: str | None = None) -> Response[str]:
    try:
        user_id = _user(state, token)
    except InvalidToken as exc:
        return _refused(exc)
    pool: AsyncConnectionPool[Any] = state.pool
    async with pool.connection() as conn:
        await conn.execute(sql("digest_unsubscribe"), {"user_id": user_id})
    return _page("You are unsubscribed",
                 "<p>No more email digests will be sent. You can turn them on again in "
                 "your notification preferences.</p>", 200)
