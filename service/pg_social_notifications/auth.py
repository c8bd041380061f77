"""Who is calling: HS256 JWTs from the host, the user named by a configurable claim.

The default claim is an integer `user_id` (users.id). With
NOTIFICATIONS_JWT_USER_CLAIM=sub, `sub` holds the user's public_sqid and is
resolved through the users table. Every failure is an AuthError whose message
is safe to show to the client: it never echoes the token.

A token comes in `Authorization: Bearer`, or, with NOTIFICATIONS_JWT_COOKIE,
in the host's session cookie when there is no such header. A browser sends a
cookie with requests another site's page makes, so a state-changing request
authenticated by the cookie must come from a trusted Origin (origins.py).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeGuard

import jwt
from jwt.types import Options
from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.types import Scope

from pg_social_notifications import origins
from pg_social_notifications.settings import Settings
from pg_social_notifications.store import NotificationStore

MAX_TOKEN_LENGTH = 8192
VERIFIED_CACHE_SIZE = 8192  # tokens; about 2 MiB at most
# A user found by `sub` is looked up again after this: a row deleted or a public_sqid
# reassigned stops naming the old id within it.
SQID_CACHE_SECONDS = 60.0
# What a cross-site page can make a browser send with the user's cookie but that changes
# nothing: these need no trusted Origin (HEAD runs as GET, http_edges.py).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# users.id is a PostgreSQL integer (serial): anything larger names nobody.
MAX_USER_ID = 2**31 - 1
# An `exp` this far out (the year 36812) is a token that never expires by mistake.
MAX_EXP = 2**40
# The time claims we check ourselves, after PyJWT has checked the signature: its
# own checks accept `"exp": "1893456000"` (RFC 7519 wants a JSON number) and an
# `exp` too large for a timer, and which claims it checks varies by version.
PYJWT_OPTIONS: Options = {
    "require": ["exp"], "verify_exp": False, "verify_nbf": False, "verify_iat": False,
    "verify_aud": False, "verify_iss": False, "verify_sub": False, "verify_jti": False}


SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def _canonical_segment(segment: str) -> bool:
    """Unpadded base64url in its one canonical spelling (RFC 7515). Python's decoder
    skips stray characters and ignores the spare bits of the last one, so without this
    many spellings of one token would verify: a token is one exact string or nothing."""
    if not SEGMENT.fullmatch(segment):
        return False
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return False
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == segment


def _numeric_date(value: object) -> TypeGuard[int | float]:
    """A JSON number (RFC 7519 NumericDate): int or float, finite, not a boolean."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def check_time_claims(claims: dict[str, Any], now: float) -> None:
    """`exp` a number in the future (before MAX_EXP), `nbf` and `iat` numbers if
    present, `nbf` not in the future; no `aud` (this service has no audience)."""
    exp = claims.get("exp")
    if not _numeric_date(exp):
        raise AuthError("token exp claim must be a number")
    if exp <= now:
        raise AuthError("token expired")
    if exp >= MAX_EXP:
        raise AuthError("token exp claim is too far in the future")
    for claim in ("nbf", "iat"):
        if claim in claims and not _numeric_date(claims[claim]):
            raise AuthError(f"token {claim} claim must be a number")
    if "nbf" in claims and claims["nbf"] > now:
        raise AuthError("token is not valid yet (nbf)")
    if "aud" in claims:
        raise AuthError("token is meant for an audience; this service accepts none")


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
    """Checks tokens with one secret and finds the user they name.

    A browser sends one token with every request until it refreshes it, so the
    caller a token names is remembered (up to VERIFIED_CACHE_SIZE tokens, each
    until its `exp`, and at most SQID_CACHE_SECONDS when it was looked up by
    `sub`): checking the signature, the claims and the canonical encoding again
    cost a fifth of an unread-count's CPU. Only the exact string that verified
    is found; its expiry is checked on every use.
    """

    def __init__(self, secret: str, user_claim: str, store: NotificationStore) -> None:
        if not secret:
            raise ValueError("a JWT secret is required (NOTIFICATIONS_JWT_SECRET)")
        self._secret = secret
        self._claim = user_claim
        self._store = store
        self._verified: OrderedDict[str, tuple[Caller, float]] = OrderedDict()

    async def authenticate(self, token: str) -> Caller:
        """The caller named by a valid token, or AuthError; remembered for its next request."""
        now = time.time()
        caller = self._remembered(token, now)
        if caller is not None:
            return caller
        caller = await self._authenticate(token)
        valid_until = caller.expires_at
        if self._claim != "user_id":
            valid_until = min(valid_until, now + SQID_CACHE_SECONDS)
        self._verified[token] = (caller, valid_until)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)  # the oldest verified
        return caller

    async def authenticate_once(self, token: str) -> Caller:
        """As `authenticate`, for a token checked once (a socket's): not remembered,
        so 10k sockets' tokens do not fill the cache."""
        return self._remembered(token, time.time()) or await self._authenticate(token)

    def _remembered(self, token: str, now: float) -> Caller | None:
        known = self._verified.get(token)
        if known is None:
            return None
        caller, valid_until = known
        if now < valid_until:
            return caller
        del self._verified[token]
        return None

    def decode(self, token: str) -> dict[str, Any]:
        """Verify signature and expiry; return the claims."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthError("malformed token")
        segments = token.split(".")
        if len(segments) != 3 or not all(_canonical_segment(part) for part in segments):
            raise AuthError("malformed token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._secret, algorithms=["HS256"],
                options=PYJWT_OPTIONS,
            )
        except jwt.InvalidSignatureError as exc:
            raise AuthError("invalid token signature") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("token has no exp claim") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("malformed token") from exc
        check_time_claims(claims, time.time())
        return claims

    async def _authenticate(self, token: str) -> Caller:
        claims = self.decode(token)
        expires_at = float(claims["exp"])  # a number: check_time_claims
        if self._claim == "user_id":
            user_id = claims.get("user_id")
            # bool is an int in Python; a token saying `true` names nobody.
            if (not isinstance(user_id, int) or isinstance(user_id, bool)
                    or not 0 < user_id <= MAX_USER_ID):
                raise AuthError("token has no valid integer user_id claim")
            return Caller(user_id, expires_at)
        sqid = claims.get("sub")
        # A public_sqid is 1 to 16 printable characters; a NUL could not even be queried.
        if not isinstance(sqid, str) or not sqid or len(sqid) > 16 or not sqid.isprintable():
            raise AuthError("token has no valid sub claim")
        user_id = await self._store.user_id_by_sqid(sqid)
        if user_id is None:
            raise AuthError("token names an unknown user")
        return Caller(user_id, expires_at)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or AuthError."""
    if not authorization:
        raise AuthError("missing Authorization: Bearer <token> header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be 'Bearer <token>'")
    return token.strip()


