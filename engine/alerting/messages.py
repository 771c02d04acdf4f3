"""Render alerts as WhatsApp messages: free text and the matching template variables.

Every message exists in two forms. The free-text body goes out inside the
recipient's 24-hour window, the template variables outside it. Both carry the
alert's reference, which lets the customer name the alert in a reply and lets
reconciliation find the message at Twilio after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from engine.alerting import formatting as fmt
from engine.clock import as_utc

URGENCIES = ("urgent", "standard", "watch")
_HEADINGS = {"urgent": "URGENT", "standard": "action advised", "watch": "watch"}
# A HIGH decision whose deadline is this close to its computation is urgent.
URGENT_LEAD = timedelta(hours=72)
REPLY_OPTIONS = "Reply 1 to acknowledge, 2 for details, 3 to dismiss."


@dataclass(frozen=True)
class Rendered:
    body: str
    variables: dict[str, str] = field(default_factory=dict)


def urgency_for(decision) -> str:
    """urgent, standard or watch, from severity, action and time left to act."""
    if decision.severity == "LOW" or decision.recommended_action in ("MONITOR", "DO_NOTHING"):
        return "watch"
    if decision.severity == "CRITICAL":
        return "urgent"
    if decision.severity == "HIGH" and decision.deadline is not None:
        if as_utc(decision.deadline) - as_utc(decision.as_of) <= URGENT_LEAD:
            return "urgent"
    return "standard"


def chokepoint_name(decision) -> str:
    what = (decision.answers or {}).get("what", {})
    return what.get("chokepoint_name") or decision.chokepoint


def _footer(reference: str, with_options: bool = True) -> list[str]:
    lines = [REPLY_OPTIONS] if with_options else []
    return lines + [f"Ref {reference}"]


def render_decision(decision, customer, reference: str, is_update: bool = False) -> Rendered:
    """The alert for one decision version, laid out by its urgency."""
    urgency = urgency_for(decision)
    heading = _HEADINGS[urgency] + (" update" if is_update else "")
    place = f"{chokepoint_name(decision)} ({decision.severity})"
    tz = customer.timezone
    saving = max(decision.net_benefit_usd or 0.0, 0.0)
    action = fmt.action_phrase(decision.recommended_action)
    count = fmt.shipments(decision.shipment_count)
    deadline = fmt.local_time(decision.deadline, tz)
    exposure = (f"{count}, {fmt.money(decision.exposure_usd)} of cargo exposed; expected "
                f"loss {fmt.money(decision.expected_loss_usd)} if nothing is done")
    if decision.recommended_action in ("MONITOR", "DO_NOTHING"):
        advice = f"{action}; no action needed yet"
    else:
        advice = (f"{action} - costs {fmt.money(decision.action_cost_usd)}, saves an "
                  f"expected {fmt.money(saving)}")

    if decision.deadline is None:
        decide_by = review_by = "No fixed deadline."
    else:
        decide_by, review_by = f"Decide by {deadline}.", f"Next review by {deadline}."

    lines = [f"RISKCAST {heading}: {place}"]
    if urgency == "urgent":
        lines += [f"Act now: {advice}.", decide_by, f"{exposure}."]
        waiting = _cost_of_waiting(decision)
        if waiting:
            lines.append(waiting)
    elif urgency == "standard":
        lines += [f"{exposure}.", f"Recommended: {advice}.", decide_by]
    else:
        lines += [f"{exposure}.", f"Recommended: {advice}.", review_by]
    lines.append(f"Probability {fmt.percent(decision.probability)}, confidence "
                 f"{fmt.confidence(decision.confidence)}.")

    variables = {
        "1": heading,
        "2": f"{place}: {exposure}",
        "3": advice,
        "4": deadline,
        "5": fmt.confidence(decision.confidence),
        "6": reference,
    }
    return Rendered(fmt.fit(lines, _footer(reference)), _variables(variables))


def _cost_of_waiting(decision) -> str | None:
    waiting = ((decision.answers or {}).get("confidence") or {}).get("cost_of_waiting_usd")
    if not waiting:
        return None
    lost = waiting.get("24h") or 0.0
    if lost <= 0:
        return None
    return f"Waiting 24 hours loses an expected {fmt.money(lost)} of that saving."


def render_notice(text: str, reference: str) -> Rendered:
    """Render a one-paragraph update: a decision expired, eased or was closed."""
    return Rendered(fmt.fit([f"RISKCAST update: {text}"], _footer(reference, False)),
                    _variables({"1": text, "2": reference}))


def expired_text(decision, customer) -> str:
    return (f"the {chokepoint_name(decision)} alert from "
            f"{fmt.local_time(decision.as_of, customer.timezone)} has expired: its "
            f"shipments are past the risk or its validity ended. Nothing more to do on it.")


def eased_text(old, new, customer) -> str:
    return (f"risk at {chokepoint_name(new)} has eased to {new.severity} for your "
            f"{fmt.shipments(new.shipment_count)}. The earlier advice to "
            f"{fmt.action_phrase(old.recommended_action)} no longer stands; we will "
            f"write again if it rises.")


def closed_text(decision, status: str) -> str:
    how = "marked as acted on" if status == "ACTED" else "dismissed by your RISKCAST team"
    return f"the {chokepoint_name(decision)} alert is closed: {how}."


def digest_line(decision, customer, reference: str) -> str:
    saving = max(decision.net_benefit_usd or 0.0, 0.0)
    return (f"{chokepoint_name(decision)} ({decision.severity}): "
            f"{fmt.action_phrase(decision.recommended_action)} by "
            f"{fmt.local_time(decision.deadline, customer.timezone)}, saves "
            f"{fmt.money(saving)} [Ref {reference}]")


def render_digest(items: list[str], cap: int, reference: str) -> Rendered:
    """Render one message for the alerts held back by the daily cap, one line each."""
    intro = (f"RISKCAST digest: {len(items)} alert(s) held back after your daily "
             f"limit of {cap}:")
    footer = ["Reply 2 and a Ref for details, e.g. \"2 RC...\".", f"Ref {reference}"]
    summary = "; ".join(items)
    return Rendered(fmt.fit([intro] + [f"- {item}" for item in items], footer),
                    _variables({"1": f"{len(items)} alert(s) held back after your daily "
                                     f"limit of {cap}: {summary}", "2": reference}))


def _variables(values: dict[str, str]) -> dict[str, str]:
    return {key: fmt.variable(value) for key, value in values.items()}

