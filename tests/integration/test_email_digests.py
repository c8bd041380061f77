"""Email digests end to end: `notifications digest --now` against a real local SMTP
server (aiosmtpd on 127.0.0.1), and the unsubscribe links against a running service."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller

from devkit.hostdata import add_blog_post, add_post, add_user, comment, react, sequence
from devkit.servers import SECRET, running_service
from pg_social_notifications.embedded_db import free_port
from pg_social_notifications.unsubscribe_tokens import make_token

Conn = psycopg.Connection[Any]
PUBLIC = "https://art.example"
HOSTILE = "<script>alert(1)</script>"


class Collector:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Collector, int]]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def digest_now(database_url: str, smtp_port: int, *, returncode: int = 0) -> str:
    env = {**os.environ, "DATABASE_URL": database_url,
           "NOTIFICATIONS_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
           "NOTIFICATIONS_PUBLIC_URL": PUBLIC, "NOTIFICATIONS_JWT_SECRET": SECRET,
           "NOTIFICATIONS_EMAIL_FROM": "Art <notifications@art.example>"}
    done = subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", "digest", "--now"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == returncode, done.stderr
    return done.stdout + done.stderr


def add_person(conn: Conn, handle: str, address: str | None, verified: bool) -> int:
    user_id = add_user(conn, handle)
    conn.execute("UPDATE users SET email = %s, email_verified = %s WHERE id = %s",
                 (address, verified, user_id))
    return user_id


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def recipients(collector: Collector) -> list[str]:
    return sorted(r for rcpts, _ in collector.messages for r in rcpts)


def test_digest_now_sends_once_per_verified_user_escaped_and_never_twice(
        conn: Conn, database_url: str, smtp: tuple[Collector, int]) -> None:
    collector, port = smtp
    alice = add_person(conn, "alice", "alice@example.com", True)
    bob = add_person(conn, "bob", "bob@example.com", False)  # unverified
    carol = add_person(conn, "carol", None, False)  # no address
    dave = add_person(conn, "dave", "dave@example.com", True)
    hostile = add_user(conn, HOSTILE[:50])
    for owner in (alice, bob, carol, dave):
        post = add_post(conn, owner, title="Sunset")
        react(conn, post, hostile)
        comment(conn, post, hostile, f"nice {HOSTILE} work")
    blog = add_blog_post(conn, dave)
    conn.execute("UPDATE blog_posts SET title = 'Notes' WHERE id = %s", (blog,))
    sequence(conn)
    # dave gets no reactions by email; his comment stays
    conn.execute("INSERT INTO notification_preferences (user_id, email_on_post_reactions)"
                 " VALUES (%s, false)", (dave,))

    assert "sent 2 digest(s)" in digest_now(database_url, port)
    assert recipients(collector) == ["alice@example.com", "dave@example.com"]
    by_rcpt = {rcpts[0]: m for rcpts, m in collector.messages}
    message = by_rcpt["alice@example.com"]
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "2 new notifications on art.example"
    assert message["Message-ID"] and message["Date"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(.+)>", str(message["List-Unsubscribe"]))
    assert unsubscribe and unsubscribe[1].startswith(PUBLIC + "/api/notifications/unsubscribe?token=")
    text, html = parts(message)
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert HOSTILE in text
    for link in re.findall(r'href="([^"]+)"', html):
        assert link.startswith(PUBLIC + "/"), link
    assert "reacted" not in parts(by_rcpt["dave@example.com"])[0]

    collector.messages.clear()
    assert "sent 0 digest(s)" in digest_now(database_url, port)
    assert collector.messages == []

    # a new notification goes in the next digest, the earlier ones do not; read ones never
    post = add_post(conn, alice, title="Second piece")
    react(conn, post, hostile, emoji="🌊")
    read_post = add_post(conn, alice, title="Already seen")
    react(conn, read_post, hostile)
    sequence(conn)
    conn.execute("UPDATE notifications SET is_read = true, read_at = now()"
                 " WHERE content_title = 'Already seen'")
    sequence(conn)
    assert "sent 1 digest(s)" in digest_now(database_url, port)
    (rcpts, message), = collector.messages
    assert rcpts == ["alice@example.com"]
    text, _ = parts(message)
    assert "Second piece" in text and "Sunset" not in text and "Already seen" not in text
    assert message["Subject"] == "1 new notification on art.example"

    # digests off: nothing, even with something new
    conn.execute("INSERT INTO notification_preferences (user_id, digest_schedule) VALUES (%s, 'off')"
                 " ON CONFLICT (user_id) DO UPDATE SET digest_schedule = 'off'", (alice,))
    react(conn, add_post(conn, alice, title="Third"), hostile)
    # erin: snoozed, so not even --now sends hers
    erin = add_person(conn, "erin", "erin@example.com", True)
    conn.execute("INSERT INTO notification_preferences (user_id, snoozed_until)"
                 " VALUES (%s, now() + interval '1 hour')", (erin,))
    react(conn, add_post(conn, erin, title="Snoozed"), hostile)
    # dave: only a reaction, which he does not get by email: no email
    react(conn, add_post(conn, dave, title="Fourth"), hostile)
    sequence(conn)
    collector.messages.clear()
    assert "sent 0 digest(s)" in digest_now(database_url, port)
    assert collector.messages == []


def schedule(conn: Conn, user_id: int) -> str:
    row = conn.execute("SELECT digest_schedule FROM notification_preferences WHERE user_id = %s",
                       (user_id,)).fetchone()
    return str(row[0]) if row else "daily"


def test_unsubscribe_link_get_changes_nothing_one_click_post_turns_digests_off(
        conn: Conn, database_url: str, smtp: tuple[Collector, int]) -> None:
    collector, port = smtp
    alice = add_person(conn, "alice", "alice@example.com", True)
    other = add_user(conn, "zed")
    react(conn, add_post(conn, alice), other)
    sequence(conn)
    digest_now(database_url, port)
    (_, message), = collector.messages
    link = str(message["List-Unsubscribe"]).strip("<>")
    token = parse_qs(urlsplit(link).query)["token"][0]
    with running_service(database_url) as service:
        url = service.base_url + "/api/notifications/unsubscribe"
        page = httpx.get(url, params={"token": token})
        assert page.status_code == 200 and "<form" in page.text and 'method="post"' in page.text
        assert schedule(conn, alice) == "daily"

        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        expired = make_token(SECRET, alice, now=time.time() - 61 * 24 * 3600)
        for bad in (forged, expired, "garbage", make_token("another secret", alice)):
            for method in ("GET", "POST"):
                answer = httpx.request(method, url, params={"token": bad},
                                       content=b"List-Unsubscribe=One-Click",
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
                assert answer.status_code == 400, (method, bad, answer.text)
                assert "unsubscribe link" in answer.text
        assert httpx.post(url, content=b"List-Unsubscribe=One-Click").status_code == 400
        assert schedule(conn, alice) == "daily"

        done = httpx.post(url, params={"token": token}, content=b"List-Unsubscribe=One-Click",
                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                   "Origin": "https://mail.example"})
        assert done.status_code == 200, done.text
        assert schedule(conn, alice) == "off"


def test_the_service_sends_due_digests_itself(conn: Conn, database_url: str,
                                              smtp: tuple[Collector, int]) -> None:
    """With SMTP and the public URL set, a running service's worker sends a due digest
    (digest hour 0 in UTC: due at once), once."""
    collector, port = smtp
    alice = add_person(conn, "alice", "alice@example.com", True)
    react(conn, add_post(conn, alice), add_user(conn, "zed"))
    env = {"NOTIFICATIONS_SMTP_URL": f"smtp://127.0.0.1:{port}", "NOTIFICATIONS_PUBLIC_URL": PUBLIC,
           "NOTIFICATIONS_DIGEST_HOUR": "0", "NOTIFICATIONS_DIGEST_INTERVAL": "0.2"}
    with running_service(database_url, env=env):
        deadline = time.monotonic() + 15
        while not collector.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # several more rounds: still one email
    assert recipients(collector) == ["alice@example.com"]


class Picky(Collector):
    """Refuses some addresses for good (550 at RCPT) and defers some messages once (451)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: set[str] = set()
        self.defer_once: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        deferred = self.defer_once & set(envelope.rcpt_tos)
        if deferred:
            self.defer_once -= deferred
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


