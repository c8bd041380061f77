"""Cookie auth's pieces without a service: the session cookie read from a request, which
credential wins, the service's own origin, the setting, and logs without cookies."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest
from litestar.types import Scope

from pg_social_notifications import origins
from pg_social_notifications.auth import AuthError, Credential, cookie_token, http_credential
from pg_social_notifications.logging_setup import ScrubSecrets
from pg_social_notifications.settings import Settings


def scope(*headers: tuple[str, str], scheme: str = "http") -> Scope:
    return cast(Scope, {"type": "http", "scheme": scheme,
                        "headers": [(k.encode(), v.encode()) for k, v in headers]})


@pytest.mark.parametrize(("cookies", "expected"), [
    (["sid=abc"], "abc"),
    (["theme=dark; sid=abc; other=1"], "abc"),
    (["theme=dark", "sid=abc"], "abc"),  # two Cookie headers (HTTP/2 splits them)
    (["sid=first; sid=second"], "first"),  # the longer path's cookie comes first
    (['sid="abc"'], "abc"),
    (["  sid = abc  "], "abc"),
    (["sidx=abc; xsid=abc"], None),
    (["sid="], None),
    (["sid"], None),
    ([], None),
])
def test_the_session_cookie_is_found_among_the_others(cookies: list[str],
                                                      expected: str | None) -> None:
    """The named cookie's value, wherever it is in the header; nothing for a look-alike name
    or an empty value."""
    assert cookie_token(scope(*(("cookie", c) for c in cookies)), "sid") == expected


def test_no_cookie_is_read_when_none_is_configured() -> None:
    """An empty cookie name (the default) reads nothing, whatever the request carries."""
    assert cookie_token(scope(("cookie", "=abc; sid=abc")), "") is None


def test_bearer_wins_over_the_cookie_and_errors_say_what_is_missing() -> None:
    """The header's token when there is one (a bad header is not rescued by the cookie), else
    the cookie's; with neither, the message names every way this endpoint accepts."""
    both = scope(("authorization", "Bearer header.token.x"), ("cookie", "sid=cookie.token.x"))
    assert http_credential("Bearer header.token.x", both, "sid") == Credential(
        "header.token.x", from_cookie=False)
    cookie_only = scope(("cookie", "sid=cookie.token.x"))
    assert http_credential(None, cookie_only, "sid") == Credential("cookie.token.x", True)
    with pytest.raises(AuthError, match="^Authorization header must be 'Bearer <token>'$"):
        http_credential("Basic abc", cookie_only, "sid")
    with pytest.raises(AuthError, match=r"^missing Authorization: Bearer <token> header$"):
        http_credential(None, cookie_only, "")
    with pytest.raises(AuthError, match=r"^missing Authorization: Bearer <token> header or "
                                        r"\?ticket= or sid cookie$"):
        http_credential(None, scope(), "sid", alternatives=("?ticket=",))


@pytest.mark.parametrize(("scheme", "host", "expected"), [
    ("http", "127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("ws", "127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("wss", "art.example", "https://art.example"),
    ("https", "Art.Example:443", "https://art.example"),
    ("http", "art.example:80", "http://art.example"),
    ("http", "art.example:8080", "http://art.example:8080"),
    ("https", "art.example:80", "https://art.example:80"),
    ("http", "[::1]:80", "http://[::1]"),
    ("http", "[::1]:8000", "http://[::1]:8000"),
])
def test_the_services_own_origin_is_its_scheme_and_host(scheme: str, host: str,
                                                        expected: str) -> None:
    """Serialised as a browser serialises an Origin: lower case, no default port, a
    socket's ws/wss as http/https."""
    assert origins.own_origin(scope(("host", host), scheme=scheme)) == expected


def test_trusted_origins_are_the_services_own_and_the_listed_ones() -> None:
    """Its own or a listed Origin is trusted; none, `null`, a look-alike or two joined are not;
    without a Host header only the list counts."""
    request: Any = scope(("host", "127.0.0.1:8000"))
    listed = ("https://art.example",)
    for origin in ("http://127.0.0.1:8000", "https://art.example"):
        assert origins.trusted(request, origin, listed), origin
    for bad in (None, "null", "http://127.0.0.1", "https://127.0.0.1:8000", "https://evil.example",
                "https://art.example.evil.example", "https://art.example, https://evil.example"):
        assert not origins.trusted(request, bad, listed), bad
    assert origins.own_origin(scope()) is None
    assert not origins.trusted(scope(), "http://127.0.0.1:8000", listed)


def test_the_cookie_setting_is_read_and_checked() -> None:
    """NOTIFICATIONS_JWT_COOKIE is off by default, names the cookie, and must be a cookie name."""
    assert Settings.from_env({}).jwt_cookie == ""
    assert Settings.from_env({"NOTIFICATIONS_JWT_COOKIE": "__Host-session"}).jwt_cookie == (
        "__Host-session")
    for bad in ("a b", "a=b", "a;b", "sid,other", "séance"):
        with pytest.raises(ValueError, match="NOTIFICATIONS_JWT_COOKIE"):
            Settings.from_env({"NOTIFICATIONS_JWT_COOKIE": bad})


@pytest.mark.parametrize(("message", "args"), [
    ("< %s: %s", ("Cookie", "theme=dark; art_session=opaque-session-id")),
    ("< %s: %s", ("cookie", "art_session=opaque-session-id")),
    ("> %s: %s", ("Set-Cookie", "art_session=opaque-session-id; Path=/")),
    ("< %s: %s", ("Authorization", "Basic opaque-session-id")),
    ("< cookie: art_session=opaque-session-id", ()),
])
def test_credential_header_lines_are_logged_without_their_value(message: str,
                                                               args: tuple[str, ...]) -> None:
    """A handshake header line (websockets logs them at debug) keeps its name and loses its
    value when it is a Cookie or Authorization header, JWT-shaped or not."""
    record = logging.LogRecord("websockets.server", logging.DEBUG, __file__, 1, message, args, None)
    assert ScrubSecrets().filter(record)
    assert "opaque-session-id" not in record.getMessage()
    assert record.getMessage().endswith(": [redacted]")
    other = logging.LogRecord("websockets.server", logging.DEBUG, __file__, 1, "< %s: %s",
                              ("User-Agent", "cookie: yes"), None)
    ScrubSecrets().filter(other)
    assert other.getMessage() == "< User-Agent: cookie: yes"
