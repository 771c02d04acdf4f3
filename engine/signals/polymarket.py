"""Polymarket markets as signals: the Yes price is the probability.

The Gamma API returns markets (``/markets``) or events that each hold their
markets (``/events``). ``outcomes`` and ``outcomePrices`` arrive either as
JSON-encoded strings or as lists. A market whose prices cannot be read is
rejected with a reason and the rest of the page is kept.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engine.geography import DATASETS, chokepoints
from engine.records import RejectedRecord, SignalRecord

SOURCE = "polymarket"
MARKETS_FILE = DATASETS / "gamma_geopolitics_shipping_markets_closed.json"
MAX_EXTERNAL_ID = 200


@dataclass(frozen=True)
class KeywordRule:
    pattern: re.Pattern
    chokepoint: str
    category: str


def _rule(pattern: str, chokepoint: str, category: str) -> KeywordRule:
    return KeywordRule(re.compile(pattern, re.IGNORECASE), chokepoint, category)


# Ordered keyword rules: the first pattern that matches a market's question
# (or, failing that, its event's title) decides the chokepoint and category.
DEFAULT_RULES: tuple[KeywordRule, ...] = (
    _rule(r"houthi|red sea|yemen|bab.el.mandeb", "bab_el_mandeb", "security"),
    _rule(r"suez", "suez", "traffic"),
    _rule(r"hormuz|kharg", "hormuz", "security"),
    _rule(r"panama", "panama", "traffic"),
    _rule(r"taiwan", "taiwan", "security"),
)


class MarketError(ValueError):
    """Raised when a market's outcomes, prices or times cannot be read."""


class RulesError(ValueError):
    """Raised when a keyword rules file is not a list of valid rules."""


def load_rules(path: str | Path | None) -> tuple[KeywordRule, ...]:
    """Read keyword rules from a JSON file: a list of {pattern, chokepoint, category}."""
    if path is None:
        return DEFAULT_RULES
    try:
        items = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RulesError(f"keyword rules file {path} cannot be read: {exc}") from exc
    if not isinstance(items, list) or not items:
        raise RulesError(f"keyword rules file {path} must hold a non-empty JSON list")
    known = set(chokepoints())
    rules = []
    for index, item in enumerate(items):
        where = f"keyword rule {index} in {path}"
        if not isinstance(item, dict):
            raise RulesError(f"{where} must be an object with pattern, chokepoint, category")
        pattern, chokepoint = item.get("pattern"), item.get("chokepoint")
        category = item.get("category", "security")
        if chokepoint not in known:
            raise RulesError(
                f"{where}: chokepoint {chokepoint!r} is unknown; use one of "
                + ", ".join(sorted(known))
            )
        if not isinstance(pattern, str) or not pattern or not isinstance(category, str):
            raise RulesError(f"{where}: pattern and category must be non-empty strings")
        try:
            rules.append(_rule(pattern, chokepoint, category))
        except re.error as exc:
            raise RulesError(f"{where}: pattern {pattern!r} is not a valid regex ({exc})") from exc
    return tuple(rules)


def _as_list(value, name: str) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError) as exc:
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
    if "yes" not in outcomes:
        raise MarketError(f"no Yes outcome among {outcomes[:5]}")
    raw = prices[outcomes.index("yes")]
    if isinstance(raw, bool):
        raise MarketError(f"Yes price {raw!r} is not a number")
    try:
        price = float(raw)
    except (TypeError, ValueError, OverflowError) as exc:
        raise MarketError(f"Yes price {raw!r} is not a number") from exc
    if not math.isfinite(price) or not 0.0 <= price <= 1.0:
        raise MarketError(f"Yes price {price} is outside [0, 1]")
    return price


def classify(
    question: str, event_title: str = "", rules: tuple[KeywordRule, ...] = DEFAULT_RULES
) -> tuple[str, str] | None:
    for text in (question, event_title):
        for rule in rules:
            if text and rule.pattern.search(text):
                return rule.chokepoint, rule.category
    return None


