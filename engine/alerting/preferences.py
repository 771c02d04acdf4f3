"""Customer alert preferences: quiet hours and the daily cap, in the customer's time zone."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.clock import as_utc

log = logging.getLogger(__name__)


def zone(name: str | None) -> ZoneInfo:
    """Return the customer's time zone, or UTC when the stored name is unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: using UTC", name)
        return ZoneInfo("UTC")


def in_quiet_hours(now: datetime, tz_name: str | None, start: int | None,
                   end: int | None) -> bool:
    """Check whether ``now`` falls in the quiet hours [start, end) of the customer's day.

    Hours are whole local hours 0-23. A span that wraps midnight (22 to 7) is
    quiet from 22:00 to 06:59. Equal or missing bounds mean no quiet hours.
    """
    if start is None or end is None or start == end:
        return False
    hour = as_utc(now).astimezone(zone(tz_name)).hour
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def quiet_hours_end(now: datetime, tz_name: str | None, end: int) -> datetime:
    """Return the next local ``end`` o'clock after ``now``, in UTC."""
    tz = zone(tz_name)
    local = as_utc(now).astimezone(tz)
    candidate = datetime.combine(local.date(), time(end), tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(end), tzinfo=tz)
    return candidate.astimezone(timezone.utc)


def local_day_start(now: datetime, tz_name: str | None) -> datetime:
    """Midnight of the customer's current day, in UTC."""
    tz = zone(tz_name)
    local = as_utc(now).astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz).astimezone(timezone.utc)


def next_local_day_start(now: datetime, tz_name: str | None) -> datetime:
    """Midnight of the customer's next day, in UTC: when held alerts become a digest."""
    tz = zone(tz_name)
    local = as_utc(now).astimezone(tz)
    tomorrow = local.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=tz).astimezone(timezone.utc)
