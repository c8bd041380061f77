"""A user's quiet hours, in their own time zone: the one rule pushes and digests share."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, tzinfo


def user_zone(name: str) -> tzinfo:
    """The user's zone; an unknown or malformed name counts as UTC."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC


def clock(value: time | str | None) -> time | None:
    """A quiet-hours bound as stored (time) or as the API shows it ("HH:MM")."""
    if value is None or isinstance(value, time):
        return value
    hours, minutes = value.split(":")[:2]
    return time(int(hours), int(minutes))


def in_quiet_hours(local: time, start: time | None, end: time | None) -> bool:
    """Quiet from `start` to `end` local time, crossing midnight when start > end
    (22:00-07:00); never when either is unset or they are equal."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_now(now: datetime, time_zone: str, start: time | str | None, end: time | str | None) -> bool:
    """Whether the instant `now` falls in the user's quiet hours."""
    local = now.astimezone(user_zone(time_zone)).time().replace(tzinfo=None)
    return in_quiet_hours(local, clock(start), clock(end))
