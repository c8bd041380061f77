"""Token checks that need no database: signature, expiry, claims, header parsing."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import jwt
import pytest
from psycopg_pool import AsyncConnectionPool

from devkit.tokens import make_token
from pg_social_notifications.auth import AuthError, TokenVerifier, bearer_token

# Tokens in the parameter lists are built when the module is collected, minutes before
# a full suite runs them: their times must stay valid (or not) for far longer.
DAY = 86_400
SECRET = "unit-secret-" * 6  # long enough for every HMAC size PyJWT checks


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def spare_bit_flipped(token: str) -> str:
    """The same signature bytes spelled differently: an HS256 signature is 32 bytes, 43
    characters, and the last one's two low bits are spare."""
    return token[:-1] + B64URL[B64URL.index(token[-1]) ^ 1]


def verifier(claim: str = "user_id") -> TokenVerifier:
    # The pool is only used to resolve `sub`; these tests never reach it.
    return TokenVerifier(SECRET, claim, cast(AsyncConnectionPool[Any], None))


def test_valid_token_names_the_user() -> None:
    """A fresh HS256 token with an integer user_id authenticates that user."""
    caller = asyncio.run(verifier().authenticate(make_token(42, SECRET)))
    assert caller.user_id == 42 and 3500 < caller.seconds_left() <= 3600


@pytest.mark.parametrize(("token", "message"), [
    (make_token(1, SECRET, ttl=-1), "token expired"),
    (make_token(1, "x" * 40), "invalid token signature"),
    (jwt.encode({"user_id": 1}, SECRET, algorithm="HS256"), "token has no exp claim"),
    (jwt.encode({"user_id": 1, "exp": 9999999999}, SECRET, algorithm="HS512"), "malformed token"),
    (make_token(True, SECRET), "token has no valid integer user_id claim"),
    (make_token(0, SECRET), "token has no valid integer user_id claim"),
    (make_token("7", SECRET), "token has no valid integer user_id claim"),
    (make_token(2**31, SECRET), "token has no valid integer user_id claim"),
    (jwt.encode({"user_id": 1, "exp": str(int(time.time()) + DAY)}, SECRET, algorithm="HS256"),
     "token exp claim must be a number"),
    (jwt.encode({"user_id": 1, "exp": True}, SECRET, algorithm="HS256"),
     "token exp claim must be a number"),
    (jwt.encode({"user_id": 1, "exp": 2**62}, SECRET, algorithm="HS256"),
     "token exp claim is too far in the future"),
    (jwt.encode({"user_id": 1, "exp": int(time.time()) + 2 * DAY, "nbf": int(time.time()) + DAY},
                SECRET, algorithm="HS256"), "token is not valid yet (nbf)"),
    (jwt.encode({"user_id": 1, "exp": int(time.time()) + DAY, "iat": "yesterday"},
                SECRET, algorithm="HS256"), "token iat claim must be a number"),
    (jwt.encode({"user_id": 1, "exp": int(time.time()) + DAY, "aud": "other-site"},
                SECRET, algorithm="HS256"),
     "token is meant for an audience; this service accepts none"),
    ("a.b.c", "malformed token"),
    (make_token(1, SECRET) + "=", "malformed token"),
    (spare_bit_flipped(make_token(1, SECRET)), "malformed token"),
    (make_token(1, SECRET).replace(".", ".!", 1), "malformed token"),
    ("", "malformed token"),
    ("x" * 9000, "malformed token"),
])
def test_bad_tokens_are_refused_with_a_clear_message(token: str, message: str) -> None:
    """Every kind of bad token raises AuthError with a message that does not echo the token."""
    with pytest.raises(AuthError) as refused:
        asyncio.run(verifier().authenticate(token))
    assert str(refused.value) == message
    assert token[:20] not in str(refused.value) or not token


