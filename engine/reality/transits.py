"""AIS positions turned into daily transits and Cape diversions per chokepoint.

A vessel (MMSI) seen inside a chokepoint's area on a UTC day counts as one
transit that day. Cargo ships (AIS ship types 70-79; AIS has no separate
code for container ships) seen in the Cape of Good Hope area count as
diversions when they are bound for Europe: their destination names a European
port, or without a destination their course over ground is between 200° and
360°, which is how a ship heads from the Indian Ocean round the Cape into the
Atlantic.
NOTE: the course rule also counts cargo ships bound for the Americas or West
Africa; destinations are only known from aisstream static data.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import RealityObservation, VesselSighting
from engine.reality.ais import Position
from engine.reality.areas import area_of
from engine.records import ObservationRecord
from engine.storage import insert_ignore

SOURCE = "ais"
TRANSITS = "ais_transits"
DIVERSIONS = "cape_diversions"
BASELINE_DAYS = 28
MIN_BASELINE_DAYS = 7
WESTBOUND_COURSE = (200.0, 360.0)
# UN/LOCODE country prefixes and port names that AIS destinations use for Europe.
EUROPE = re.compile(
    r"\b(NL|DE|BE|GB|FR|ES|IT|GR|PT|PL|DK|SE|NO|FI|IE|MT|SI|HR|RO|BG|LT|LV|EE)\s?[A-Z]{3}\b"
    r"|ROTTERDAM|HAMBURG|ANTWERP|FELIXSTOWE|SOUTHAMPTON|LE HAVRE|BREMERHAVEN|ALGECIRAS"
    r"|VALENCIA|GENOA|GENOVA|PIRAEUS|GDANSK|TRIESTE|BARCELONA|GIOIA TAURO|WILHELMSHAVEN",
)


def is_diverting(position: Position, chokepoint: str) -> bool:
    if chokepoint != "cape" or position.ship_type is None or not 70 <= position.ship_type <= 79:
        return False
    if position.destination:
        return bool(EUROPE.search(position.destination.upper()))
    low, high = WESTBOUND_COURSE
    return position.course is not None and low <= position.course < high


def sighting_rows(positions: list[Position], source: str = SOURCE) -> list[dict]:
    """One row per vessel, chokepoint and day, from the positions inside an area."""
    rows: dict[tuple[int, str, date], dict] = {}
    for position in sorted(positions, key=lambda p: p.at):
        chokepoint = area_of(position.lat, position.lon)
        if chokepoint is None:
            continue
        key = (position.mmsi, chokepoint, position.at.astimezone(timezone.utc).date())
        row = rows.get(key)
        if row is None:
            rows[key] = {
                "mmsi": position.mmsi, "chokepoint": chokepoint, "day": key[2],
                "first_seen_at": position.at, "ship_type": position.ship_type,
                "course": position.course, "destination": position.destination,
                "diverting": is_diverting(position, chokepoint), "source": source,
            }
        elif not row["diverting"] and is_diverting(position, chokepoint):
            row["diverting"] = True
    return list(rows.values())


def store_sightings(session: Session, positions: list[Position]) -> int:
    """Insert sightings; a vessel already seen that day at that chokepoint is kept as is."""
    return insert_ignore(session, VesselSighting.__table__, sighting_rows(positions),
                         ["mmsi", "chokepoint", "day"])


def daily_observations(session: Session, as_of: datetime) -> list[ObservationRecord]:
    """Transit and diversion counts for every complete day not yet stored."""
    today = as_of.astimezone(timezone.utc).date()
    stored = {
        (chokepoint, metric, as_utc(observed).date())
        for chokepoint, metric, observed in session.execute(
            select(RealityObservation.chokepoint, RealityObservation.metric,
                   RealityObservation.observed_at)
            .where(RealityObservation.source == SOURCE)
        )
    }
    counts = session.execute(
        select(VesselSighting.chokepoint, VesselSighting.day, func.count(VesselSighting.id),
               func.sum(case((VesselSighting.diverting.is_(True), 1), else_=0)))
        .where(VesselSighting.day < today)
        .group_by(VesselSighting.chokepoint, VesselSighting.day)
    ).all()
    transits: dict[str, dict[date, float]] = {}
    diversions: dict[date, float] = {}
    for chokepoint, day, total, diverting in counts:
        day = _as_date(day)
        transits.setdefault(chokepoint, {})[day] = float(total)
        if chokepoint == "cape":
            diversions[day] = float(diverting or 0)

    # A day on which AIS saw vessels anywhere is a covered day: a chokepoint
    # seen before but empty that day had no transits, which is what a closure
    # looks like.
    covered = {day for daily in transits.values() for day in daily}
    for daily in transits.values():
        first = min(daily)
        for day in covered:
            if day > first:
                daily.setdefault(day, 0.0)
    if diversions:
        first = min(diversions)
        for day in covered:
            if day > first:
                diversions.setdefault(day, 0.0)

    records = []
    for chokepoint, daily in transits.items():
        records += _series(chokepoint, TRANSITS, daily, stored)
    if diversions:
        records += _series("cape", DIVERSIONS, diversions, stored)
    return records


def _series(chokepoint: str, metric: str, daily: dict[date, float], stored: set
            ) -> list[ObservationRecord]:
    records = []
    for day in sorted(daily):
        if (chokepoint, metric, day) in stored:
            continue
        past = [daily[d] for d in daily if day - timedelta(days=BASELINE_DAYS) <= d < day]
        baseline = sum(past) / len(past) if len(past) >= MIN_BASELINE_DAYS else None
        change = (daily[day] / baseline - 1.0) * 100.0 if baseline else None
        records.append(ObservationRecord(
            source=SOURCE, chokepoint=chokepoint, metric=metric, value=daily[day],
            baseline=None if baseline is None else round(baseline, 3),
            change_pct=None if change is None else round(change, 2),
            observed_at=datetime.combine(day, time(), timezone.utc),
        ))
    return records


def _as_date(value) -> date:
    # SQLite returns date() as text.
    return date.fromisoformat(value) if isinstance(value, str) else value
