"""Numbers and times written for people: "$41k", "Thu 21 Dec 18:00 UTC+4", "high (82%)"."""

from __future__ import annotations

from datetime import datetime

from engine.alerting.preferences import zone
from engine.clock import as_utc

# Twilio rejects WhatsApp bodies longer than 1,600 characters.
MAX_BODY = 1600
# WhatsApp rejects template variables with line breaks, tabs or more than four
# spaces in a row; long ones make the template body exceed 1,024 characters.
MAX_VARIABLE = 300

ACTION_PHRASES = {
    "REROUTE": "reroute",
    "DELAY": "delay departure",
    "INSURE": "insure the cargo",
    "MONITOR": "monitor",
    "DO_NOTHING": "no action",
}


def money(amount: float | None) -> str:
    if amount is None:
        return "$0"
    size = abs(amount)
    if size >= 1_000_000_000:
        return f"${amount / 1_000_000_000:.1f}B"
    if size >= 1_000_000:
        return f"${amount / 1_000_000:.1f}M"
    if size >= 10_000:
        return f"${amount / 1_000:.0f}k"
    if size >= 1_000:
        return f"${amount / 1_000:.1f}k"
    return f"${amount:.0f}"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def confidence(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value >= 0.75:
        band = "high"
    elif value >= 0.5:
        band = "moderate"
    else:
        band = "low"
    return f"{band} ({value:.0%})"


def shipments(count: int) -> str:
    return f"{count} shipment" if count == 1 else f"{count} shipments"


def local_time(value: datetime | str | None, tz_name: str | None) -> str:
    """Format a time in the customer's zone, e.g. "Thu 21 Dec 18:00 GMT" or "... UTC+4"."""
    if value is None:
        return "no fixed deadline"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = as_utc(value).astimezone(zone(tz_name))
    return f"{local:%a %d %b %H:%M} {_zone_label(local)}"


def _zone_label(local: datetime) -> str:
    name = local.tzname() or "UTC"
    if name[0] not in "+-":
        return name
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def action_phrase(action: str | None) -> str:
    return ACTION_PHRASES.get(action or "", (action or "no action").lower())


def variable(text: str) -> str:
    """Make ``text`` acceptable as a WhatsApp template variable."""
    flat = " ".join(text.split()) or "-"
    if len(flat) > MAX_VARIABLE:
        flat = flat[: MAX_VARIABLE - 3].rstrip() + "..."
    return flat


def fit(lines: list[str], footer: list[str], limit: int = MAX_BODY) -> str:
    """Join ``lines`` and ``footer``, dropping lines from the end of ``lines`` to fit.

    The footer (reply options and reference) always survives, because without
    the reference neither the customer nor reconciliation can name the message.
    """
    kept = list(lines)
    while kept:
        text = "\n".join(kept + footer)
        if len(text) <= limit:
            return text
        kept.pop()
    return "\n".join(footer)[:limit]
