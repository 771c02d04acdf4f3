"""Weekly container freight rates (SCFI layout) as reality observations.

The Shanghai Containerized Freight Index is published weekly by the Shanghai
Shipping Exchange in USD per TEU (USD per FEU for US routes). Each route's
rate is compared with the median of the 26 weeks before the 4 most recent
ones, so a sudden jump stands out against its recent past.
"""

from __future__ import annotations

import csv
from datetime import datetime, time, timezone
from pathlib import Path
from statistics import median

from engine.geography import DATASETS
from engine.records import ObservationRecord, RejectedRecord

SOURCE = "scfi"
WEEKLY_FILE = DATASETS / "scfi_weekly_2018-2025.csv"

# SCFI column -> (chokepoint the route depends on, metric name).
ROUTES = {
    "Europe (Base port)": ("bab_el_mandeb", "rate_europe_usd_teu"),
    "Mediterranean (Base port)": ("suez", "rate_med_usd_teu"),
    "Persian Gulf and Red Sea (Dubai)": ("hormuz", "rate_gulf_usd_teu"),
}
BASELINE_WEEKS = 26
GAP_WEEKS = 4


def parse_weekly(path: Path = WEEKLY_FILE) -> tuple[list[ObservationRecord], list[RejectedRecord]]:
    history: dict[str, list[float]] = {column: [] for column in ROUTES}
    records: list[ObservationRecord] = []
    rejected: list[RejectedRecord] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader, None)  # title line above the header
        header = next(reader, [])
        for line, cells in enumerate(reader, start=3):
            row = dict(zip(header, cells))
            try:
                week = datetime.strptime(row[header[0]].strip(), "%m/%d/%Y")
            except (IndexError, KeyError, ValueError):
                rejected.append(RejectedRecord(SOURCE, f"line {line}", "invalid week date"))
                continue
            observed = datetime.combine(week.date(), time(), timezone.utc)
            for column, (chokepoint, metric) in ROUTES.items():
                try:
                    rate = float(row[column])
                except (KeyError, TypeError, ValueError):
                    rejected.append(
                        RejectedRecord(SOURCE, f"line {line}", f"invalid rate in {column!r}")
                    )
                    continue
                past = history[column]
                window = past[-(BASELINE_WEEKS + GAP_WEEKS) : -GAP_WEEKS] if past else []
                past.append(rate)
                if len(window) < 8:
                    continue
                baseline = median(window)
                records.append(
                    ObservationRecord(
                        source=SOURCE,
                        chokepoint=chokepoint,
                        metric=metric,
                        value=rate,
                        baseline=baseline,
                        change_pct=round((rate / baseline - 1.0) * 100.0, 2),
                        observed_at=observed,
                    )
                )
    return records, rejected
