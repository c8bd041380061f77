"""Signed test tokens, the way the host signs them (HS256, with exp)."""

from __future__ import annotations

import time
from typing import Any

import jwt


def make_token(user_id: int | str, secret: str, *, ttl: float = 3600, claim: str = "user_id",
               **extra: Any) -> str:
    """A JWT naming `user_id` in `claim` (a users.id, or a public_sqid for claim="sub")."""
    now = int(time.time())
    claims: dict[str, Any] = {claim: user_id, "iat": now, "exp": int(now + ttl)}
    claims.update(extra)
    return jwt.encode(claims, secret, algorithm="HS256")
