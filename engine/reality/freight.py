"""Weekly container freight rates (SCFI layout) as reality observations.

The Shanghai Containerized Freight Index is published weekly by the Shanghai
Shipping Exchange in USD per TEU (USD per FEU for US routes). Each route's
rate is compared with the median of the 26 weeks before the 4 most recent
ones, so a sudden jump stands out against its recent past.

Two payload layouts are read: the SCFI CSV (an optional title line, then a
header whose first column is the week, written M/D/YYYY or ISO) and JSON, a
list of objects with ``week`` and one key per route column.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, datetime, time, timezone
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

Row = tuple[str, object, dict]  # (reference, week cell, {column: cell})


def parse_weekly(path: Path = WEEKLY_FILE) -> tuple[list[ObservationRecord], list[RejectedRecord]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return parse_payload(handle.read())


def parse_payload(payload: bytes | str) -> tuple[list[ObservationRecord], list[RejectedRecord]]:
    """Parse an SCFI CSV or JSON body into rate observations."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return [], [RejectedRecord(SOURCE, "payload", f"body is not UTF-8: {exc}")]
    text = payload.lstrip("\ufeff")
    if text.lstrip().startswith(("[", "{")):
        rows, rejected = _json_rows(text)
    else:
        rows, rejected = _csv_rows(text)
    records, bad = _observations(rows)
    return records, rejected + bad


def _csv_rows(text: str) -> tuple[list[Row], list[RejectedRecord]]:
    lines = list(csv.reader(io.StringIO(text, newline="")))
    start = next((i for i, cells in enumerate(lines[:3]) if set(ROUTES) & set(cells)), None)
    if start is None:
        return [], [RejectedRecord(SOURCE, "header", "no SCFI route column in the first 3 lines")]
    header = lines[start]
    rows = []
    for line, cells in enumerate(lines[start + 1 :], start=start + 2):
        rows.append((f"line {line}", cells[0] if cells else None, dict(zip(header, cells))))
    return rows, []


def _json_rows(text: str) -> tuple[list[Row], list[RejectedRecord]]:
    try:
        items = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return [], [RejectedRecord(SOURCE, "payload", f"response is not valid JSON: {exc}")]
    if isinstance(items, dict):
        items = items.get("data")
    if not isinstance(items, list):
        return [], [RejectedRecord(SOURCE, "payload", "response is not a JSON list of weeks")]
    rows = []
    for index, item in enumerate(items):
        values = item if isinstance(item, dict) else {}
        rows.append((f"item {index}", values.get("week"), values))
    return rows, []


def _week(cell) -> date:
    if not isinstance(cell, str):
        raise ValueError(f"week {cell!r} is not a date string")
    cell = cell.strip()
    try:
        return date.fromisoformat(cell[:10])
    except ValueError:
        # The bundled export writes M/D/YYYY under a YYYY-MM-DD header.
        return datetime.strptime(cell, "%m/%d/%Y").date()


def _rate(value) -> float:
    if isinstance(value, bool):
        raise ValueError("boolean is not a rate")
    rate = float(value)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"rate {rate} is not a positive number")
    return rate


def _observations(rows: list[Row]) -> tuple[list[ObservationRecord], list[RejectedRecord]]:
    history: dict[str, list[float]] = {column: [] for column in ROUTES}
    records: list[ObservationRecord] = []
    rejected: list[RejectedRecord] = []
    for reference, week_cell, values in rows:
        try:
            observed = datetime.combine(_week(week_cell), time(), timezone.utc)
        except ValueError:
            rejected.append(RejectedRecord(SOURCE, reference, "invalid week date"))
            continue
        for column, (chokepoint, metric) in ROUTES.items():
            try:
                rate = _rate(values.get(column))
            except (TypeError, ValueError, OverflowError):
                rejected.append(RejectedRecord(SOURCE, reference, f"invalid rate in {column!r}"))
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
