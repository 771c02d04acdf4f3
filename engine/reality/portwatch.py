"""Daily chokepoint transits in the IMF PortWatch CSV layout.

Two layouts are read: the multi-chokepoint export (one row per ``portid`` and
day) and a single-chokepoint series without ``portid`` (``date,n_total,...``),
for which the caller names the chokepoint.

Each day yields a ``transits_7d`` observation: the 7-day mean of all transit
calls, against a baseline that only uses data known on that day. The baseline
is the mean of the same calendar window one year earlier (±14 days) when the
file has it, otherwise the mean of every earlier day except the last seven.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from engine.geography import DATASETS, chokepoint_for_portwatch
from engine.records import ObservationRecord, RejectedRecord

SOURCE = "portwatch"
DAILY_FILE = DATASETS / "portwatch_daily_chokepoints_2023-2025.csv"
HORMUZ_FILE = DATASETS / "hormuz_daily_transits_portwatch.csv"
METRIC = "transits_7d"

Series = dict[str, dict[date, float]]


def read_daily(path: Path = DAILY_FILE, chokepoint: str | None = None
               ) -> tuple[Series, list[RejectedRecord]]:
    """Return daily total transits per chokepoint id read from a file, and rejected rows."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return parse_daily_text(handle.read(), chokepoint)


def _day(value: str | None) -> date:
    # The export writes "2023/01/01 00:00:00+00"; other copies write ISO dates.
    return date.fromisoformat((value or "").strip()[:10].replace("/", "-"))


def parse_daily_text(text: str, chokepoint: str | None = None
                     ) -> tuple[Series, list[RejectedRecord]]:
    """Parse PortWatch CSV text; rows without a known ``portid`` need ``chokepoint``."""
    series: Series = defaultdict(dict)
    rejected: list[RejectedRecord] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    fields = reader.fieldnames or []
    if "date" not in fields or "n_total" not in fields:
        return {}, [RejectedRecord(SOURCE, "header", "date or n_total column is missing")]
    if "portid" not in fields and chokepoint is None:
        return {}, [RejectedRecord(SOURCE, "header",
                                   "portid column is missing and no chokepoint was given")]
    for line, row in enumerate(reader, start=2):
        target = chokepoint
        if "portid" in fields:
            target = chokepoint_for_portwatch(row.get("portid") or "")
            if target is None:
                rejected.append(RejectedRecord(
                    SOURCE, f"line {line}", f"unknown portid {row.get('portid')!r}"))
                continue
        try:
            day = _day(row.get("date"))
            total = float(row.get("n_total") or "")
        except (TypeError, ValueError):
            rejected.append(RejectedRecord(SOURCE, f"line {line}", "invalid date or n_total"))
            continue
        if not math.isfinite(total) or total < 0:
            rejected.append(RejectedRecord(SOURCE, f"line {line}", f"invalid n_total {total}"))
            continue
        series[target][day] = total
    return dict(series), rejected


def observations(series: Series) -> list[ObservationRecord]:
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
