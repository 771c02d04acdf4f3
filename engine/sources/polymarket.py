"""Polymarket Gamma API adapters: live pages of ``/events``, or the bundled markets."""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from pathlib import Path

from engine import http
from engine.settings import Settings
from engine.signals import polymarket
from engine.sources.base import Fetched, Guard, Parsed

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def _rules(path: str | None) -> tuple[polymarket.KeywordRule, ...]:
    return polymarket.load_rules(path)


class PolymarketAdapter:
    name = polymarket.SOURCE
    circuit = "polymarket"

    def __init__(self, settings: Settings, mode: str) -> None:
        self.settings = settings
        self.mode = mode
        self.rules = _rules(settings.POLYMARKET_KEYWORD_RULES_FILE)

    def missing_configuration(self) -> str | None:
        if self.mode == "live" and not self.settings.POLYMARKET_API_URL:
            return "POLYMARKET_API_URL is not set"
        return None

    def fetch(self, as_of: datetime, guard: Guard) -> Fetched:
        if self.mode == "replay":
            return Fetched([_replay_bytes(polymarket.MARKETS_FILE)])
        return Fetched(self._pages(guard))

    def _pages(self, guard: Guard) -> list[bytes]:
        settings = self.settings
        url = settings.POLYMARKET_API_URL.rstrip("/") + "/events"
        headers = {}
        if settings.POLYMARKET_API_KEY is not None:
            headers["Authorization"] = f"Bearer {settings.POLYMARKET_API_KEY.get_secret_value()}"
        pages = []
        for page in range(settings.POLYMARKET_MAX_PAGES):
            params = {
                "closed": "false",
                "tag_slug": settings.POLYMARKET_TAG_SLUG,
                "limit": settings.POLYMARKET_PAGE_SIZE,
                "offset": page * settings.POLYMARKET_PAGE_SIZE,
            }
            body = guard(http.get, http.client(), self.name, url, params, headers,
                         settings.SOURCE_READ_TIMEOUT_SECONDS * 2)
            pages.append(body)
            if _count(body) < settings.POLYMARKET_PAGE_SIZE:
                break
        return pages

    def parse(self, payload: list[bytes], as_of: datetime) -> Parsed:
        parsed = Parsed()
        for page in payload:
            if self.mode == "replay":
                signals, rejected = _replay_parsed(polymarket.MARKETS_FILE, self.rules)
            else:
                signals, rejected = polymarket.parse_payload(page, self.rules)
            parsed.extend(Parsed(signals=list(signals), rejected=list(rejected)))
        return parsed


def _count(body: bytes) -> int:
    """Items on a page, to know whether another page follows; 0 when unreadable."""
    import json

    try:
        items = json.loads(body)
    except ValueError:
        return 0
    return len(items) if isinstance(items, list) else 0


@functools.lru_cache(maxsize=4)
def _replay_bytes(path: Path) -> bytes:
    return path.read_bytes()


@functools.lru_cache(maxsize=4)
def _replay_parsed(path: Path, rules) -> tuple[tuple, tuple]:
    signals, rejected = polymarket.parse_payload(_replay_bytes(path), rules)
    return tuple(signals), tuple(rejected)
