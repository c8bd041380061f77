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
from litestar.exceptions import HTTPException, NotFoundException
from litestar.types import ControllerRouterHandler
from psycopg.rows import dict_row

from pg_social_notifications.paths import WEB_DIR
from pg_social_notifications.settings import Settings
from pg_social_notifications_demo.seed import demo_token

DEMO_PAGES_DIR = WEB_DIR / "demo"
COMMENT_TOMBSTONE = "[deleted]"
MAX_COMMENT_LENGTH = 2000
MAX_EMOJI_LENGTH = 20  # reactions.emoji is varchar(20)

# ---- SQL: reads for the panel, and the host's own writes -------------------------------

DEMO_LIST_USERS = "SELECT id, handle, public_sqid, avatar_url FROM users ORDER BY id LIMIT 100"
DEMO_USER_BY_ID = "SELECT id, public_sqid FROM users WHERE id = %(user_id)s"
DEMO_LIST_CONTENT = """
SELECT 'post' AS content_type, p.id AS content_id, p.title, p.art_url, p.owner_id, u.handle AS owner_handle
  FROM posts p JOIN users u ON u.id = p.owner_id
UNION ALL
SELECT 'blog_post', b.id, b.title, NULL, b.owner_id, u.handle
  FROM blog_posts b JOIN users u ON u.id = b.owner_id
 ORDER BY content_type DESC, content_id
 LIMIT 200
"""
# What one actor did lately, so the panel can offer to undo it.
DEMO_ACTOR_ACTIVITY = """
SELECT * FROM (
    SELECT 'reaction' AS kind, 'post' AS content_type, r.id::text AS source_id, p.title,
           r.emoji AS detail, r.created_at
      FROM reactions r JOIN posts p ON p.id = r.post_id WHERE r.user_id = %(actor_id)s
    UNION ALL
    SELECT 'reaction', 'blog_post', r.id::text, b.title, r.emoji, r.created_at
      FROM blog_post_reactions r JOIN blog_posts b ON b.id = r.blog_post_id WHERE r.user_id = %(actor_id)s
    UNION ALL
    SELECT 'comment', 'post', c.id::text, p.title, c.body, c.created_at
      FROM comments c JOIN posts p ON p.id = c.post_id
     WHERE c.author_id = %(actor_id)s AND NOT (c.deleted_by_owner OR c.deleted_by_mod OR c.hidden_by_mod)
    UNION ALL
    SELECT 'comment', 'blog_post', c.id::text, b.title, c.body, c.created_at
      FROM blog_post_comments c JOIN blog_posts b ON b.id = c.blog_post_id
     WHERE c.author_id = %(actor_id)s AND NOT (c.deleted_by_owner OR c.deleted_by_mod OR c.hidden_by_mod)
) activity
ORDER BY created_at DESC
LIMIT 20
"""
HOST_REACT = {
    "post": "INSERT INTO reactions (post_id, user_id, emoji)"
            " VALUES (%(content_id)s, %(actor_id)s, %(emoji)s)",
    "blog_post": "INSERT INTO blog_post_reactions (blog_post_id, user_id, emoji)"
                 " VALUES (%(content_id)s, %(actor_id)s, %(emoji)s)",
}
HOST_UNREACT = {
    "post": "DELETE FROM reactions WHERE id = %(source_id)s AND user_id = %(actor_id)s",
    "blog_post": "DELETE FROM blog_post_reactions WHERE id = %(source_id)s AND user_id = %(actor_id)s",
}
HOST_COMMENT = {
    "post": "INSERT INTO comments (id, post_id, author_id, body)"
            " VALUES (%(comment_id)s, %(content_id)s, %(actor_id)s, %(body)s)",
    "blog_post": "INSERT INTO blog_post_comments (id, blog_post_id, author_id, body)"
                 " VALUES (%(comment_id)s, %(content_id)s, %(actor_id)s, %(body)s)",
}
# The host never DELETEs a comment: its author "deletes" it by keeping the text aside.
HOST_DELETE_COMMENT = {
    "post": "UPDATE comments SET deleted_by_owner = true, original_body = body, body = %(tombstone)s,"
            " updated_at = now()"
            " WHERE id = %(source_id)s AND author_id = %(actor_id)s AND NOT deleted_by_owner",
    "blog_post": "UPDATE blog_post_comments SET deleted_by_owner = true, original_body = body,"
                 " body = %(tombstone)s, updated_at = now()"
                 " WHERE id = %(source_id)s AND author_id = %(actor_id)s AND NOT deleted_by_owner",
}
CONTENT_EXISTS = {
    "post": "SELECT 1 FROM posts WHERE id = %(content_id)s",
    "blog_post": "SELECT 1 FROM blog_posts WHERE id = %(content_id)s",
}

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
            await cur.execute(DEMO_LIST_USERS)
            return {"users": await cur.fetchall()}

    @get("/demo/api/content", include_in_schema=False)
    async def list_content() -> dict[str, Any]:
        async with await connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(DEMO_LIST_CONTENT)
            return {"content": await cur.fetchall()}

    @get("/demo/api/activity", include_in_schema=False)
    async def actor_activity(actor_id: int) -> dict[str, Any]:
        async with await connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(DEMO_ACTOR_ACTIVITY, {"actor_id": actor_id})
            return {"activity": await cur.fetchall()}

    @post("/demo/api/token", include_in_schema=False, status_code=200)
    async def sign_token(data: TokenRequest) -> TokenResponse:
        """DEMO ONLY: a token for any demo user, signed with the service's secret."""
        async with await connect() as conn:
            row = await (await conn.execute(DEMO_USER_BY_ID, {"user_id": data.user_id})).fetchone()
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
                statement = HOST_REACT[data.content_type]
            else:
                body = (data.body or "").strip()
                if not body or len(body) > MAX_COMMENT_LENGTH:
                    raise _bad_request(f"body must be 1-{MAX_COMMENT_LENGTH} characters")
                params.update(body=body, comment_id=uuid.uuid4())
                statement = HOST_COMMENT[data.content_type]
        else:
            if not data.source_id:
                raise _bad_request("source_id is required")
            if data.action == "unreact":
                if not (data.source_id.isascii() and data.source_id.isdigit()) or len(data.source_id) > 9:
                    raise _bad_request("source_id must be a reaction id")
                params["source_id"] = int(data.source_id)
                statement = HOST_UNREACT[data.content_type]
            else:
                try:
                    params["source_id"] = uuid.UUID(data.source_id)
                except ValueError:
                    raise _bad_request("source_id must be a comment id") from None
                statement = HOST_DELETE_COMMENT[data.content_type]
        async with await connect() as conn:
            if data.content_id is not None and data.action in ("react", "comment"):
                found = await (await conn.execute(CONTENT_EXISTS[data.content_type], params)).fetchone()
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

    return [home_page, profile_page, notifications_page, list_users, list_content, actor_activity,
            sign_token, act]

