"""Per-decision totals and the choice of the recommended action."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.decisions.config import DecisionConfig
from engine.decisions.draft import WAIT_HOURS
from engine.decisions.events import ChokepointEvent
from engine.decisions.severity import SEVERITIES, severities_for

ACTIVE_ACTIONS = ("REROUTE", "DELAY", "INSURE")


def totals(legs: pd.DataFrame, active: dict[str, ChokepointEvent], config: DecisionConfig,
           previous: dict[tuple[str, str], str] | None = None) -> pd.DataFrame:
    """Sum the legs per decision and pick its recommended action and severity."""
    frame = pd.DataFrame({
        "decision": legs["decision"], "customer_id": legs["customer_id"],
        "chokepoint": legs["chokepoint"], "exposure": legs["value"],
        "expected_loss": legs["expected_loss"],
        "loss_if_disrupted": legs["loss_if_disrupted"],
    })
    for hours in WAIT_HOURS:
        frame[f"wait_{hours}h"] = legs[f"wait_{hours}h"]
    avoidable = legs["avoidable"].to_numpy(bool)
    frame["avoidable_n"] = avoidable.astype(int)
    frame["avoidable_extra_days"] = np.where(
        avoidable, legs["alternative_extra_days"].to_numpy(float), 0.0
    )
    frame["blocked_n"] = (avoidable & ~legs["alternative_clear"].to_numpy(bool)).astype(int)
    for action in ACTIVE_ACTIONS:
        key = action.lower()
        ok = legs[f"{key}_ok"].to_numpy(bool)
        net = legs[f"{key}_net"].to_numpy(float)
        chosen = ok & (net > 0)
        frame[f"{key}_gain"] = np.where(chosen, net, 0.0)
        frame[f"{key}_chosen_cost"] = np.where(chosen, legs[f"{key}_cost"], 0.0)
        frame[f"{key}_chosen_n"] = chosen.astype(int)
        frame[f"{key}_chosen_deadline"] = legs[f"{key}_deadline"].where(chosen)
        frame[f"{key}_feasible_n"] = ok.astype(int)
        frame[f"{key}_feasible_cost"] = np.where(ok, legs[f"{key}_cost"], 0.0)
        frame[f"{key}_feasible_net"] = np.where(ok, net, 0.0)
        frame[f"{key}_feasible_deadline"] = legs[f"{key}_deadline"].where(ok)

    mins = [c for c in frame.columns if c.endswith("_deadline")]
    sums = [c for c in frame.columns if c not in mins + ["decision", "customer_id",
                                                          "chokepoint"]]
    grouped = frame.groupby("decision", sort=True)
    totals = grouped[sums].sum().join(grouped[mins].min())
    totals = totals.join(grouped[["customer_id", "chokepoint"]].first())
    totals["shipments"] = grouped.size()
    names = (
        legs[avoidable].groupby("decision")["alternative_name"]
        .agg(lambda values: sorted(set(values)))
    )
    totals["alternative_names"] = names.reindex(totals.index)
    totals["tolerance"] = legs.groupby("decision")["tolerance"].first()

    gains = totals[[f"{a.lower()}_gain" for a in ACTIVE_ACTIONS]].to_numpy(float)
    best = stick_to_previous(totals, gains, previous or {}, config)
    has_gain = best >= 0
    probability = totals["chokepoint"].map({c: e.probability for c, e in active.items()})
    severity = severities_for(totals["expected_loss"].to_numpy(float), config.severity_thresholds)
    watch = (probability.to_numpy(float) >= config.monitor_probability) | (
        severity != SEVERITIES[0]
    )
    fallback = np.where(watch, "MONITOR", "DO_NOTHING")
    chosen = np.asarray(ACTIVE_ACTIONS, dtype=object)[np.maximum(best, 0)]
    totals["action"] = np.where(has_gain, chosen, fallback)
    totals["severity"] = severity
    totals["probability"] = probability.to_numpy(float)
    return totals


def stick_to_previous(totals: pd.DataFrame, gains: np.ndarray,
                       previous: dict[tuple[str, str], str], config: DecisionConfig
                       ) -> np.ndarray:
    """Return the index of the recommended active action per decision, or -1 for none.

    The best action wins unless the active version's recommendation comes
    within ``action_switch_margin`` of the expected loss of it, so that nets
    hovering around each other do not flip the advice (and the alert) on
    every tick.
    """
    best_gain = gains.max(axis=1)
    best = np.where(best_gain > 0, gains.argmax(axis=1), -1)
    keys = list(zip(totals["customer_id"], totals["chokepoint"]))
    index = {a: i for i, a in enumerate(ACTIVE_ACTIONS)}
    prior = np.array([index.get(previous.get(k, ""), -1) for k in keys], dtype=int)
    known = np.array([k in previous for k in keys], dtype=bool)
    prior_gain = np.where(prior >= 0, gains[np.arange(len(gains)), np.maximum(prior, 0)], 0.0)
    margin = config.action_switch_margin * totals["expected_loss"].to_numpy(float)
    close = prior_gain >= np.maximum(best_gain, 0.0) - margin
    keep = known & close & ((prior < 0) | (prior_gain > 0))
    return np.where(keep, prior, best)
