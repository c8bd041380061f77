"""Quiet hours, the rule pushes and digests share: a window that may cross midnight, in
the user's own time zone, with its bounds as stored (time) or as the API shows them."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from pg_social_notifications.quiet_hours import clock, in_quiet_hours, quiet_now


@pytest.mark.parametrize(("start", "end", "at", "quiet"), [
    (time(22), time(7), time(23), True), (time(22), time(7), time(3), True),
    (time(22), time(7), time(22), True), (time(22), time(7), time(21, 59), False),
    (time(22), time(7), time(7), False), (time(22), time(7), time(12), False),
    (time(9), time(17), time(9), True), (time(9), time(17), time(17), False),
    (time(9), time(17), time(8, 59), False), (time(9), time(9), time(9), False),
    (None, time(9), time(3), False), (time(9), None, time(10), False),
])
def test_the_window(start: time | None, end: time | None, at: time, quiet: bool) -> None:
    assert in_quiet_hours(at, start, end) is quiet


def june(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 15, hour, minute, tzinfo=UTC)


def test_in_the_users_time_zone() -> None:
    # 20:30 UTC in June is 22:30 in Paris (UTC+2): quiet there, not in UTC.
    assert quiet_now(june(20, 30), "Europe/Paris", "22:00", "07:00")
    assert not quiet_now(june(20, 30), "UTC", "22:00", "07:00")
    assert not quiet_now(june(20, 30), "No/Such_Zone", "22:00", "07:00")  # counts as UTC
    assert quiet_now(june(20, 30), "Europe/Paris", time(22), time(7))


def test_bounds_as_text_or_time() -> None:
    assert clock("07:30") == time(7, 30)
    assert clock("07:30:00") == time(7, 30)
    assert clock(time(8)) == time(8)
    assert clock(None) is None
