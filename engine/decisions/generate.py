"""Turn chokepoint events and open shipments into one decision draft per customer and event.

Everything up to the final per-decision JSON is vectorised. Route legs come
from ``routes.route_legs``, costs from ``costs.action_table`` and the
per-customer totals from one pandas groupby, so Python loops run only per
decision, to build its JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from engine.decisions import answers as answer_builder
from engine.decisions import choose, costs
from engine.decisions.choose import ACTIVE_ACTIONS
from engine.decisions.config import DecisionConfig
from engine.decisions.draft import WAIT_HOURS, DecisionDraft
from engine.decisions.events import ChokepointEvent
from engine.decisions.routes import route_legs
from engine.decisions.shipments import HORIZON, load_open_shipments

__all__ = ["HORIZON", "DraftBatch", "Previous", "draft_batch", "draft_decisions",
           "iter_drafts", "load_open_shipments"]

log = logging.getLogger(__name__)

# Decisions drafted and stored per batch, which bounds memory on a large book.
WRITE_BATCH = 1_000
# Cover must be bound before the vessel enters the area.
INSURE_BIND_BEFORE = timedelta(hours=24)


@dataclass(frozen=True)
class Previous:
    """The active version of a decision: its action, fingerprint and expiry."""

    action: str
    fingerprint: str
    expires_at: datetime


@dataclass
class DraftBatch:
    drafts: list[DecisionDraft] = field(default_factory=list)
    # Decisions whose content equals their active version, so no draft was built.
    unchanged: int = 0


def draft_decisions(events: dict[str, ChokepointEvent], shipments: pd.DataFrame,
                    as_of: datetime, circuits: dict[str, str],
                    config: DecisionConfig | None = None,
                    previous: dict[tuple[str, str], Previous] | None = None
                    ) -> list[DecisionDraft]:
    """Draft one decision per customer and event whose shipments are affected."""
    return draft_batch(events, shipments, as_of, circuits, config, previous).drafts


def draft_batch(events: dict[str, ChokepointEvent], shipments: pd.DataFrame,
                as_of: datetime, circuits: dict[str, str],
                config: DecisionConfig | None = None,
                previous: dict[tuple[str, str], Previous] | None = None) -> DraftBatch:
    """Draft every decision that differs from its active version, in one list."""
    batch = DraftBatch()
    for part in iter_drafts(events, shipments, as_of, circuits, config, previous):
        batch.drafts.extend(part.drafts)
        batch.unchanged += part.unchanged
    return batch


def iter_drafts(events: dict[str, ChokepointEvent], shipments: pd.DataFrame,
                as_of: datetime, circuits: dict[str, str],
                config: DecisionConfig | None = None,
                previous: dict[tuple[str, str], Previous] | None = None,
                size: int = WRITE_BATCH) -> Iterator[DraftBatch]:
    """Yield the drafts in batches of ``size`` decisions.

    ``previous`` maps (customer, chokepoint) to the active version. Its
    recommendation is kept unless another action is clearly better, and a
    decision whose fingerprint equals the active one is counted as unchanged
    without building its JSON.
    """
    config = config or DecisionConfig.from_settings()
    previous = previous or {}
    active = {c: e for c, e in events.items() if e.probability >= config.min_probability}
    if not active or shipments.empty:
        return

    legs = _affected_legs(shipments, active, as_of, config)
    del shipments  # the caller passes the book in and keeps no reference to it
    if legs.empty:
        return
    legs = _cost_legs(legs, active, as_of, config)
    totals = choose.totals(legs, active, config, {k: p.action for k, p in previous.items()})

    order = legs.sort_values(["decision", "reaches_at"], kind="stable")
    columns = answer_builder.leg_columns(order)
    bounds = np.flatnonzero(np.diff(order["decision"].to_numpy())) + 1
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), len(order)]
    totals_by_decision = _records(totals)
    trust = {c: answer_builder.event_confidence(active[c], circuits)
             for c in totals["chokepoint"].unique()}
    parts = {c: answer_builder.event_parts(active[c], circuits, as_of) for c in trust}
    del legs, order, totals

    batch = DraftBatch()
    for start, end in zip(starts, ends):
        group = answer_builder.LegSlice(columns, start, end)
        total = totals_by_decision[columns["decision"][start]]
        chokepoint = total["chokepoint"]
        fingerprint = answer_builder.fingerprint(group, total, active[chokepoint],
                                                 trust[chokepoint])
        known = previous.get((total["customer_id"], chokepoint))
        if known is not None and known.fingerprint == fingerprint and known.expires_at > as_of:
            batch.unchanged += 1
            continue
        batch.drafts.append(answer_builder.build_draft(
            group, total, active[chokepoint], as_of, circuits, trust[chokepoint], fingerprint,
            parts[chokepoint],
        ))
        if len(batch.drafts) >= size:
            yield batch
            batch = DraftBatch()
    if batch.drafts or batch.unchanged:
        yield batch


def _records(frame: pd.DataFrame) -> dict:
    """Map each index label to its row as a dict, as ``to_dict("records")`` would.

    ``tolist`` converts a whole column in one C call, where ``to_dict`` boxes
    value by value.
    """
    names = list(frame.columns)
    columns = [frame[name].tolist() for name in names]
    return {label: dict(zip(names, values))
            for label, values in zip(frame.index.tolist(), zip(*columns))}


def _affected_legs(shipments: pd.DataFrame, active: dict[str, ChokepointEvent],
                   as_of: datetime, config: DecisionConfig) -> pd.DataFrame:
    legs = route_legs(shipments, only=set(active))
    start = pd.Timestamp(as_of)
    window = (legs["reaches_at"] > start) & (legs["reaches_at"] <= start + config.horizon)
    legs = legs[window]
    if legs.empty:
        return legs

    # One reroute avoids every chokepoint of its corridor (Bab el-Mandeb and
    # Suez), so a shipment's loss is counted once, at the first of them it
    # reaches. The later ones are listed as also avoided.
    legs = legs.sort_values(["id", "progress"], kind="stable").reset_index(drop=True)
    corridor = np.where(legs["avoidable"], legs["alternative_id"], "~" + legs["chokepoint"])
    shipment_codes = pd.factorize(legs["id"])[0].astype(np.int64)
    corridor_codes, corridors = pd.factorize(corridor)
    group = shipment_codes * len(corridors) + corridor_codes
    # Rows of one (shipment, corridor) become adjacent, still in order of progress.
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    first_rows = order[starts]
    names = legs["chokepoint"].to_numpy(object)
    also = np.full(len(first_rows), "", dtype=object)
    number = np.cumsum(starts) - 1
    for position in np.flatnonzero(~starts).tolist():
        index = number[position]
        name = names[order[position]]
        also[index] = f"{also[index]},{name}" if also[index] else name
    keep = np.argsort(first_rows, kind="stable")
    first = legs.iloc[first_rows[keep]].copy()
    first["also_avoids"] = also[keep]
    return first.reset_index(drop=True)


def _cost_legs(legs: pd.DataFrame, active: dict[str, ChokepointEvent], as_of: datetime,
               config: DecisionConfig) -> pd.DataFrame:
    chokepoint = legs["chokepoint"]
    probability = chokepoint.map({c: e.probability for c, e in active.items()}).to_numpy(float)
    premium = chokepoint.map({c: e.rate_premium_usd_teu for c, e in active.items()})
    war_risk = chokepoint.map({c: e.war_risk for c, e in active.items()}).to_numpy(bool)
    weight = legs["tolerance"].map(costs.TOLERANCE_WEIGHT).fillna(1.0).to_numpy(float)

    # The alternative is no way out if it runs into another active event.
    blocked = set(active)
    clear_by_route = {
        route: not (set(route) & blocked) for route in legs["alternative_chokepoints"].unique()
    }
    alternative_clear = legs["alternative_chokepoints"].map(clear_by_route).to_numpy(bool)

    start = pd.Timestamp(as_of)
    legs = legs.assign(
        probability=probability,
        rate_premium=premium.to_numpy(float),
        war_risk=war_risk,
        weight=weight,
        alternative_clear=alternative_clear,
        reroute_deadline=legs["diversion_at"],
        delay_deadline=legs["etd"],
        insure_deadline=legs["reaches_at"] - INSURE_BIND_BEFORE,
    )
    reroutable = legs["avoidable"].to_numpy(bool) & alternative_clear
    table = costs.action_table(
        probability=probability,
        value=legs["value"].to_numpy(float),
        feu=legs["feu"].to_numpy(float),
        premium_usd_teu=legs["rate_premium"].to_numpy(float),
        war_risk=war_risk,
        diverted=legs["avoidable"].to_numpy(bool),
        alternative_open=reroutable,
        late_delay_days=legs["late_delay_days"].to_numpy(float),
        extra_days=legs["alternative_extra_days"].to_numpy(float),
        weight=weight,
        reroute_feasible=reroutable & (legs["reroute_deadline"] > start).to_numpy(),
        delay_feasible=(legs["delay_deadline"] > start).to_numpy(),
        insure_feasible=(legs["insure_deadline"] > start).to_numpy(),
        params=config.costs,
    )
    columns = {"loss_if_disrupted": table.loss_if_disrupted,
               "expected_loss": table.expected_loss}
    for action in ACTIVE_ACTIONS:
        key = action.lower()
        columns[f"{key}_cost"] = table.cost[action]
        columns[f"{key}_net"] = table.net[action]
        columns[f"{key}_ok"] = table.feasible[action]
    legs = legs.assign(**columns)

    best_now, best_action = _best(legs, start)
    legs["best_action"] = best_action
    for hours in WAIT_HOURS:
        later, _ = _best(legs, start + pd.Timedelta(hours=hours))
        legs[f"wait_{hours}h"] = best_now - later
    legs["decision"] = legs.groupby(["customer_id", "chokepoint"], sort=True).ngroup()
    return legs


def _best(legs: pd.DataFrame, at: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Best positive net benefit per leg among actions still open at ``at``."""
    nets = []
    for action in ACTIVE_ACTIONS:
        key = action.lower()
        open_at = legs[f"{key}_ok"].to_numpy(bool) & (legs[f"{key}_deadline"] > at).to_numpy()
        nets.append(np.where(open_at, legs[f"{key}_net"].to_numpy(float), 0.0))
    stacked = np.maximum(np.vstack(nets), 0.0)
    best = stacked.max(axis=0)
    action = np.where(best > 0, np.asarray(ACTIVE_ACTIONS, dtype=object)[stacked.argmax(axis=0)],
                      "MONITOR")
    return best, action
