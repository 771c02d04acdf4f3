"""Texts sent back to a customer who replied: details, confirmations and help."""

from __future__ import annotations

from engine.alerting import formatting as fmt
from engine.alerting.messages import chokepoint_name

HELP = (
    "RISKCAST: reply 1 to acknowledge the latest alert, 2 for its details, 3 to "
    "dismiss it. To answer an older alert add its Ref, e.g. \"2 RCABCD2345\"."
)
# Shipments listed one by one in a details reply before the rest are counted.
MAX_SHIPMENT_LINES = 5


def details(decision, customer) -> str:
    """Write out the seven answers of a decision, short enough for one WhatsApp message."""
    answers = decision.answers or {}
    tz = customer.timezone
    what = answers.get("what", {})
    how_bad = answers.get("how_bad", {})
    why = answers.get("why", {})
    todo = answers.get("what_to_do", {})
    conf = answers.get("confidence", {})

    lines = [
        f"RISKCAST details: {chokepoint_name(decision)} ({decision.severity}), "
        f"decision {decision.id} v{decision.version}, {decision.status.lower()}.",
        f"What: {what.get('event_key', decision.event_key)}; signals and reality "
        f"{str(what.get('reconciliation', 'unknown')).lower().replace('_', ' ')}.",
        f"How bad: {fmt.money(how_bad.get('exposure_usd', decision.exposure_usd))} "
        f"exposed, expected loss {fmt.money(decision.expected_loss_usd)}, probability "
        f"{fmt.percent(decision.probability)}.",
        "Why: " + _why(why) + ".",
        f"Do: {fmt.action_phrase(decision.recommended_action)}, costs "
        f"{fmt.money(decision.action_cost_usd)}, saves an expected "
        f"{fmt.money(max(decision.net_benefit_usd or 0.0, 0.0))}.",
    ]
    alternatives = _alternatives(todo.get("alternatives") or [], decision.recommended_action)
    if alternatives:
        lines.append(f"Instead: {alternatives}.")
    lines.append(f"By: {fmt.local_time(decision.deadline, tz)}.")
    reasons = "; ".join(conf.get("reasons") or [])
    lines.append(f"Confidence: {fmt.confidence(decision.confidence)}"
                 + (f" - {reasons}." if reasons else "."))
    waiting = conf.get("cost_of_waiting_usd") or {}
    if any(waiting.values()):
        costs = ", ".join(f"{span} {fmt.money(value)}" for span, value in waiting.items())
        lines.append(f"Cost of waiting: {costs}.")
    lines.append("When:")
    lines += _when(answers.get("when") or [], tz)
    return fmt.fit(lines, ["Reply 1 to acknowledge, 3 to dismiss."])


def _why(why: dict) -> str:
    parts = []
    if why.get("signal_probability") is not None:
        parts.append(f"markets at {fmt.percent(why['signal_probability'])}")
    if why.get("transit_change_pct") is not None:
        parts.append(f"transits {why['transit_change_pct']:+.0f}%")
    if why.get("rate_change_pct") is not None:
        parts.append(f"freight rates {why['rate_change_pct']:+.0f}%")
    return ", ".join(parts) or "no measurements recorded"


def _alternatives(options: list[dict], chosen: str) -> str:
    shown = [
        f"{fmt.action_phrase(o['action'])} {fmt.money(o.get('cost_usd'))}"
        for o in options
        if o.get("feasible") and o.get("action") not in (chosen, "MONITOR", "DO_NOTHING")
    ]
    return ", ".join(shown)


def _when(rows: list[dict], tz: str) -> list[str]:
    lines = [
        f"- {row.get('shipment_id')}: at the chokepoint "
        f"{fmt.local_time(row.get('reaches_at'), tz)}"
        for row in rows[:MAX_SHIPMENT_LINES]
    ]
    if len(rows) > MAX_SHIPMENT_LINES:
        lines.append(f"- and {len(rows) - MAX_SHIPMENT_LINES} more")
    return lines


def acknowledged(decision) -> str:
    return (f"Acknowledged: {chokepoint_name(decision)} ({decision.severity}). "
            f"Reply 2 for details or 3 to dismiss.")


def dismissed(decision) -> str:
    return f"Dismissed: {chokepoint_name(decision)} ({decision.severity}). We will not remind you."


def not_allowed(decision, wanted: str) -> str:
    return (f"The {chokepoint_name(decision)} alert is {decision.status.lower()} and cannot "
            f"be {wanted} any more.")


def no_alert(reference: str | None) -> str:
    if reference:
        return f"No alert with Ref {reference} was sent to this number. {HELP}"
    return f"There is no open alert for this number. {HELP}"
