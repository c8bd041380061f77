"""Stream tickets: how a browser's EventSource, which cannot send headers, authenticates.

The page POSTs its access token in the `Authorization` header and gets a
ticket: a short string, good for opening one stream within TICKET_TTL
seconds, that goes in the stream's URL instead of the token. A URL may be
logged by any proxy on the way (the corporate proxies that block WebSockets
are the likeliest to log every URL); a logged ticket is worth nothing once
used or a few seconds old, a logged access token for its whole lifetime.

A ticket is signed (HMAC-SHA256, with a key derived from the JWT secret, so
every process and host that accepts the tokens accepts the tickets, and a
ticket can never pass for a token) and carries the user, the token's expiry
(the stream ends then, as a socket does) and a nonce. Each process redeems a
nonce once; a second process could redeem it once more within the TTL, which
the docs state (docs/SSE.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import secrets
import time

from pg_social_notifications.auth import AuthError, Caller

TICKET_TTL = 30.0  # seconds from issue to opening the stream
MAX_TICKET_LENGTH = 256
_KEY_CONTEXT = b"notifications stream ticket v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:  # one spelling per ticket (see auth._canonical_segment)
        raise ValueError("non-canonical base64")
    return raw


class StreamTickets:
    """Issues and redeems this process's tickets."""

    def __init__(self, secret: str, ttl: float = TICKET_TTL) -> None:
        self._key = hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
        self._ttl = ttl
        # nonce -> when its ticket stops opening streams; insertion order is roughly that
        # order, so pruning from the front keeps this to about the tickets of one TTL.
        self._redeemed: dict[str, float] = {}

    @property
    def ttl(self) -> float:
        return self._ttl

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, caller: Caller, now: float | None = None) -> str:
        now = time.time() if now is None else now
        open_by = min(now + self._ttl, caller.expires_at)
        fields = f"{caller.user_id}:{caller.expires_at!r}:{open_by!r}:{secrets.token_hex(16)}"
        payload = _b64(fields.encode())
        return f"{payload}.{self._mac(payload)}"

    def redeem(self, ticket: str, now: float | None = None) -> Caller:
        """The caller a ticket was issued to, once; AuthError (safe to show) otherwise."""
        now = time.time() if now is None else now
        payload, _, mac = ticket.partition(".")
        if len(ticket) > MAX_TICKET_LENGTH or not payload or not mac:
            raise AuthError("malformed stream ticket")
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            raise AuthError("invalid stream ticket signature")
        try:
            user, expires, open_by, nonce = _unb64(payload).decode().split(":")
            caller = Caller(int(user), float(expires))
            deadline = float(open_by)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise AuthError("malformed stream ticket") from None
        if not (math.isfinite(deadline) and deadline > now):
            raise AuthError("stream ticket expired")
        if caller.expires_at <= now:
            raise AuthError("token expired")
        self._prune(now)
        if nonce in self._redeemed:
            raise AuthError("stream ticket already used")
        self._redeemed[nonce] = deadline
        return caller

    def _prune(self, now: float) -> None:
        while self._redeemed:
            nonce, deadline = next(iter(self._redeemed.items()))
            if deadline > now:
                return
            del self._redeemed[nonce]
