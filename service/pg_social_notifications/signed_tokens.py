"""The MAC of the service's signed links (unsubscribe, open): HMAC-SHA256 under a key
derived from NOTIFICATIONS_JWT_SECRET with the link's own label, over a purpose and the
link's fields. Each kind has its label and purpose, so no token passes for another kind,
nor for an access token or a stream ticket."""

from __future__ import annotations

import base64
import hashlib
import hmac


def link_mac(secret: str, key_label: bytes, purpose: bytes, *fields: str) -> str:
    """base64url (no padding) of the 32-byte MAC of `purpose` and `fields`, one per line."""
    key = hmac.new(secret.encode(), key_label, hashlib.sha256).digest()
    message = b"\n".join([purpose, *(field.encode() for field in fields)])
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def same_mac(given: str, expected: str) -> bool:
    return hmac.compare_digest(given, expected)
