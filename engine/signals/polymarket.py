"""Polymarket markets as signals: the Yes price is the probability.

``outcomes`` and ``outcomePrices`` arrive either as JSON-encoded strings or as
lists. A market whose prices cannot be read is rejected with a reason and the
rest of the page is kept.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from engine.geography import DATASETS
from engine.records import RejectedRecord, SignalRecord

SOURCE = "polymarket"
MARKETS_FILE = DATASETS / "gamma_geopolitics_shipping_markets_closed.json"

# Ordered keyword rules: the first pattern that matches a question decides the
# chokepoint and category.
KEYWORD_RULES: tuple[tuple[str, str, str], ...] = (
    (r"houthi|red sea|yemen|bab.el.mandeb", "bab_el_mandeb", "security"),
    (r"suez", "suez", "traffic"),
    (r"hormuz|kharg", "hormuz", "security"),
    (r"panama", "panama", "traffic"),
    (r"taiwan", "taiwan", "security"),
)


class MarketError(ValueError):
    """Raised when a market's outcomes or prices cannot be read."""


def _as_list(value, name: str) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise MarketError(f"{name} is not valid JSON") from exc
    if not isinstance(value, list) or not value:
        raise MarketError(f"{name} is missing or empty")
    return value


def yes_probability(market: dict) -> float:
    outcomes = [str(o).strip().lower() for o in _as_list(market.get("outcomes"), "outcomes")]
    prices = _as_list(market.get("outcomePrices"), "outcomePrices")
    if len(prices) != len(outcomes):
        raise MarketError(
            f"outcomePrices has {len(prices)} entries for {len(outcomes)} outcomes"
        )
    index = outcomes.index("yes") if "yes" in outcomes else 0
    try:
        price = float(prices[index])
    except (TypeError, ValueError) as exc:
        raise MarketError(f"price {prices[index]!r} is not a number") from exc
    if not 0.0 <= price <= 1.0:
        raise MarketError(f"price {price} is outside [0, 1]")
    return price


def classify(question: str) -> tuple[str, str] | None:
    for pattern, chokepoint, category in KEYWORD_RULES:
        if re.search(pattern, question, re.IGNORECASE):
            return chokepoint, category
    return None


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_markets(
    markets: list[dict], observed_field: str = "closedTime"
) -> tuple[list[SignalRecord], list[RejectedRecord]]:
    """Turn Gamma market records into signals, keeping good ones when others fail."""
    records: list[SignalRecord] = []
    rejected: list[RejectedRecord] = []
    for market in markets:
        if not isinstance(market, dict):
            rejected.append(RejectedRecord(SOURCE, "?", "market is not an object"))
            continue
        reference = str(market.get("conditionId") or market.get("id") or "?")
        question = str(market.get("question") or "")
        match = classify(question)
        if match is None:
            continue
        try:
            probability = yes_probability(market)
            observed = _timestamp(market.get(observed_field) or market.get("endDate"))
        except (MarketError, ValueError) as exc:
            rejected.append(RejectedRecord(SOURCE, reference, str(exc)))
            continue
        if observed is None:
            rejected.append(RejectedRecord(SOURCE, reference, f"{observed_field} is missing"))
            continue
        slug = market.get("slug")
        records.append(
            SignalRecord(
                source=SOURCE,
                external_id=reference,
                chokepoint=match[0],
                category=match[1],
                probability=probability,
                observed_at=observed,
                title=question,
                url=f"https://polymarket.com/market/{slug}" if slug else None,
                payload={"question": question, "volume": market.get("volume")},
            )
        )
    return records, rejected


def load_replay_markets(path: Path = MARKETS_FILE) -> list[dict]:
    with open(path) as handle:
        return json.load(handle)
