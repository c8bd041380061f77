"""Fuzzing token parsing (REST and socket), WebSocket client messages and hostile API inputs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import time
import urllib.parse
from typing import Any

import httpx
import psycopg
import pytest
import websockets
from hypothesis import assume, given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from devkit.hostdata import add_post, add_user, react
from devkit.servers import ServiceProcess
from devkit.tokens import make_token
from tests.fuzz.hostile import NASTY, hostile_text
from tests.fuzz.profile import fuzz
from tests.integration.service_fixtures import service, shared_database_url

__all__ = ["service", "shared_database_url"]
pytestmark = pytest.mark.timeout(240)
API = "/api/notifications"
FUZZ = fuzz(60)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text(30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text(10), inner, max_size=3),
    max_leaves=6)


PRINTABLE = st.characters(min_codepoint=33, max_codepoint=126)


def known_user(svc: ServiceProcess) -> int:
    with psycopg.connect(svc.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT id FROM users WHERE handle = 'fuzz_token_user'").fetchone()
        if row is not None:
            return int(row[0])
        user = add_user(conn, "fuzz_token_user")
        react(conn, add_post(conn, user), add_user(conn, "fuzz_token_actor"))
        return user


def numeric_date(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def claims_are_valid(claims: dict[str, Any]) -> bool:
    """The service's rule, written out (docs/API.md, Authentication): an integer user_id
    naming a possible user; `exp` a number in the future and before 2**40; `nbf` and `iat`,
    when present, numbers, `nbf` not in the future; no `aud`. Other claims do not matter."""
    user_id, exp, now = claims.get("user_id"), claims.get("exp"), time.time()
    if not (isinstance(user_id, int) and not isinstance(user_id, bool)
            and 0 < user_id <= 2**31 - 1):
        return False
    if not (isinstance(exp, int | float) and numeric_date(exp) and now + 5 < exp < 2**40):
        return False
    if any(c in claims and not numeric_date(claims[c]) for c in ("nbf", "iat")):
        return False
    if "nbf" in claims:
        # Drawn values sit far from now; a borderline one would make the oracle a coin toss.
        assume(abs(claims["nbf"] - now) > 60)
        if claims["nbf"] > now:
            return False
    return "aud" not in claims


def mutate(token: str, how: int, junk: str) -> str:
    """A valid token bent in one of several ways (some, with empty junk, leave it whole)."""
    head, body, sig = token.split(".")
    return [
        # The last character's spare bits: the same signature bytes, spelled differently.
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        token[: len(token) // 2],
        f"{head}.{body}",
        f"{body}.{head}.{sig}",
        f"{head}.{body}.{sig}.{sig}",
        token + junk,
        junk + token,
        f"{head}.{junk}.{sig}",
        token.replace(".", "..", 1),
        token.upper(),
    ][how % 10]


@st.composite
def tokens(draw: st.DrawFn, secret: str, user: int) -> tuple[str, bool]:
    """(token, whether the service must accept it)."""
    kind = draw(st.integers(0, 2))
    if kind == 0:  # arbitrary text
        return draw(st.text(PRINTABLE, min_size=1, max_size=300)), False
    if kind == 1:  # a real token, bent: only the very same string is the token
        junk = draw(st.text(PRINTABLE, max_size=20))
        original = make_token(user, secret)
        bent = mutate(original, draw(st.integers(0, 9)), junk)
        return bent, bent == original
    now = int(time.time())
    claims: dict[str, Any] = {
        "user_id": draw(st.sampled_from([user, user, 0, -user, str(user), float(user), True, None,
                                         [user], {"id": user}, 2**70])),
        "exp": draw(st.sampled_from([now + 600, now - 600, float(now + 600), str(now + 600),
                                     None, True, 2**62, [now + 600], now])),
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    times = st.sampled_from([now - 3600, now + 3600, float(now - 3600), str(now - 3600)])
    extra = draw(st.dictionaries(st.sampled_from(["sub", "iat", "nbf", "aud", "iss", "jti"]),
                                 st.one_of(JSON, times), max_size=2))
    claims.update(extra)
    return sign(claims, secret), claims_are_valid(claims)


def sign(claims: dict[str, Any], secret: str) -> str:
    """HS256 by hand, so claims of any JSON type can be signed (PyJWT refuses some)."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


