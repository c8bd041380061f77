"""Signed, expiring open tokens: a push or a digest link says which notification it is
about, whose, and through which channel, so opening it is recorded without a login.

`<notification id, 32 hex>.<user id>.<channel: p | e>.<expiry, unix seconds>.<MAC>`,
the MAC as in signed_tokens.py under its own label and purpose.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Literal, NamedTuple

from pg_social_notifications.signed_tokens import link_mac, same_mac

PURPOSE = b"notification-open"
KEY_LABEL = b"pg-social-notifications open-token key v1"
DEFAULT_TTL = 30 * 24 * 3600  # a digest opened weeks later still counts
TOKEN = re.compile(r"([0-9a-f]{32})\.([1-9][0-9]{0,9})\.([pe])\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")
Channel = Literal["push", "email"]
CODES: dict[str, Channel] = {"p": "push", "e": "email"}


class InvalidOpenToken(ValueError):
    """Forged, expired or malformed."""


class Opened(NamedTuple):
    notification_id: uuid.UUID
    user_id: int
    channel: Channel


def _mac(secret: str, notification: str, user_id: str, code: str, expires: str) -> str:
    return link_mac(secret, KEY_LABEL, PURPOSE, notification, user_id, code, expires)


def make_open_token(secret: str, notification_id: uuid.UUID, user_id: int, channel: Channel, *,
                    now: float | None = None, ttl: int = DEFAULT_TTL) -> str:
    code = next(c for c, name in CODES.items() if name == channel)
    expires = str(int(now if now is not None else time.time()) + ttl)
    fields = (notification_id.hex, str(user_id), code, expires)
    return ".".join((*fields, _mac(secret, *fields)))


def verify_open_token(secret: str, token: str, *, now: float | None = None) -> Opened:
    found = TOKEN.fullmatch(token)
    if found is None or int(found[2]) > 2**31 - 1:
        raise InvalidOpenToken("the link is malformed")
    if not same_mac(found[5], _mac(secret, found[1], found[2], found[3], found[4])):
        raise InvalidOpenToken("the link is not valid")
    if int(found[4]) < (now if now is not None else time.time()):
        raise InvalidOpenToken("the link has expired")
    return Opened(uuid.UUID(hex=found[1]), int(found[2]), CODES[found[3]])