def parse_timestamp(value, name: str) -> datetime | None:
    """Read an ISO 8601 time (Gamma writes both ``Z`` and ``+00``); None when absent."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise MarketError(f"{name} {value!r} is not a timestamp string")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise MarketError(f"{name} {value!r} is not an ISO 8601 timestamp") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def observed_at(market: dict) -> datetime:
    """When the price was true: at close for a closed market, else at its last update."""
    for name in ("closedTime", "updatedAt", "endDate"):
        value = parse_timestamp(market.get(name), name)
        if value is not None:
            return value
    raise MarketError("closedTime, updatedAt and endDate are all missing")


def flatten(items: list) -> list:
    """Turn a ``/events`` page into its markets; a ``/markets`` page passes through."""
    markets = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("markets"), list):
            title = item.get("title")
            for market in item["markets"]:
                if isinstance(market, dict) and title and "eventTitle" not in market:
                    market = {**market, "eventTitle": title}
                markets.append(market)
        else:
            markets.append(item)
    return markets


def parse_markets(
    markets: list, rules: tuple[KeywordRule, ...] = DEFAULT_RULES
) -> tuple[list[SignalRecord], list[RejectedRecord]]:
    """Turn Gamma market records into signals, keeping good ones when others fail.

    Markets about none of the tracked chokepoints are skipped without a
    rejection: they are valid, only irrelevant.
    """
    records: list[SignalRecord] = []
    rejected: list[RejectedRecord] = []
    for position, market in enumerate(flatten(markets)):
        if not isinstance(market, dict):
            rejected.append(RejectedRecord(SOURCE, f"item {position}", "market is not an object"))
            continue
        reference = str(market.get("conditionId") or market.get("id") or f"item {position}")
        question = market.get("question")
        event_title = market.get("eventTitle")
        if not isinstance(question, str) or not question.strip():
            rejected.append(RejectedRecord(SOURCE, reference, "question is missing"))
            continue
        match = classify(question, event_title if isinstance(event_title, str) else "", rules)
        if match is None:
            continue
        if len(reference) > MAX_EXTERNAL_ID:
            rejected.append(RejectedRecord(SOURCE, reference[:40] + "...",
                                           f"id is longer than {MAX_EXTERNAL_ID} characters"))
            continue
        try:
            probability = yes_probability(market)
            observed = observed_at(market)
        except MarketError as exc:
            rejected.append(RejectedRecord(SOURCE, reference, str(exc)))
            continue
        records.append(_signal(market, reference, question, match, probability, observed))
    return records, rejected


def _signal(market: dict, reference: str, question: str, match: tuple[str, str],
            probability: float, observed: datetime) -> SignalRecord:
    slug = market.get("slug")
    return SignalRecord(
        source=SOURCE,
        external_id=reference,
        chokepoint=match[0],
        category=match[1],
        probability=probability,
        observed_at=observed,
        title=question,
        url=f"https://polymarket.com/market/{slug}" if isinstance(slug, str) and slug else None,
        payload={"question": question, "volume": _plain(market.get("volume")),
                 "eventTitle": _plain(market.get("eventTitle"))},
    )


def _plain(value):
    """Keep JSON scalars only, so the stored payload stays small and serialisable."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def parse_payload(
    payload: bytes | str, rules: tuple[KeywordRule, ...] = DEFAULT_RULES
) -> tuple[list[SignalRecord], list[RejectedRecord]]:
    """Parse a Gamma response body (a JSON list of markets or events)."""
    try:
        items = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        return [], [RejectedRecord(SOURCE, "payload", f"response is not valid JSON: {exc}")]
    if isinstance(items, dict):
        items = items.get("data", items.get("markets"))
    if not isinstance(items, list):
        return [], [RejectedRecord(SOURCE, "payload", "response is not a JSON list of markets")]
    return parse_markets(items, rules)


def load_replay_markets(path: Path = MARKETS_FILE) -> list[dict]:
    with open(path) as handle:
        return json.load(handle)
