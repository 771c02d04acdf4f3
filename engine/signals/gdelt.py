"""GDELT weekly event counts turned into per-chokepoint disruption signals.

The bundled series counts GDELT events per week by theme. A theme's weekly
count is compared with the median of the 26 weeks before it (no look-ahead),
and the ratio maps onto a probability: equal to baseline gives 0, twelve
times baseline or more gives 0.95.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime, time, timezone
from pathlib import Path
from statistics import median

from engine.geography import DATASETS
from engine.records import RejectedRecord, SignalRecord

SOURCE = "gdelt"
WEEKLY_FILE = DATASETS / "gdelt_weekly_disruption_aggregates_2018-2025.csv"
BASELINE_WEEKS = 26
SATURATION_RATIO = 12.0

# GDELT theme column -> (chokepoint, category) it speaks for.
THEMES = {
    "yemen_disruption": ("bab_el_mandeb", "security"),
    "egypt_disruption": ("suez", "security"),
    "middle_east_disruption": ("hormuz", "security"),
    "asia_disruption": ("taiwan", "security"),
}


def ratio_to_probability(ratio: float) -> float:
    if ratio <= 1.0:
        return 0.0
    return round(min(math.log(ratio) / math.log(SATURATION_RATIO), 1.0) * 0.95, 4)


def parse_weekly(path: Path = WEEKLY_FILE) -> tuple[list[SignalRecord], list[RejectedRecord]]:
    """Parse the weekly aggregate CSV into signals; bad rows are rejected with a reason."""
    history: dict[str, list[float]] = {theme: [] for theme in THEMES}
    records: list[SignalRecord] = []
    rejected: list[RejectedRecord] = []
    with open(path, newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                week = datetime.combine(
                    datetime.fromisoformat(row["event_date"]).date(), time(), timezone.utc
                )
            except (KeyError, TypeError, ValueError):
                rejected.append(RejectedRecord(SOURCE, f"line {line}", "invalid event_date"))
                continue
            for theme, (chokepoint, category) in THEMES.items():
                try:
                    count = float(row[theme])
                except (KeyError, TypeError, ValueError):
                    rejected.append(
                        RejectedRecord(SOURCE, f"line {line}", f"invalid {theme} count")
                    )
                    continue
                past = history[theme][-BASELINE_WEEKS:]
                history[theme].append(count)
                if len(past) < 8:
                    continue
                baseline = median(past)
                ratio = count / baseline if baseline > 0 else 1.0
                records.append(
                    SignalRecord(
                        source=SOURCE,
                        external_id=f"{theme}:{week.date().isoformat()}",
                        chokepoint=chokepoint,
                        category=category,
                        probability=ratio_to_probability(ratio),
                        observed_at=week,
                        title=f"GDELT {theme.replace('_', ' ')}: {count:.0f} events "
                        f"({ratio:.1f}x the 26-week median)",
                        url="https://www.gdeltproject.org/",
                        payload={"theme": theme, "count": count, "baseline": baseline},
                    )
                )
    return records, rejected
