"""Daily chokepoint transits in the IMF PortWatch CSV layout.

Each day yields a ``transits_7d`` observation: the 7-day mean of all transit
calls, against a baseline that only uses data known on that day. The baseline
is the mean of the same calendar window one year earlier (±14 days) when the
file has it, otherwise the mean of every earlier day except the last seven.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from engine.geography import DATASETS, chokepoint_for_portwatch
from engine.records import ObservationRecord, RejectedRecord

SOURCE = "portwatch"
DAILY_FILE = DATASETS / "portwatch_daily_chokepoints_2023-2025.csv"
METRIC = "transits_7d"


def read_daily(
    path: Path = DAILY_FILE,
) -> tuple[dict[str, dict[date, float]], list[RejectedRecord]]:
    """Return daily total transits per chokepoint id, and rejected rows."""
    series: dict[str, dict[date, float]] = defaultdict(dict)
    rejected: list[RejectedRecord] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            chokepoint = chokepoint_for_portwatch(row.get("portid") or "")
            if chokepoint is None:
                rejected.append(
                    RejectedRecord(SOURCE, f"line {line}", f"unknown portid {row.get('portid')!r}")
                )
                continue
            try:
                day = date.fromisoformat((row.get("date") or "")[:10].replace("/", "-"))
                total = float(row["n_total"])
            except (KeyError, TypeError, ValueError):
                rejected.append(RejectedRecord(SOURCE, f"line {line}", "invalid date or n_total"))
                continue
            if total < 0:
                rejected.append(RejectedRecord(SOURCE, f"line {line}", f"negative n_total {total}"))
                continue
            series[chokepoint][day] = total
    return dict(series), rejected


def observations(series: dict[str, dict[date, float]]) -> list[ObservationRecord]:
    records = []
    for chokepoint, daily in series.items():
        days = sorted(daily)
        for index, day in enumerate(days):
            window = [daily[d] for d in days[max(0, index - 6) : index + 1]]
            if len(window) < 7:
                continue
            value = sum(window) / len(window)
            baseline = _baseline(daily, days[:index], day)
            if baseline is None:
                continue
            change = (value / baseline - 1.0) * 100.0 if baseline else None
            records.append(
                ObservationRecord(
                    source=SOURCE,
                    chokepoint=chokepoint,
                    metric=METRIC,
                    value=round(value, 3),
                    baseline=round(baseline, 3),
                    change_pct=None if change is None else round(change, 2),
                    observed_at=datetime.combine(day, time(), timezone.utc),
                )
            )
    return records


def _baseline(daily: dict[date, float], earlier: list[date], day: date) -> float | None:
    year_ago = [
        daily[d]
        for offset in range(-14, 15)
        if (d := day - timedelta(days=365 + offset)) in daily
    ]
    if len(year_ago) >= 20:
        return sum(year_ago) / len(year_ago)
    known = [daily[d] for d in earlier[:-7]]
    if len(known) < 28:
        return None
    return sum(known) / len(known)
