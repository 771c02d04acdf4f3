"""GDELT news volume turned into per-chokepoint disruption signals.

Two payload layouts are read:

- The bundled weekly series (a BigQuery export of GDELT event counts by
  theme). A theme's weekly count is compared with the median of the 26 weeks
  before it.
- GDELT DOC 2.0 ``timelinevolraw`` answers, one per chokepoint query: daily
  article counts, each compared with the median of the days before it.

In both, the ratio to the baseline maps onto a probability: at or below the
baseline gives 0, twelve times the baseline or more gives 0.95. Only data
known at each point is used (no look-ahead).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from datetime import date, datetime, time, timezone
from pathlib import Path
from statistics import median

from engine.geography import DATASETS
from engine.records import RejectedRecord, SignalRecord

SOURCE = "gdelt"
WEEKLY_FILE = DATASETS / "gdelt_weekly_disruption_aggregates_2018-2025.csv"
BASELINE_WEEKS = 26
BASELINE_DAYS = 28
MIN_BASELINE_POINTS = 8
SATURATION_RATIO = 12.0
DOC_URL = "https://www.gdeltproject.org/"

# GDELT theme column -> (chokepoint, category) it speaks for.
THEMES = {
    "yemen_disruption": ("bab_el_mandeb", "security"),
    "egypt_disruption": ("suez", "security"),
    "middle_east_disruption": ("hormuz", "security"),
    "asia_disruption": ("taiwan", "security"),
}

# DOC 2.0 query per chokepoint: articles that name the passage and shipping.
DOC_QUERIES = {
    "bab_el_mandeb": '("Red Sea" OR Houthi OR "Bab el-Mandeb") (ship OR shipping OR vessel)',
    "suez": '"Suez Canal" (ship OR shipping OR vessel OR transit)',
    "hormuz": '("Strait of Hormuz" OR Hormuz) (ship OR tanker OR shipping)',
    "panama": '"Panama Canal" (ship OR shipping OR transit OR drought)',
    "taiwan": '"Taiwan Strait" (ship OR shipping OR blockade)',
}


def ratio_to_probability(ratio: float) -> float:
    if math.isnan(ratio) or ratio <= 1.0:
        return 0.0
    if math.isinf(ratio):
        return 0.95
    return round(min(math.log(ratio) / math.log(SATURATION_RATIO), 1.0) * 0.95, 4)


def _number(value) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{value!r} is not a non-negative count")
    return number


def parse_weekly(path: Path = WEEKLY_FILE) -> tuple[list[SignalRecord], list[RejectedRecord]]:
    """Parse the bundled weekly aggregate CSV file."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return parse_weekly_text(handle.read())


def parse_weekly_text(text: str) -> tuple[list[SignalRecord], list[RejectedRecord]]:
    """Parse weekly aggregate CSV text into signals; bad rows are rejected with a reason."""
    history: dict[str, list[float]] = {theme: [] for theme in THEMES}
    records: list[SignalRecord] = []
    rejected: list[RejectedRecord] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    if not reader.fieldnames or "event_date" not in reader.fieldnames:
        return [], [RejectedRecord(SOURCE, "header", "event_date column is missing")]
    for line, row in enumerate(reader, start=2):
        try:
            week = datetime.combine(
                date.fromisoformat((row.get("event_date") or "").strip()[:10]), time(),
                timezone.utc,
            )
        except ValueError:
            rejected.append(RejectedRecord(SOURCE, f"line {line}", "invalid event_date"))
            continue
        for theme, (chokepoint, category) in THEMES.items():
            try:
                count = _number(row.get(theme))
            except (TypeError, ValueError):
                rejected.append(RejectedRecord(SOURCE, f"line {line}", f"invalid {theme} count"))
                continue
            past = history[theme][-BASELINE_WEEKS:]
            history[theme].append(count)
            if len(past) < MIN_BASELINE_POINTS:
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
                    url=DOC_URL,
                    payload={"theme": theme, "count": count, "baseline": baseline},
                )
            )
    return records, rejected


def _doc_day(value) -> date:
    # DOC 2.0 writes times as 20240105T000000Z.
    if not isinstance(value, str) or len(value) < 8:
        raise ValueError(f"date {value!r} is not YYYYMMDDTHHMMSSZ")
    return datetime.strptime(value[:8], "%Y%m%d").date()


def parse_timeline(
    payload: bytes | str, chokepoint: str, today: date | None = None
) -> tuple[list[SignalRecord], list[RejectedRecord]]:
    """Parse one DOC 2.0 ``timelinevolraw`` JSON answer for one chokepoint.

    Points are summed per UTC day. ``today`` (the fetch day) is left out
    because its count is still growing.
    """
    reference = f"doc:{chokepoint}"
    try:
        body = json.loads(payload)
        series = body["timeline"][0]["data"]
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        return [], [RejectedRecord(SOURCE, reference, f"response is not valid JSON: {exc}")]
    except (KeyError, IndexError, TypeError):
        return [], [RejectedRecord(SOURCE, reference, "response has no timeline[0].data list")]
    if not isinstance(series, list):
        return [], [RejectedRecord(SOURCE, reference, "timeline[0].data is not a list")]

    daily: dict[date, float] = defaultdict(float)
    totals: dict[date, float] = defaultdict(float)
    rejected: list[RejectedRecord] = []
    for index, point in enumerate(series):
        try:
            if not isinstance(point, dict):
                raise ValueError("point is not an object")
            day = _doc_day(point.get("date"))
            count = _number(point.get("value"))
            norm = _number(point["norm"]) if point.get("norm") is not None else 0.0
        except (TypeError, ValueError, OverflowError) as exc:
            rejected.append(RejectedRecord(SOURCE, f"{reference} point {index}", str(exc)))
            continue
        daily[day] += count
        totals[day] += norm

    records = []
    days = sorted(d for d in daily if today is None or d < today)
    for index, day in enumerate(days):
        past = [daily[d] for d in days[max(0, index - BASELINE_DAYS) : index]]
        if len(past) < MIN_BASELINE_POINTS:
            continue
        baseline = median(past)
        count = daily[day]
        ratio = count / baseline if baseline > 0 else 1.0
        records.append(
            SignalRecord(
                source=SOURCE,
                external_id=f"{reference}:{day.isoformat()}",
                chokepoint=chokepoint,
                category="security",
                probability=ratio_to_probability(ratio),
                observed_at=datetime.combine(day, time(), timezone.utc),
                title=f"GDELT news on {chokepoint.replace('_', ' ')}: {count:.0f} articles "
                f"({ratio:.1f}x the {len(past)}-day median)",
                url=DOC_URL,
                payload={"query": DOC_QUERIES.get(chokepoint), "count": count,
                         "baseline": baseline, "all_articles": totals[day]},
            )
        )
    return records, rejected
