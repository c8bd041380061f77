"""The opaque list cursor: base64url of a versioned keyset position ("v1:<seq>")."""

from __future__ import annotations

import base64
import binascii
import re

_PATTERN = re.compile(r"v1:([1-9][0-9]{0,18})")
MAX_CURSOR_LENGTH = 64


class CursorError(ValueError):
    """The cursor was not made by this service."""


def encode_cursor(before_seq: int) -> str:
    """The cursor for the page of rows with seq < before_seq."""
    raw = f"v1:{before_seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The seq a cursor stands for; CursorError when malformed."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise CursorError("malformed cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError("malformed cursor") from exc
    match = _PATTERN.fullmatch(raw)
    if match is None:
        raise CursorError("malformed cursor")
    value = int(match.group(1))
    if value > 2**63 - 1:
        raise CursorError("malformed cursor")
    return value
