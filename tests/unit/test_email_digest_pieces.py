"""Email digests without a database: when a digest is due, the unsubscribe token, links
and the rendered message."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from email import message_from_bytes, policy

import pytest

from pg_social_notifications.digest_worker import Smtp, is_due
from pg_social_notifications.digests import DigestGroup, absolute_link, build_message, one_line
from pg_social_notifications.schemas import GroupActor, NotificationGroup
from pg_social_notifications.unsubscribe_tokens import InvalidToken, make_token, verify_token

NOW = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)  # 11:00 UTC, New York on summer time


def due(**given: object) -> bool:
    args: dict[str, object] = {"schedule": "daily", "time_zone": "UTC", "quiet_start": None,
                               "quiet_end": None, "snoozed_until": None, "last_sent_at": None,
                               "now": NOW, "digest_hour": 8}
    args.update(given)
    return is_due(**args)  # type: ignore[arg-type]


def test_daily_is_due_once_the_local_hour_is_reached_on_a_later_local_day() -> None:
    assert due()
    assert not due(schedule="off")
    assert not due(digest_hour=13)
    # 11:00 UTC is 07:00 in New York: not yet; 20:00 in Tokyo: due
    assert not due(time_zone="America/New_York")
    assert due(time_zone="Asia/Tokyo")
    assert not due(last_sent_at=NOW - timedelta(hours=3))  # already today
    assert due(last_sent_at=NOW - timedelta(days=1))
    # Tokyo: sent at 23:30 UTC the day before = 08:30 local today: not again today
    assert not due(time_zone="Asia/Tokyo", last_sent_at=datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    assert due(time_zone="Not/AZone")  # an unknown zone counts as UTC


def test_weekly_waits_seven_local_days() -> None:
    assert due(schedule="weekly")
    assert not due(schedule="weekly", last_sent_at=NOW - timedelta(days=6))
    assert due(schedule="weekly", last_sent_at=NOW - timedelta(days=7))


def test_quiet_hours_and_snooze_hold_a_due_digest() -> None:
    assert not due(quiet_start=clock(11), quiet_end=clock(13))
    assert due(quiet_start=clock(13), quiet_end=clock(10, 59))  # quiet from 13 past midnight
    assert not due(quiet_start=clock(22), quiet_end=clock(13))  # crossing midnight, 11:00 inside
    assert not due(snoozed_until=NOW + timedelta(minutes=1))
    assert due(snoozed_until=NOW - timedelta(minutes=1))


def test_token_round_trip_forgery_expiry_and_malformed() -> None:
    token = make_token("secret", 42)
    assert verify_token("secret", token) == 42
    with pytest.raises(InvalidToken):
        verify_token("other secret", token)
    user, expires, mac = token.split(".")
    with pytest.raises(InvalidToken):
        verify_token("secret", f"43.{expires}.{mac}")
    with pytest.raises(InvalidToken):
        verify_token("secret", f"{user}.{int(expires) + 1}.{mac}")
    with pytest.raises(InvalidToken, match="expired"):
        verify_token("secret", make_token("secret", 42, now=time.time() - 61 * 86400))
    for bad in ("", "42", "x.y.z", token + "A", " " + token, "042." + token.split(".", 1)[1]):
        with pytest.raises(InvalidToken):
            verify_token("secret", bad)


def test_links_are_absolute_and_only_http() -> None:
    base = "https://art.example"
    assert absolute_link("/posts/1", base) == "https://art.example/posts/1"
    assert absolute_link("posts/1", base + "/") == "https://art.example/posts/1"
    assert absolute_link("https://cdn.example/x", base) == "https://cdn.example/x"
    for bad in ("javascript:alert(1)", " javascript:alert(1)", "data:text/html,x",
                "mailto:a@b", "https://a.example/x\ny", None, ""):
        assert absolute_link(bad, base) is None
    assert one_line("a\r\nBcc: evil@example") == "a Bcc: evil@example"


def test_message_escapes_html_and_keeps_headers_clean() -> None:
    group = NotificationGroup(
        notification_type="comment", content_type="post", content_id=1,
        content_title="T\r\nBcc: x@evil", content_url="javascript:alert(1)", total=1, unread=1,
        actors=[GroupActor(actor_id=2, actor_handle="<script>x</script>")], emojis=[],
        latest_at=NOW, latest_seq=7, notification_ids=[])
    digest = build_message([DigestGroup(group, ["<b>hi</b>"])], to="a@example.com",
                           sender="n@art.example", public_url="https://art.example",
                           unsubscribe_token="1.2.abc")
    assert digest.covered_seq == 7 and digest.count == 1
    parsed = message_from_bytes(digest.message.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "1 new notification on art.example"
    assert parsed["Bcc"] is None
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;hi" in html
    assert "<script>x</script>" in text
    assert "javascript:" not in html and 'href="https://art.example/notifications"' in html


def test_smtp_urls() -> None:
    plain = Smtp.from_url("smtp://127.0.0.1:2525")
    assert (plain.hostname, plain.port, plain.use_tls, plain.start_tls) == ("127.0.0.1", 2525,
                                                                            False, False)
    tls = Smtp.from_url("smtps://me%40x:p%3Ass@mail.example")
    assert (tls.port, tls.use_tls, tls.username, tls.password) == (465, True, "me@x", "p:ss")
    assert Smtp.from_url("smtp+starttls://mail.example:587").start_tls