class Credential(NamedTuple):
    """The token a request carries, and whether it came in the session cookie."""

    token: str
    from_cookie: bool


def cookie_token(scope: Scope, cookie_name: str) -> str | None:
    """The value of the session cookie `cookie_name`, or None (no name configured, no such
    cookie, or an empty one). The first of two same-named cookies wins, as browsers put
    the one of the longer path first (RFC 6265, 5.4)."""
    if not cookie_name:
        return None
    for pair in (origins.header(scope, b"cookie", "; ") or "").split(";"):
        name, equals, value = pair.partition("=")
        if equals and name.strip() == cookie_name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]  # a quoted cookie-value (RFC 6265, 4.1.1)
            return value or None
    return None


def http_credential(authorization: str | None, scope: Scope, cookie_name: str,
                    alternatives: tuple[str, ...] = ()) -> Credential:
    """The `Authorization: Bearer` token, or without that header the session cookie's, or
    AuthError naming what was missing (`alternatives`: the endpoint's other ways)."""
    if authorization:
        return Credential(bearer_token(authorization), from_cookie=False)
    token = cookie_token(scope, cookie_name)
    if token is not None:
        return Credential(token, from_cookie=True)
    ways = ["Authorization: Bearer <token> header", *alternatives]
    if cookie_name:
        ways.append(f"{cookie_name} cookie")
    raise AuthError("missing " + " or ".join(ways))


def check_cookie_origin(scope: Scope, method: str, settings: Settings) -> None:
    """403 for a state-changing request authenticated by the cookie without a trusted
    Origin: a page on another site can make the browser send it, cookie and all (CSRF)."""
    if method in SAFE_METHODS:
        return
    origin = origins.request_origin(scope)
    if origin is None:
        raise PermissionDeniedException(
            detail=f"a {method} authenticated by cookie needs an Origin header")
    if not origins.trusted(scope, origin, settings.allowed_origins):
        raise PermissionDeniedException(detail="origin not allowed for a request authenticated by cookie")


async def provide_caller(request: Request[Any, Any, Any], store: NotificationStore) -> Caller:
    """Litestar dependency: the authenticated caller of an HTTP request, or 401 (403 for a
    cookie-authenticated write from an untrusted Origin, before the token is looked at).

    It names `store` (unused: the verifier has it) so that Litestar resolves the two
    dependencies one after the other: independent ones are resolved concurrently in
    an anyio task group made for each request, a tenth of a request's CPU."""
    verifier: TokenVerifier = request.app.state.verifier
    settings: Settings = request.app.state.settings
    try:
        credential = http_credential(request.headers.get("authorization"), request.scope,
                                     settings.jwt_cookie)
        if credential.from_cookie:
            check_cookie_origin(request.scope, request.method, settings)
        return await verifier.authenticate(credential.token)
    except AuthError as exc:
        raise NotAuthorizedException(
            detail=str(exc), headers={"WWW-Authenticate": 'Bearer realm="notifications"'}
        ) from exc
