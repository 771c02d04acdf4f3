"""Route plans: which chokepoints a shipment passes, when, and how it could avoid them.

A plan depends only on the lane and the two ports, so a book of 100,000
shipments needs a few dozen plans. ``route_legs`` computes each distinct plan
once and broadcasts it over the shipments with pandas.

Progress along the voyage is the share of the great-circle waypoint distance
covered at each chokepoint. The time a shipment reaches a chokepoint
interpolates between its ETD and ETA by that share, which spreads port calls
and slow steaming evenly over the voyage (an approximation).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from engine.geography import (
    LANES,
    SERVICE_SPEED_KNOTS,
    Alternative,
    all_ports,
    chokepoints,
    distance_nm,
    waypoints,
)

log = logging.getLogger(__name__)

# A vessel that meets a closed chokepoint with no way round waits for it to
# reopen. Six days is how long the Ever Given blocked the Suez Canal, from
# 23 to 29 March 2021 (Outlook India, citing Reuters, 29 March 2021).
CLOSURE_WAIT_DAYS = 6.0
# Waypoint a vessel heads for when it turns back at an avoided chokepoint.
LATE_TURN_WAYPOINT = "cape"


@dataclass(frozen=True)
class Leg:
    """One chokepoint on a planned route and what avoiding it would cost."""

    chokepoint: str
    progress: float
    avoidable: bool
    alternative_id: str
    alternative_name: str
    # Extra sailing days when the shipment takes the alternative as planned.
    alternative_extra_days: float
    # Extra days when the vessel only turns away on reaching the chokepoint,
    # or waits for it to reopen when no alternative exists.
    late_delay_days: float
    # Share of the voyage at which the alternative leaves the route; 0 means
    # the shipment must switch before departure.
    diversion_progress: float
    alternative_chokepoints: tuple[str, ...]


@dataclass(frozen=True)
class RoutePlan:
    lane: str | None
    origin: str
    destination: str
    distance_nm: float
    legs: tuple[Leg, ...]

    @property
    def chokepoints(self) -> tuple[str, ...]:
        return tuple(leg.chokepoint for leg in self.legs)


def _point(code: str) -> tuple[float, float] | None:
    if code in waypoints():
        _name, lat, lon = waypoints()[code]
        return lat, lon
    port = all_ports().get(code)
    return None if port is None else (port.lat, port.lon)


def _trim(path: list[str], origin: tuple[float, float], destination: tuple[float, float]
          ) -> list[str]:
    """Drop waypoints at either end that the ports already lie beyond.

    A waypoint is skipped when the port is closer to the next point of the
    route than the waypoint is, so Singapore does not sail back to the
    Taiwan Strait and Colombo does not double back to Dondra Head.
    """
    path = list(path)
    while path:
        following = _point(path[1]) if len(path) > 1 else destination
        if distance_nm(origin, following) < distance_nm(_point(path[0]), following):
            path.pop(0)
        else:
            break
    while path:
        previous = _point(path[-2]) if len(path) > 1 else origin
        if distance_nm(previous, destination) < distance_nm(previous, _point(path[-1])):
            path.pop()
        else:
            break
    return path


def _length(points: list[tuple[float, float]]) -> list[float]:
    """Cumulative distance at each point of a polyline, starting at 0."""
    total = [0.0]
    for a, b in zip(points, points[1:]):
        total.append(total[-1] + distance_nm(a, b))
    return total


def _days(nautical_miles: float) -> float:
    return nautical_miles / (SERVICE_SPEED_KNOTS * 24.0)


@functools.lru_cache(maxsize=4096)
def plan_route(lane_id: str | None, origin: str, destination: str,
               stored_route: tuple[str, ...] = ()) -> RoutePlan:
    """Plan the route of a shipment on ``lane_id`` between two ports.

    A shipment whose lane is unknown (imported with its own route) follows
    its stored chokepoints in order and has no alternative. A port missing
    from the World Port Index spaces the chokepoints evenly.
    """
    lane = LANES.get(lane_id or "")
    start, end = _point(origin), _point(destination)
    if lane is not None:
        path = list(lane.path)
        alternative = lane.alternative
    else:
        path = [c for c in stored_route if c in waypoints()]
        alternative = None

    if start is None or end is None:
        tracked = [c for c in path if c in chokepoints()]
        legs = tuple(
            _unavoidable(c, (i + 1) / (len(tracked) + 1)) for i, c in enumerate(tracked)
        )
        return RoutePlan(lane_id, origin, destination, 0.0, legs)

    path = _trim(path, start, end)
    points = [start] + [_point(w) for w in path] + [end]
    cumulative = _length(points)
    total = cumulative[-1] or 1.0
    progress = {w: cumulative[i + 1] / total for i, w in enumerate(path)}

    legs = []
    for waypoint in path:
        if waypoint not in chokepoints():
            continue
        if alternative is not None and waypoint in alternative.avoids:
            legs.append(_avoidable(waypoint, path, progress, alternative, start, end, total))
        else:
            legs.append(_unavoidable(waypoint, progress[waypoint]))
    return RoutePlan(lane_id, origin, destination, round(total, 1), tuple(legs))


def _unavoidable(chokepoint: str, progress: float) -> Leg:
    return Leg(chokepoint, round(progress, 4), False, "", "", 0.0, CLOSURE_WAIT_DAYS, 0.0, ())


def _avoidable(chokepoint: str, path: list[str], progress: dict[str, float],
               alternative: Alternative, start, end, main_total: float) -> Leg:
    alt_path = _trim(list(alternative.path), start, end)
    alt_total = _length([start] + [_point(w) for w in alt_path] + [end])[-1]
    planned_extra = max(_days(alt_total - main_total), 0.0)

    late = _late_delay_days(chokepoint, path, alternative, end)
    diversion = alternative.diversion_waypoint
    diversion_progress = progress.get(diversion, 0.0) if diversion else 0.0
    return Leg(
        chokepoint=chokepoint,
        progress=round(progress[chokepoint], 4),
        avoidable=True,
        alternative_id=alternative.id,
        alternative_name=alternative.name,
        alternative_extra_days=round(planned_extra, 2),
        late_delay_days=round(late, 2),
        diversion_progress=round(diversion_progress, 4),
        alternative_chokepoints=tuple(w for w in alt_path if w in chokepoints()),
    )


def _late_delay_days(chokepoint: str, path: list[str], alternative: Alternative,
                     end: tuple[float, float]) -> float:
    """Extra days for a vessel that turns away only on reaching ``chokepoint``.

    It sails back through the avoided chokepoints it has already passed (out
    of the Red Sea through Bab el-Mandeb when it turns at Suez), then follows
    the alternative from ``LATE_TURN_WAYPOINT``. Without such a turn point the
    vessel waits for the chokepoint to reopen.
    """
    if LATE_TURN_WAYPOINT not in alternative.path:
        return CLOSURE_WAIT_DAYS
    index = path.index(chokepoint)
    passed = [w for w in path[:index] if w in alternative.avoids]
    turn = alternative.path[alternative.path.index(LATE_TURN_WAYPOINT):]
    late_points = [_point(w) for w in [chokepoint, *reversed(passed), *turn]] + [end]
    remaining = [_point(w) for w in path[index:]] + [end]
    return _days(_length(late_points)[-1] - _length(remaining)[-1])


LEG_COLUMNS = [
    "plan_key", "chokepoint", "progress", "avoidable", "alternative_id", "alternative_name",
    "alternative_extra_days", "late_delay_days", "diversion_progress", "alternative_chokepoints",
]


def route_legs(shipments: pd.DataFrame, only: set[str] | None = None) -> pd.DataFrame:
    """Return one row per shipment and chokepoint on its route, with reach and diversion times.

    ``shipments`` needs the columns id, lane, origin_port, destination_port,
    route (a tuple of chokepoint ids), etd and eta. ``only`` keeps the legs at
    those chokepoints. The result keeps every shipment column and adds the
    ``Leg`` fields plus ``reaches_at`` and ``diversion_at``.
    """
    if shipments.empty:
        return shipments.assign(**{c: pd.Series(dtype=object) for c in LEG_COLUMNS},
                                reaches_at=pd.Series(dtype="datetime64[ns, UTC]"),
                                diversion_at=pd.Series(dtype="datetime64[ns, UTC]"))
    keys = ["lane", "origin_port", "destination_port", "route"]
    plan_key = shipments.groupby(keys, sort=False, dropna=False).ngroup()
    frame = shipments.assign(plan_key=plan_key.to_numpy())

    rows = []
    for (lane, origin, destination, route), key in (
        frame.drop_duplicates("plan_key")[keys + ["plan_key"]]
        .set_index(keys)["plan_key"].items()
    ):
        plan = plan_route(lane, origin, destination, tuple(route or ()))
        for leg in plan.legs:
            if only is not None and leg.chokepoint not in only:
                continue
            rows.append((key, leg.chokepoint, leg.progress, leg.avoidable, leg.alternative_id,
                         leg.alternative_name, leg.alternative_extra_days, leg.late_delay_days,
                         leg.diversion_progress, leg.alternative_chokepoints))
    legs = pd.DataFrame(rows, columns=LEG_COLUMNS)
    merged = frame.merge(legs, on="plan_key", how="inner")

    voyage = merged["eta"] - merged["etd"]
    merged["reaches_at"] = merged["etd"] + voyage * merged["progress"].to_numpy(float)
    merged["diversion_at"] = (
        merged["etd"] + voyage * merged["diversion_progress"].to_numpy(float)
    )
    return merged


def timetable(lane: str | None, origin: str, destination: str, etd: datetime,
              eta: datetime, stored_route: tuple[str, ...] = ()) -> list[dict]:
    """List every chokepoint of a shipment's route with the time it reaches it.

    Decisions store only the chokepoint sequence and the reach time of their
    own chokepoint, so this gives the full timetable on demand.
    """
    plan = plan_route(lane, origin, destination, tuple(stored_route))
    voyage = eta - etd
    return [
        {"chokepoint": leg.chokepoint, "reaches_at": (etd + voyage * leg.progress).isoformat(),
         "avoidable": leg.avoidable}
        for leg in plan.legs
    ]
