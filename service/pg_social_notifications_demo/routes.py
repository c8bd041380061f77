"""The demo host pages and their API, mounted only by `notifications serve --demo`.

NEVER in production: `/demo/api/token` signs a token for any demo user with
the service's own secret, so anyone who can reach it can act as anyone.

The pages (web/demo/*.html) show the custom elements in a small host site.
The "act as another user" panel writes the host's tables exactly as the host
application does — plain INSERT / DELETE of reactions, INSERT of comments,
soft delete by UPDATE (deleted_by_owner, original_body, tombstone) — so the
triggers, not this module, decide what notifies whom.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import msgspec
import psycopg
from litestar import MediaType, Response, get, post
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.types import ControllerRouterHandler
from psycopg.rows import dict_row

from pg_social_notifications.auth import Caller, provide_caller
from pg_social_notifications.paths import WEB_DIR
from pg_social_notifications.queries import sql
from pg_social_notifications.settings import Settings
from pg_social_notifications_demo.seed import demo_token

DEMO_PAGES_DIR = WEB_DIR / "demo"
COMMENT_TOMBSTONE = "[deleted]"
MAX_COMMENT_LENGTH = 2000
MAX_EMOJI_LENGTH = 20  # reactions.emoji is varchar(20)

# The panel's reads and the host's own writes are named queries: db/queries/demo_*.sql.

ContentType = Literal["post", "blog_post"]


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    user_id: int


class TokenResponse(msgspec.Struct):
    user_id: int
    token: str


class ActRequest(msgspec.Struct, forbid_unknown_fields=True):
    """One host action by `actor_id`. `source_id` names the reaction or comment to undo."""

    actor_id: int
    action: Literal["react", "unreact", "comment", "delete_comment"]
    content_type: ContentType
    content_id: int | None = None
    emoji: str | None = None
    body: str | None = None
    source_id: str | None = None


class ActResponse(msgspec.Struct):
    action: str
    changed: int


class QuickActionRequest(msgspec.Struct):
    """What <notifications-page> POSTs for a quick action (notifications-page-actions.js):
    `emoji` or `body`, and the notification's fields. Unknown fields are let through, as a
    host's endpoint would, so a newer page does not break it."""

    notification_id: str
    content_type: ContentType
    content_id: int
    comment_id: str | None = None
    actor_id: int | None = None
    emoji: str | None = None
    body: str | None = None


def _page(name: str) -> Response[bytes]:
    return Response((DEMO_PAGES_DIR / name).read_bytes(), media_type=MediaType.HTML,
                    headers={"Cache-Control": "no-store"})


def _bad_request(detail: str) -> HTTPException:
    return HTTPException(status_code=400, detail=detail)