@FUZZ
@given(data=st.data())
def test_token_fuzzing_over_rest_is_401_or_200_never_5xx(service: ServiceProcess,
                                                          data: st.DataObject) -> None:
    """Any token: well-formed valid ones get 200, everything else 401 with a message; never 5xx."""
    user = known_user(service)
    token, valid = data.draw(tokens(service.secret, user))
    response = httpx.get(service.base_url + API + "/unread-count", timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == (200 if valid else 401), (token, response.text)
    if not valid:
        assert len(token) < 8 or token not in response.text  # never echoed back


@FUZZ
@given(data=st.data())
async def test_token_fuzzing_over_the_socket_is_4401_or_hello(service: ServiceProcess,
                                                              data: st.DataObject) -> None:
    """Any token in the URL or the auth message: hello when valid, else close 4401; never 1011."""
    user = known_user(service)
    token, valid = data.draw(tokens(service.secret, user))
    by_message = data.draw(st.booleans())
    url = service.ws_url if by_message else f"{service.ws_url}?token={urllib.parse.quote(token)}"
    async with websockets.connect(url, open_timeout=5, close_timeout=1) as ws:
        try:
            if by_message:
                await ws.send(json.dumps({"type": "auth", "token": token}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        except ConnectionClosed as closed:
            assert not valid, token
            assert closed.rcvd is not None and closed.rcvd.code == 4401, closed.rcvd
        else:
            assert valid, (token, first)
            assert first["type"] == "hello" and first["user_id"] == user, first


CLIENT_MESSAGES = st.one_of(
    JSON.map(json.dumps),
    st.dictionaries(st.sampled_from(["type", "token", "since", "x"]),
                    st.sampled_from(["ping", "auth", "pong", "hello", 1, None, [], {}, -1, 2**70]),
                    max_size=3).map(json.dumps),
    hostile_text(200),
    st.sampled_from(["ping", "PING", "ping ", '{"type":"ping"}', '{"type":"ping","x":1}', "{", "[]",
                     '{"type":"auth","token":"x"}', "\ufeff{}", "null", "1e999"]),
    st.binary(max_size=200),
)


@FUZZ
@given(messages=st.lists(CLIENT_MESSAGES, min_size=1, max_size=6))
async def test_client_message_fuzzing_never_breaks_a_socket(service: ServiceProcess,
                                                            messages: list[str | bytes]) -> None:
    """After hello, any client frames get pong, error, or a 4400 close; the socket still pings."""
    token = make_token(known_user(service), service.secret)
    async with websockets.connect(f"{service.ws_url}?token={token}", open_timeout=5,
                                  close_timeout=1) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        try:
            for message in messages:
                await ws.send(message)
                reply = await asyncio.wait_for(ws.recv(), 5)
                if reply != "pong":
                    assert json.loads(reply)["type"] in ("pong", "error"), reply
            await ws.send("ping")
            assert await asyncio.wait_for(ws.recv(), 5) == "pong"
        except ConnectionClosed as closed:
            # Only a binary frame that is not UTF-8 may end the session, and only with 4400.
            assert closed.rcvd is not None and closed.rcvd.code == 4400, closed.rcvd
            assert any(isinstance(m, bytes) for m in messages)


@FUZZ
@given(first=CLIENT_MESSAGES)
async def test_first_message_fuzzing_closes_cleanly(service: ServiceProcess, first: str | bytes) -> None:
    """Any first message that is not a valid auth closes with 4400 or 4401, never 1011 or a hang."""
    async with websockets.connect(service.ws_url, open_timeout=5, close_timeout=1) as ws:
        await ws.send(first)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code in (4400, 4401)


VALUES = st.one_of(hostile_text(80), st.sampled_from(NASTY), st.integers().map(str),
                   st.binary(max_size=40).map(lambda b: b.decode("latin-1")))


@FUZZ
@given(limit=VALUES, cursor=VALUES, unread=VALUES, window=VALUES, nid=VALUES,
       body=st.one_of(JSON.map(json.dumps), hostile_text(200), st.sampled_from(NASTY),
                      # deep nesting: a RecursionError (500) before the depth guard
                      st.builds(lambda n, open_, inner: open_ * n + inner,
                                st.integers(1, 3000), st.sampled_from(["[", '{"a":', "[{\"b\":"]),
                                JSON.map(json.dumps))),
       # Invalid UTF-8 inside a JSON string is a known 500 with its own test below.
       raw=st.binary(max_size=300).filter(lambda b: b'"' not in b))
def test_hostile_values_in_every_api_field_are_4xx_never_5xx(
        service: ServiceProcess, limit: str, cursor: str, unread: str, window: str, nid: str,
        body: str, raw: bytes) -> None:
    """Hostile strings and invalid UTF-8 in every query parameter, path and body get 2xx/4xx only."""
    token = make_token(known_user(service), service.secret)
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    quoted = urllib.parse.quote(nid, safe="")
    with httpx.Client(base_url=service.base_url + API, headers=headers, timeout=10) as http:
        responses = [
            http.get("/", params={"limit": limit, "cursor": cursor, "unread_only": unread}),
            http.get("/groups", params={"limit": limit, "window_hours": window}),
            http.delete(f"/{quoted}"),
            http.post("/mark-read", content=body.encode()),
            http.post("/mark-all-read", content=body.encode()),
            http.put("/preferences", content=body.encode()),
            http.post("/mark-read", content=raw),
            http.put("/preferences", content=b'{"notify_on_post_reactions": ' + raw + b"}"),
            http.get("/?cursor=" + urllib.parse.quote_from_bytes(raw)),
            http.delete("/" + urllib.parse.quote_from_bytes(raw, safe="")),
        ]
    for response in responses:
        assert response.status_code < 500, (response.request.method, response.request.url,
                                            response.text[:300])
        if response.status_code >= 400:
            assert response.json()["status_code"] == response.status_code


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/preferences", b'{"notify_on_post_reactions": "\xff"}'),
    ("PUT", "/preferences", b'{"\xff": true}'),
    ("POST", "/mark-read", b'["\xff\xfe"]'),
    ("POST", "/mark-all-read", b'{"up_to": "\xc3\x28"}'),
])
def test_invalid_utf8_inside_json_strings_is_400(service: ServiceProcess, method: str, path: str,
                                                 body: bytes) -> None:
    """Invalid UTF-8 inside a JSON string is the client's error (400), never a 500 (found by fuzzing)."""
    token = make_token(known_user(service), service.secret)
    response = httpx.request(method, service.base_url + API + path, content=body, timeout=10,
                             headers={"Authorization": f"Bearer {token}",
                                      "content-type": "application/json"})
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("user_id", [2**31, 2**63, 2**70])
def test_user_ids_beyond_any_users_row_are_refused(service: ServiceProcess, user_id: int) -> None:
    """A signed token naming a user id no `users.id` (integer) can hold is 401, not a server error."""
    token = sign({"user_id": user_id, "exp": int(time.time()) + 600}, service.secret)
    for path in ("/unread-count", "/", "/groups", "/preferences"):
        response = httpx.get(service.base_url + API + path, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (path, response.status_code, response.text[:200])


async def test_out_of_range_user_socket_cannot_stall_other_users(
        service: ServiceProcess) -> None:
    """A socket whose token names an impossible user id never stops others' deliveries."""
    with psycopg.connect(service.database_url, autocommit=True) as conn:
        owner, actor = add_user(conn, "stall_owner"), add_user(conn, "stall_actor")
        post = add_post(conn, owner)
        odd = sign({"user_id": 2**40, "exp": int(time.time()) + 600}, service.secret)
        async with websockets.connect(f"{service.ws_url}?token={odd}", close_timeout=1) as intruder, \
                websockets.connect(f"{service.ws_url}?token={make_token(owner, service.secret)}",
                                   close_timeout=1) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            # Every connected user is resynchronised after a LISTEN reconnect, in one batch.
            listeners = ("SELECT array_agg(pid) FROM pg_stat_activity"
                         " WHERE application_name = 'notifications-listener'"
                         " AND datname = current_database()")
            old = conn.execute(listeners).fetchone()
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE application_name = 'notifications-listener'"
                         " AND datname = current_database()")
            deadline = time.monotonic() + 30
            while True:  # until a new LISTEN connection is up
                now = conn.execute(listeners).fetchone()
                if now and now[0] and old and not set(now[0]) & set(old[0] or []):
                    break
                assert time.monotonic() < deadline, "the listener never reconnected"
                await asyncio.sleep(0.05)
            react(conn, post, actor, "⏱")
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert message["type"] == "notification"
            # The impossible user never became a subscriber: refused at auth, as a token.
            with pytest.raises(ConnectionClosed) as refused:
                await asyncio.wait_for(intruder.recv(), 5)
            assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401


@FUZZ
@given(since=st.one_of(st.integers(-10, 10**20).map(str), hostile_text(30),
                       st.sampled_from(["", "0", "00", "+1", "1.0", "1e3", "0x10", "٣", "1 ", "-0"])),
       by_message=st.booleans())
async def test_since_fuzzing_gets_hello_or_4400(service: ServiceProcess, since: str,
                                                by_message: bool) -> None:
    """Any `since` (query or auth message) gets hello (maybe resync) or a 4400 close, never 1011."""
    token = make_token(known_user(service), service.secret)
    if by_message:
        url, first = service.ws_url, json.dumps({"type": "auth", "token": token, "since": _as_json(since)})
    else:
        url, first = f"{service.ws_url}?token={token}&since={urllib.parse.quote(since)}", None
    async with websockets.connect(url, open_timeout=5, close_timeout=1) as ws:
        try:
            if first is not None:
                await ws.send(first)
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert hello["type"] == "hello", hello
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code in (4400, 4401), closed.rcvd


def _as_json(since: str) -> Any:
    """The value as a client might send it: a number when it parses as one, else the string."""
    try:
        return int(since)
    except ValueError:
        return since


@pytest.mark.parametrize("since", ["²", "1²", "①", "¹⁰"])
async def test_unicode_digit_lookalikes_in_since_close_4400(service: ServiceProcess,
                                                           since: str) -> None:
    """A `since` of superscript or circled digits is a 4400 protocol error, not an internal 1011.

    str.isdigit() accepts them but int() does not (found by fuzzing `since`).
    """
    token = make_token(known_user(service), service.secret)
    url = f"{service.ws_url}?token={token}&since={urllib.parse.quote(since)}"
    async with websockets.connect(url, open_timeout=5, close_timeout=1) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400, closed.value.rcvd


TOKEN_CHARS = st.characters(whitelist_categories=(), whitelist_characters=(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))


@FUZZ
@given(protocols=st.lists(st.one_of(
    st.text(TOKEN_CHARS, min_size=1, max_size=40),
    st.sampled_from(["notifications.v1", "bearer.", "bearer..", "BEARER.x", "bearer.a.b.c"]),
    st.text(TOKEN_CHARS, min_size=1, max_size=40).map(lambda t: "bearer." + t)), max_size=5),
       with_valid=st.booleans())
async def test_subprotocol_fuzzing_gets_hello_or_4401(service: ServiceProcess, protocols: list[str],
                                                      with_valid: bool) -> None:
    """Any Sec-WebSocket-Protocol list: hello with a valid bearer token, else 4401/4408; never 1011."""
    token = make_token(known_user(service), service.secret)
    offered = [*protocols, f"bearer.{token}"] if with_valid else protocols
    bearers = [p for p in offered if p.startswith("bearer.")]
    async with websockets.connect(service.ws_url, open_timeout=5, close_timeout=1,
                                  subprotocols=offered or None) as ws:  # type: ignore[arg-type]
        if not bearers:
            await ws.send(json.dumps({"type": "auth", "token": token}))
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 6))
            assert hello["type"] == "hello", hello
            assert not bearers or bearers[0] == f"bearer.{token}", "an invalid first bearer was skipped"
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code in (4400, 4401), closed.rcvd
            assert bearers and bearers[0] != f"bearer.{token}"
