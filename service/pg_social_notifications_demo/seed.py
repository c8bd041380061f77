"""`notifications serve --demo`: host tables, demo users and content, and a token for each.

Never for production: it creates the host's tables (CONTRACT §1) when they
are missing and inserts demo rows, idempotently, on every start.
"""

from __future__ import annotations

import os
import secrets
import time

import jwt
import msgspec
import psycopg

from pg_social_notifications import migrations
from pg_social_notifications.queries import sql
from pg_social_notifications.settings import Settings

DEMO_TOKEN_TTL = 7 * 24 * 3600


def demo_token(settings: Settings, user_id: int, sqid: str | None) -> str:
    """A token for a demo user in the configured claim style."""
    assert settings.jwt_secret
    now = int(time.time())
    claims: dict[str, object] = {"iat": now, "exp": now + DEMO_TOKEN_TTL}
    if settings.jwt_user_claim == "sub":
        claims["sub"] = sqid
    else:
        claims["user_id"] = user_id
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def seed(database_url: str) -> list[tuple[int, str, str | None]]:
    """Create host tables, apply migrations, insert demo rows; return (id, handle, sqid)."""
    migrations.create_host_tables(database_url)
    migrations.apply(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql("demo_seed"))
        rows = conn.execute(sql("demo_users")).fetchall()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


def prepare_demo(settings: Settings, database_url: str) -> Settings:
    """Seed the demo, choose a secret if none is set, and print how to try it."""
    users = seed(database_url)
    if not settings.jwt_secret:
        settings = msgspec.structs.replace(settings, jwt_secret=secrets.token_urlsafe(32))
    if not settings.vapid_private_key:
        # Web Push in the demo: a key pair made up for this run (README, "Web Push").
        from py_vapid import Vapid02

        vapid = Vapid02()
        vapid.generate_keys()
        settings = msgspec.structs.replace(
            settings, vapid_private_key=vapid.private_pem().decode(),
            vapid_subject=settings.vapid_subject or "mailto:demo@localhost.localdomain")
    if "NOTIFICATIONS_DRAIN_SECONDS" not in os.environ:
        # One machine, no replacement process: Ctrl-C stops at once.
        settings = msgspec.structs.replace(settings, drain_seconds=0.0)
    base = f"http://{settings.host}:{settings.port}"
    print("\nDemo ready. Tokens (valid 7 days):", flush=True)
    for user_id, handle, sqid in users:
        token = demo_token(settings, user_id, sqid)
        print(f"\n  {handle} (users.id={user_id})\n    token: {token}", flush=True)
        print(f"    page:  {base}/demo?as={handle}", flush=True)
    print(f"\nAPI: {base}/api/notifications/   docs: {base}/schema/swagger", flush=True)
    print(f"Demo page: {base}/demo", flush=True)
    print("Make a notification from psql, e.g.:\n"
          "  INSERT INTO reactions (post_id, user_id, emoji)\n"
          "  SELECT p.id, (SELECT id FROM users WHERE handle = 'bob'), '🔥'\n"
          "    FROM posts p WHERE p.public_sqid = 'p-alice-1';\n", flush=True)
    return settings
