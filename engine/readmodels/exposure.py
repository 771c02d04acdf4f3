"""Exposure of the active book by chokepoint, and where affected shipments are."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.geography import LANES, chokepoints, ports
from engine.models import Customer, Decision, Shipment
from engine.readmodels.common import ACTIVE, CURRENT, as_aware, frame, room_to_aggregate

_RANK = case(
    (Decision.severity == "CRITICAL", 4), (Decision.severity == "HIGH", 3),
    (Decision.severity == "MEDIUM", 2), else_=1,
)
_BY_RANK = {4: "CRITICAL", 3: "HIGH", 2: "MEDIUM", 1: "LOW"}


def exposure_by_chokepoint(session: Session) -> pd.DataFrame:
    """Active exposure per chokepoint, with its coordinates and worst severity."""
    room_to_aggregate(session)
    # Two hash aggregations (per chokepoint and customer, then per chokepoint)
    # count customers without the sort that COUNT(DISTINCT) needs.
    per_customer = (
        select(
            Decision.chokepoint,
            func.count().label("decisions"),
            func.coalesce(func.sum(Decision.shipment_count), 0).label("shipments"),
            func.sum(Decision.exposure_usd).label("exposure_usd"),
            func.sum(Decision.expected_loss_usd).label("expected_loss_usd"),
            func.max(_RANK).label("worst"),
        )
        .where(ACTIVE, CURRENT)
        .group_by(Decision.chokepoint, Decision.customer_id)
        .subquery()
    )

    rows = session.execute(
        select(
            per_customer.c.chokepoint,
            func.sum(per_customer.c.decisions).label("decisions"),
            func.count().label("customers"),
            func.sum(per_customer.c.shipments).label("shipments"),
            func.sum(per_customer.c.exposure_usd).label("exposure_usd"),
            func.sum(per_customer.c.expected_loss_usd).label("expected_loss_usd"),
            func.max(per_customer.c.worst).label("worst"),
        )
        .group_by(per_customer.c.chokepoint)
        .order_by(func.sum(per_customer.c.exposure_usd).desc())
    ).all()
    result = frame(rows, ["chokepoint", "decisions", "customers", "shipments",
                          "exposure_usd", "expected_loss_usd", "worst"])
    known = chokepoints()
    result["name"] = [known[c].name if c in known else c for c in result["chokepoint"]]
    result["lat"] = [known[c].lat if c in known else None for c in result["chokepoint"]]
    result["lon"] = [known[c].lon if c in known else None for c in result["chokepoint"]]
    result["worst_severity"] = [_BY_RANK.get(int(w), "LOW") for w in result["worst"]]
    return result.drop(columns=["worst"])


def _path(lane_id: str, origin: str, destination: str) -> list[tuple[float, float, float]]:
    """(progress, lat, lon) waypoints of a voyage: origin, chokepoints, destination."""
    from engine.decisions.routes import plan_route

    known_ports = ports()
    points = []
    if origin in known_ports:
        points.append((0.0, known_ports[origin].lat, known_ports[origin].lon))
    known = chokepoints()
    for leg in plan_route(lane_id, origin, destination).legs:
        if leg.chokepoint in known:
            points.append((leg.progress, known[leg.chokepoint].lat, known[leg.chokepoint].lon))
    if destination in known_ports:
        points.append((1.0, known_ports[destination].lat, known_ports[destination].lon))
    # Unwrap longitudes so a Pacific crossing interpolates east, not around the globe.
    unwrapped = []
    for progress, lat, lon in points:
        if unwrapped and lon - unwrapped[-1][2] > 180:
            lon -= 360
        elif unwrapped and unwrapped[-1][2] - lon > 180:
            lon += 360
        unwrapped.append((progress, lat, lon))
    return unwrapped


def _position(path, progress: float) -> tuple[float, float] | None:
    if not path:
        return None
    if progress <= path[0][0]:
        return path[0][1], path[0][2]
    for (p0, lat0, lon0), (p1, lat1, lon1) in zip(path, path[1:]):
        if p0 <= progress <= p1:
            share = 0.0 if p1 == p0 else (progress - p0) / (p1 - p0)
            lon = lon0 + (lon1 - lon0) * share
            return lat0 + (lat1 - lat0) * share, (lon + 180) % 360 - 180
    return path[-1][1], (path[-1][2] + 180) % 360 - 180


def affected_shipments(session: Session, as_of: datetime, max_decisions: int = 200) -> pd.DataFrame:
    """Shipments named by the riskiest active decisions, placed on their voyage at ``as_of``.

    The position is interpolated along origin, route chokepoints and
    destination by the share of the voyage elapsed, so it is an estimate,
    not an AIS fix.
    """
    decisions = session.execute(
        select(Decision.id, Decision.customer_id, Decision.chokepoint, Decision.severity,
               Decision.answers["when"].label("when"))
        .where(ACTIVE, CURRENT)
        .order_by(Decision.expected_loss_usd.desc())
        .limit(max_decisions)
    ).all()
    wanted: dict[str, dict] = {}
    for decision in decisions:
        for item in decision.when or []:
            wanted.setdefault(item.get("shipment_id"), {
                "decision_id": decision.id, "severity": decision.severity,
                "chokepoint": decision.chokepoint, "reaches_at": item.get("reaches_at"),
            })
    wanted.pop(None, None)
    columns = ["shipment_id", "customer_id", "customer", "lane", "origin_port",
               "destination_port", "cargo_value_usd", "status", "decision_id", "severity",
               "chokepoint", "reaches_at", "progress", "lat", "lon"]
    if not wanted:
        return pd.DataFrame(columns=columns)
    rows = []
    ids = list(wanted)
    for start in range(0, len(ids), 1000):
        rows += session.execute(
            select(Shipment.id, Shipment.customer_id, Customer.name, Shipment.lane,
                   Shipment.origin_port, Shipment.destination_port, Shipment.cargo_value_usd,
                   Shipment.status, Shipment.etd, Shipment.eta)
            .join(Customer, Customer.id == Shipment.customer_id)
            .where(Shipment.id.in_(ids[start:start + 1000]))
        ).all()
    now = as_aware(as_of)
    records = []
    for row in rows:
        etd, eta = as_aware(row.etd), as_aware(row.eta)
        span = (eta - etd).total_seconds() or 1.0
        progress = min(max((now - etd).total_seconds() / span, 0.0), 1.0)
        position = _position(_path(row.lane, row.origin_port, row.destination_port), progress)
        if position is None:
            continue
        link = wanted[row.id]
        records.append((row.id, row.customer_id, row.name, row.lane, row.origin_port,
                        row.destination_port, row.cargo_value_usd, row.status,
                        link["decision_id"], link["severity"], link["chokepoint"],
                        link["reaches_at"], round(progress, 3), position[0], position[1]))
    return pd.DataFrame(records, columns=columns)


def lane_paths() -> list[dict]:
    """Each lane's schematic path from its first origin to its first destination."""
    result = []
    for lane in LANES.values():
        path = _path(lane.id, lane.origins[0], lane.destinations[0])
        result.append({"lane": lane.id, "name": lane.name, "lat": [p[1] for p in path],
                       "lon": [(p[2] + 180) % 360 - 180 for p in path]})
    return result
