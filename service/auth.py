"""Who is calling: HS256 JWTs from the host, the user named by a configurable claim.

The default claim is an integer `user_id` (users.id). With
NOTIFICATIONS_JWT_USER_CLAIM=sub, `sub` holds the user's public_sqid and is
resolved through the users table. Every failure is an AuthError whose message
is safe to show to the client: it never echoes the token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service import store
from service.queries import sql

MAX_TOKEN_LENGTH = 8192


# users.id is a PostgreSQL integer (serial): anything larger names nobody.
MAX_USER_ID = 2**31 - 1


class AuthError(Exception):
    """The token is missing, malformed, forged, expired or names no user."""


@dataclass(frozen=True)
class Caller:
    """An authenticated user and when their token stops being valid (epoch seconds)."""

    user_id: int
    expires_at: float

    def seconds_left(self) -> float:
        return self.expires_at - time.time()


class TokenVerifier:
    """Checks tokens with one secret and finds the user they name."""

    def __init__(self, secret: str, user_claim: str, pool: AsyncConnectionPool[Any]) -> None:
        if not secret:
            raise ValueError("a JWT secret is required (NOTIFICATIONS_JWT_SECRET)")
        self._secret = secret
        self._claim = user_claim
        self._pool = pool

    def decode(self, token: str) -> dict[str, Any]:
        """Verify signature and expiry; return the claims."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthError("malformed token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=["HS256"],
                options={"require": ["exp"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("invalid token signature") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("token has no exp claim") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("malformed token") from exc
        return claims

    async def authenticate(self, token: str) -> Caller:
        """The caller named by a valid token, or AuthError."""
        claims = self.decode(token)
        exp = claims.get("exp")
        expires_at = float(exp) if isinstance(exp, int | float) else 0.0
        if self._claim == "user_id":
            user_id = claims.get("user_id")
            # bool is an int in Python; a token saying `true` names nobody.
            if (not isinstance(user_id, int) or isinstance(user_id, bool)
                    or not 0 < user_id <= MAX_USER_ID):
                raise AuthError("token has no valid integer user_id claim")
            return Caller(user_id, expires_at)
        sqid = claims.get("sub")
        if not isinstance(sqid, str) or not sqid or len(sqid) > 16:
            raise AuthError("token has no valid sub claim")
        async def lookup(conn: AsyncConnection[Any]) -> tuple[Any, ...] | None:
            cur = await conn.execute(sql("user_id_by_sqid"), {"sqid": sqid})
            return await cur.fetchone()

        row = await store.run(self._pool, lookup, transaction=False)
        if row is None:
            raise AuthError("token names an unknown user")
        return Caller(int(row[0]), expires_at)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or AuthError."""
    if not authorization:
        raise AuthError("missing Authorization: Bearer <token> header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be 'Bearer <token>'")
    return token.strip()


async def provide_caller(request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    """Litestar dependency: the authenticated caller of an HTTP request, or 401."""
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return await verifier.authenticate(bearer_token(request.headers.get("authorization")))
    except AuthError as exc:
        raise NotAuthorizedException(
            detail=str(exc), headers={"WWW-Authenticate": 'Bearer realm="notifications"'}
        ) from exc