def demo_route_handlers(settings: Settings, database_url: str) -> list[ControllerRouterHandler]:
    """The demo pages and the demo-only API, bound to this settings object and database."""

    async def connect() -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(database_url, autocommit=True)

    @get("/demo", include_in_schema=False)
    async def home_page() -> Response[bytes]:
        return _page("index.html")

    @get("/demo/profile", include_in_schema=False)
    async def profile_page() -> Response[bytes]:
        return _page("profile.html")

    @get("/demo/notifications", include_in_schema=False)
    async def notifications_page() -> Response[bytes]:
        return _page("notifications.html")

    @get("/demo/api/users", include_in_schema=False)
    async def list_users() -> dict[str, Any]:
        async with await connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql("demo_list_users"))
            return {"users": await cur.fetchall()}

    @get("/demo/api/content", include_in_schema=False)
    async def list_content() -> dict[str, Any]:
        async with await connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql("demo_list_content"))
            return {"content": await cur.fetchall()}

    @get("/demo/api/activity", include_in_schema=False)
    async def actor_activity(actor_id: int) -> dict[str, Any]:
        async with await connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql("demo_actor_activity"), {"actor_id": actor_id})
            return {"activity": await cur.fetchall()}

    @post("/demo/api/token", include_in_schema=False, status_code=200)
    async def sign_token(data: TokenRequest) -> TokenResponse:
        """DEMO ONLY: a token for any demo user, signed with the service's secret."""
        async with await connect() as conn:
            row = await (await conn.execute(sql("demo_user_by_id"), {"user_id": data.user_id})).fetchone()
        if row is None:
            raise NotFoundException(detail="no such user")
        if settings.jwt_user_claim == "sub" and not row[1]:
            raise _bad_request("this user has no public_sqid to put in `sub`")
        return TokenResponse(user_id=data.user_id, token=demo_token(settings, int(row[0]), row[1]))

    @post("/demo/api/act", include_in_schema=False, status_code=200)
    async def act(data: ActRequest) -> ActResponse:
        """Write the host's tables as the host would, as `actor_id`."""
        params: dict[str, Any] = {"actor_id": data.actor_id, "content_id": data.content_id,
                                  "tombstone": COMMENT_TOMBSTONE}
        if data.action in ("react", "comment"):
            if data.content_id is None:
                raise _bad_request("content_id is required")
            if data.action == "react":
                emoji = (data.emoji or "").strip()
                if not emoji or len(emoji) > MAX_EMOJI_LENGTH:
                    raise _bad_request(f"emoji must be 1-{MAX_EMOJI_LENGTH} characters")
                params["emoji"] = emoji
                statement = sql(f"demo_react_{data.content_type}")
            else:
                body = (data.body or "").strip()
                if not body or len(body) > MAX_COMMENT_LENGTH:
                    raise _bad_request(f"body must be 1-{MAX_COMMENT_LENGTH} characters")
                params.update(body=body, comment_id=uuid.uuid4())
                statement = sql(f"demo_comment_{data.content_type}")
        else:
            if not data.source_id:
                raise _bad_request("source_id is required")
            if data.action == "unreact":
                if not (data.source_id.isascii() and data.source_id.isdigit()) or len(data.source_id) > 9:
                    raise _bad_request("source_id must be a reaction id")
                params["source_id"] = int(data.source_id)
                statement = sql(f"demo_unreact_{data.content_type}")
            else:
                try:
                    params["source_id"] = uuid.UUID(data.source_id)
                except ValueError:
                    raise _bad_request("source_id must be a comment id") from None
                statement = sql(f"demo_delete_comment_{data.content_type}")
        async with await connect() as conn:
            if data.content_id is not None and data.action in ("react", "comment"):
                exists = sql(f"demo_content_exists_{data.content_type}")
                found = await (await conn.execute(exists, params)).fetchone()
                if found is None:
                    raise NotFoundException(detail="no such content")
            try:
                cur = await conn.execute(statement, params)
            except psycopg.errors.ForeignKeyViolation:
                raise NotFoundException(detail="no such user") from None
            changed = cur.rowcount
        if changed == 0 and data.action in ("unreact", "delete_comment"):
            raise NotFoundException(detail="nothing to undo: not this actor's, or already gone")
        return ActResponse(action=data.action, changed=changed)

    # Quick actions, as the site would write them: the signed-in user (the token the page
    # already sends, checked like any request), the host's own checks, then its own tables.
    @post("/demo/api/react-back", include_in_schema=False, status_code=200,
          dependencies={"caller": Provide(provide_caller)})
    async def react_back(caller: Caller, data: QuickActionRequest) -> dict[str, Any]:
        """React with `emoji` to the newest artwork of the notification's actor."""
        emoji = (data.emoji or "").strip()
        if not emoji or len(emoji) > MAX_EMOJI_LENGTH:
            raise _bad_request(f"emoji must be 1-{MAX_EMOJI_LENGTH} characters")
        if data.actor_id is None or data.actor_id == caller.user_id:
            raise _bad_request("there is nobody to react back to")
        async with await connect() as conn:
            row = await (await conn.execute(sql("demo_react_back"), {
                "user_id": caller.user_id, "actor_id": data.actor_id, "emoji": emoji})).fetchone()
        if row is None:
            raise NotFoundException(detail="they have no artwork to react to yet")
        return {"reacted": emoji, "post_id": row[0]}

    @post("/demo/api/reply", include_in_schema=False, status_code=200,
          dependencies={"caller": Provide(provide_caller)})
    async def reply(caller: Caller, data: QuickActionRequest) -> dict[str, Any]:
        """Answer the notification's comment with `body`, under it in its thread."""
        body = (data.body or "").strip()
        if not body or len(body) > MAX_COMMENT_LENGTH:
            raise _bad_request(f"body must be 1-{MAX_COMMENT_LENGTH} characters")
        try:
            parent_id = uuid.UUID(data.comment_id or "")
        except ValueError:
            raise _bad_request("comment_id must be a comment id") from None
        async with await connect() as conn:
            row = await (await conn.execute(sql(f"demo_reply_{data.content_type}"), {
                "comment_id": uuid.uuid4(), "user_id": caller.user_id, "body": body,
                "parent_id": parent_id, "content_id": data.content_id})).fetchone()
        if row is None:
            raise NotFoundException(detail="no such comment to reply to")
        return {"replied": str(row[0])}

    return [home_page, profile_page, notifications_page, list_users, list_content, actor_activity,
            sign_token, act, react_back, reply]