def test_float_exp_past_nbf_and_foreign_claims_are_accepted() -> None:
    """RFC 7519 allows a fractional NumericDate; iss, jti and the host's own claims are ignored."""
    now = time.time()
    token = jwt.encode({"user_id": 5, "exp": now + 600.5, "nbf": now - 60, "iat": now - 60,
                        "iss": "https://site.example", "jti": 17, "role": ["admin"]},
                       SECRET, algorithm="HS256")
    caller = asyncio.run(verifier().authenticate(token))
    assert caller.user_id == 5 and 590 < caller.seconds_left() <= 601


def test_unsigned_none_algorithm_is_refused() -> None:
    """alg=none tokens are never accepted."""
    token = jwt.encode({"user_id": 1, "exp": 9999999999}, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(AuthError):
        verifier().decode(token)


def test_sub_mode_rejects_bad_sub_before_any_query() -> None:
    """In sub mode a missing or over-long sub is refused without touching the database."""
    for token in (make_token(5, SECRET), make_token("x" * 17, SECRET, claim="sub")):
        with pytest.raises(AuthError, match="no valid sub claim"):
            asyncio.run(verifier("sub").authenticate(token))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Token abc", "abc"])
def test_bearer_header_parsing_refuses_anything_else(header: str | None) -> None:
    """Only `Bearer <token>` is accepted."""
    with pytest.raises(AuthError):
        bearer_token(header)


def test_bearer_header_is_case_insensitive_on_the_scheme() -> None:
    """`bearer` in any case works, surrounding spaces are ignored."""
    assert bearer_token("  bearer abc.def.ghi ") == "abc.def.ghi"


def test_empty_secret_is_a_configuration_error() -> None:
    """The verifier refuses to exist without a secret."""
    with pytest.raises(ValueError):
        TokenVerifier("", "user_id", cast(AsyncConnectionPool[Any], None))


def test_a_remembered_token_still_expires_and_a_respelling_is_not_remembered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The verified-token cache answers only for the exact string that verified, and
    only until its exp: a token used a second before it expires fails a second after."""
    check = verifier()
    token = make_token(7, SECRET, ttl=60)
    assert asyncio.run(check.authenticate(token)).user_id == 7
    assert asyncio.run(check.authenticate(token)).user_id == 7  # from the cache
    with pytest.raises(AuthError, match="malformed token"):
        asyncio.run(check.authenticate(spare_bit_flipped(token)))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 61)
    with pytest.raises(AuthError, match="token expired"):
        asyncio.run(check.authenticate(token))


def test_the_verified_token_cache_is_bounded() -> None:
    """Many valid tokens keep at most VERIFIED_CACHE_SIZE of them, oldest out first."""
    from pg_social_notifications import auth

    check = verifier()
    tokens = [make_token(user, SECRET) for user in range(1, auth.VERIFIED_CACHE_SIZE + 11)]
    for token in tokens:
        asyncio.run(check.authenticate(token))
    assert len(check._verified) == auth.VERIFIED_CACHE_SIZE
    assert tokens[0] not in check._verified and tokens[-1] in check._verified


def test_a_socket_token_is_checked_without_being_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    """`authenticate_once` (a socket's one check) answers like `authenticate`, uses a token
    REST remembered, and keeps its own out of the cache."""
    check = verifier()
    socket_token, rest_token = make_token(8, SECRET, ttl=60), make_token(9, SECRET, ttl=60)
    assert asyncio.run(check.authenticate_once(socket_token)).user_id == 8
    assert asyncio.run(check.authenticate(rest_token)).user_id == 9
    checked: list[str] = []
    real = check.decode

    def decode(token: str) -> dict[str, Any]:
        checked.append(token)
        return real(token)

    monkeypatch.setattr(check, "decode", decode)
    assert asyncio.run(check.authenticate_once(rest_token)).user_id == 9  # remembered
    assert asyncio.run(check.authenticate_once(socket_token)).user_id == 8  # checked again
    assert checked == [socket_token]
    with pytest.raises(AuthError, match="malformed token"):
        asyncio.run(check.authenticate_once("not.a.token"))
