"""How far to trust an event assessment, with the reasons a person can check."""

from __future__ import annotations

from engine.decisions.events import ChokepointEvent

# Circuit that guards each source, as the freshness report maps them.
SOURCE_CIRCUITS = {"polymarket": "polymarket", "gdelt": "news", "portwatch": "ais",
                   "scfi": "news", "ais": "ais"}
# Data older than this is stale: weekly series get ten days, daily ones four.
STALE_AFTER_HOURS = {"polymarket": 48, "gdelt": 240, "portwatch": 96, "scfi": 240,
                     "ais": 24}
DEFAULT_STALE_AFTER_HOURS = 96

_STATUS_EFFECT = {
    "CONFIRMED": (0.3, "signals and measured transits agree"),
    "MATERIALIZING": (0.15, "transits have started to fall as signalled"),
    "SURPRISE": (0.1, "transits fell without a prior signal"),
    "PREDICTED_NOT_OBSERVED": (-0.1, "signalled, but transits are still normal"),
}


def confidence(event: ChokepointEvent, circuits: dict[str, str]) -> tuple[float, list[str]]:
    """Return a confidence in [0.05, 0.95] and the reasons behind it."""
    value = 0.5
    reasons = []
    effect = _STATUS_EFFECT.get(event.status)
    if effect is not None:
        value += effect[0]
        reasons.append(effect[1])

    inputs = event.signal_inputs + event.observation_inputs
    kinds = {"signals" for _ in event.signal_inputs[:1]} | {
        "transits" if o["metric"].startswith("transits") else "rates"
        for o in event.observation_inputs
    }
    if len(kinds) >= 2:
        value += 0.1
        reasons.append(f"{len(kinds)} independent kinds of evidence ({', '.join(sorted(kinds))})")
    elif len(kinds) == 1:
        value -= 0.1
        reasons.append(f"only one kind of evidence ({next(iter(kinds))})")

    stale = sorted({
        i["source"] for i in inputs
        if i["age_hours"] > STALE_AFTER_HOURS.get(i["source"], DEFAULT_STALE_AFTER_HOURS)
    })
    if stale:
        value -= 0.1 * len(stale)
        reasons.append(f"stale data from {', '.join(stale)}")

    sources = {i["source"] for i in inputs}
    open_circuits = sorted({
        SOURCE_CIRCUITS[s] for s in sources | set(SOURCE_CIRCUITS)
        if s in SOURCE_CIRCUITS and circuits.get(SOURCE_CIRCUITS[s], "closed") != "closed"
    })
    if open_circuits:
        value -= 0.1 * len(open_circuits)
        reasons.append(
            f"circuit {', '.join(open_circuits)} not closed: newer data may be missing"
        )
    return round(min(max(value, 0.05), 0.95), 2), reasons