def marks(conn: Conn, *users: int) -> list[tuple[int, bool]]:
    """(covered_seq, last_sent_at is set) per user; (0, False) without a row."""
    found = dict(conn.execute("SELECT user_id, (covered_seq, last_sent_at IS NOT NULL)"
                              " FROM notification_digests WHERE user_id = ANY(%s)",
                              (list(users),)).fetchall())
    return [(int(found[u][0]), found[u][1] == "t") if u in found else (0, False) for u in users]


def test_a_refused_or_deferred_digest_marks_nothing_and_goes_in_the_next_one(
        conn: Conn, database_url: str) -> None:
    picky = Picky()
    port = free_port()
    controller = Controller(picky, hostname="127.0.0.1", port=port)
    controller.start()
    alice = add_person(conn, "alice", "alice@example.com", True)
    bob = add_person(conn, "bob", "bob@example.com", True)
    carol = add_person(conn, "carol", "carol@example.com", True)
    actor = add_user(conn, "zed")
    for owner in (alice, bob, carol):
        react(conn, add_post(conn, owner, title=f"Piece of {owner}"), actor)
    sequence(conn)
    picky.defer_once.add("alice@example.com")
    picky.refuse.add("bob@example.com")
    try:
        assert "sent 1 digest(s)" in digest_now(database_url, port)
        assert recipients(picky) == ["carol@example.com"]
        (alice_mark, alice_stamped), (bob_mark, bob_stamped), (carol_mark, _) = marks(conn, alice, bob, carol)
        assert alice_mark == 0 and not alice_stamped  # deferred: asked again next round
        assert bob_mark == 0 and bob_stamped  # refused for good: not again this period
        assert carol_mark > 0

        # The server takes them now: each gets the notification that did not go, once.
        picky.refuse.clear()
        picky.messages.clear()
        assert "sent 2 digest(s)" in digest_now(database_url, port)
        assert recipients(picky) == ["alice@example.com", "bob@example.com"]
        for _, message in picky.messages:
            assert "Piece of" in parts(message)[0]
        assert "sent 0 digest(s)" in digest_now(database_url, port)
    finally:
        controller.stop()

    # No SMTP server at all: a clear error, and nothing is marked.
    react(conn, add_post(conn, carol, title="Later"), actor)
    sequence(conn)
    before = marks(conn, carol)
    out = digest_now(database_url, port, returncode=69)
    assert "the SMTP server did not take the digests" in out and "Traceback" not in out
    assert marks(conn, carol) == before
