"""Signed, expiring unsubscribe tokens for the digests' List-Unsubscribe links.

`<user id>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`: the MAC covers a purpose
label, the user id and the expiry, under a key derived from NOTIFICATIONS_JWT_SECRET
with its own label, so no access token or stream ticket can pass for one (nor the
reverse). The token is the credential of the unsubscribe routes: no login needed.
"""

from __future__ import annotations

import re
import time

from pg_social_notifications.signed_tokens import link_mac, same_mac

PURPOSE = b"digest-unsubscribe"
KEY_LABEL = b"pg-social-notifications unsubscribe-token key v1"
DEFAULT_TTL = 60 * 24 * 3600  # 60 days: a digest read weeks late still unsubscribes
TOKEN = re.compile(r"([1-9][0-9]{0,9})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")


class InvalidToken(ValueError):
    """Forged, expired or malformed."""


def _mac(secret: str, user_id: int, expires: int) -> str:
    return link_mac(secret, KEY_LABEL, PURPOSE, str(user_id), str(expires))


def make_token(secret: str, user_id: int, *, now: float | None = None,
               ttl: int = DEFAULT_TTL) -> str:
    expires = int(now if now is not None else time.time()) + ttl
    return f"{user_id}.{expires}.{_mac(secret, user_id, expires)}"


def verify_token(secret: str, token: str, *, now: float | None = None) -> int:
    """The user id the token was made for; InvalidToken otherwise."""
    found = TOKEN.fullmatch(token)
    if found is None:
        raise InvalidToken("the unsubscribe link is malformed")
    user_id, expires = int(found[1]), int(found[2])
    if user_id > 2**31 - 1:
        raise InvalidToken("the unsubscribe link is malformed")
    if not same_mac(found[3], _mac(secret, user_id, expires)):
        raise InvalidToken("the unsubscribe link is not valid")
    if expires < (now if now is not None else time.time()):
        raise InvalidToken("the unsubscribe link has expired")
    return user_id
