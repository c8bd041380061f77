"""The event stream's pieces without a database: tickets, framing, positions."""

from __future__ import annotations

import time

import pytest

from pg_social_notifications.auth import AuthError, Caller
from pg_social_notifications.routes_sse import close_frame, frame
from pg_social_notifications.stream_tickets import StreamTickets
from pg_social_notifications.streams import parse_position
from pg_social_notifications.ws_messages import Hello, Read, encode

SECRET = "unit-secret-unit-secret-unit-secret-0"


def test_a_ticket_opens_once_for_its_user_and_the_tokens_expiry() -> None:
    tickets = StreamTickets(SECRET)
    caller = Caller(7, time.time() + 600)
    ticket = tickets.issue(caller)
    assert tickets.redeem(ticket) == caller
    with pytest.raises(AuthError, match="already used"):
        tickets.redeem(ticket)
    # Another process (same secret) accepts it too: single use is per process.
    assert StreamTickets(SECRET).redeem(ticket) == caller


def test_a_ticket_expires_and_never_outlives_its_token() -> None:
    tickets = StreamTickets(SECRET, ttl=30)
    now = time.time()
    with pytest.raises(AuthError, match="stream ticket expired"):
        tickets.redeem(tickets.issue(Caller(7, now + 600), now=now - 31), now=now)
    # A token with 5 s left: the ticket opens for 5 s only, not 30.
    short = tickets.issue(Caller(7, now + 5), now=now)
    with pytest.raises(AuthError, match="stream ticket expired"):
        tickets.redeem(short, now=now + 6)


@pytest.mark.parametrize("bend", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature
    lambda t: "A" + t[1:] if t[0] != "A" else "B" + t[1:],  # payload
    lambda t: t.replace(".", ""),
    lambda t: t + "=",  # a second spelling of the same bytes
    lambda t: t.partition(".")[0] + "=." + t.partition(".")[2],
    lambda t: "",
    lambda t: "x" * 1000,
    lambda t: "eyJhbGciOiJIUzI1NiJ9.e30.sig",  # a JWT is not a ticket
])
def test_a_bent_ticket_is_refused(bend: object) -> None:
    tickets = StreamTickets(SECRET)
    ticket = tickets.issue(Caller(7, time.time() + 600))
    with pytest.raises(AuthError):
        tickets.redeem(bend(ticket))  # type: ignore[operator]
    with pytest.raises(AuthError, match="signature"):
        StreamTickets("another-secret-another-secret-0").redeem(ticket)


def test_redeemed_nonces_are_forgotten_once_their_tickets_expire() -> None:
    tickets = StreamTickets(SECRET, ttl=30)
    now = time.time()
    for _ in range(100):
        tickets.redeem(tickets.issue(Caller(7, now + 600), now=now), now=now)
    tickets.redeem(tickets.issue(Caller(7, now + 600), now=now + 40), now=now + 40)
    assert len(tickets._redeemed) == 1


def test_frames_carry_the_sockets_json_and_the_position_as_id() -> None:
    hello = encode(Hello(user_id=7, unread_count=2, position=57))
    # hello's id is where the stream continues: with a replay after since=55, that is 55.
    assert frame(hello, 55) == f"id: 55\ndata: {hello}\n\n".encode()
    read = encode(Read(position=56, unread_count=1, ids=[]))
    assert frame(read, 55) == f"id: 56\ndata: {read}\n\n".encode()
    assert close_frame(4401, "token expired") == (
        b'event: close\ndata: {"code":4401,"reason":"token expired"}\n\n')


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("0", 0), ("57", 57)])
def test_positions_parse(raw: str | None, expected: int | None) -> None:
    assert parse_position(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "1.5", "²", "１", " 5", "9" * 19, "abc"])
def test_bad_positions_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_position(raw)
