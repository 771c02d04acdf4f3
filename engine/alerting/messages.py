"""Render decision alerts as short WhatsApp messages in the customer's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.clock import as_utc

# WhatsApp rejects bodies over 1,600 characters through Twilio.
MAX_BODY = 1600

URGENCY_BY_SEVERITY = {"CRITICAL": "urgent", "HIGH": "urgent", "MEDIUM": "standard", "LOW": "watch"}
_HEADINGS = {"urgent": "URGENT", "standard": "Action advised", "watch": "Watch"}


def money(amount: float) -> str:
    if abs(amount) >= 1_000_000:
        return f"${amount / 1_000_000:.1f}M"
    if abs(amount) >= 1_000:
        return f"${amount / 1_000:.0f}k"
    return f"${amount:.0f}"


def local_time(value: datetime | None, zone: str) -> str:
    if value is None:
        return "no fixed deadline"
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return as_utc(value).astimezone(tz).strftime("%a %d %b %H:%M %Z")


def render_decision(decision, customer) -> str:
    answers = decision.answers or {}
    urgency = URGENCY_BY_SEVERITY.get(decision.severity, "standard")
    what = answers.get("what", {})
    todo = answers.get("what_to_do", {})
    saving = max(todo.get("net_benefit_usd", 0.0), 0.0)
    lines = [
        f"RISKCAST {_HEADINGS[urgency]}: {what.get('chokepoint_name', decision.chokepoint)} "
        f"({decision.severity})",
        f"{decision.shipment_count} shipment(s), {money(decision.exposure_usd)} of cargo exposed; "
        f"expected loss {money(decision.expected_loss_usd)}.",
        f"Recommended: {decision.recommended_action} - costs {money(decision.action_cost_usd)}, "
        f"saves an expected {money(saving)}.",
        f"Decide by {local_time(decision.deadline, customer.timezone)}.",
        f"Confidence {decision.confidence:.0%}.",
        "Reply 1 to acknowledge, 2 for details, 3 to dismiss.",
    ]
    return "\n".join(lines)[:MAX_BODY]
