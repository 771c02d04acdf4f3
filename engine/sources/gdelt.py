"""GDELT adapters: DOC 2.0 timelines per chokepoint live, the weekly series in replay."""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from pathlib import Path

from pybreaker import CircuitBreakerError

from engine import http
from engine.settings import Settings
from engine.signals import gdelt
from engine.sources.base import Fetched, Guard, Parsed

log = logging.getLogger(__name__)


class GdeltAdapter:
    name = gdelt.SOURCE
    circuit = "news"

    def __init__(self, settings: Settings, mode: str) -> None:
        self.settings = settings
        self.mode = mode

    def missing_configuration(self) -> str | None:
        if self.mode == "live" and not self.settings.GDELT_API_URL:
            return "GDELT_API_URL is not set"
        return None

    def fetch(self, as_of: datetime, guard: Guard) -> Fetched:
        if self.mode == "replay":
            return Fetched(gdelt.WEEKLY_FILE)
        start = as_of - timedelta(days=self.settings.GDELT_LOOKBACK_DAYS)
        bodies: dict[str, bytes] = {}
        errors: list[str] = []
        for chokepoint, query in gdelt.DOC_QUERIES.items():
            params = {
                "query": query,
                "mode": "timelinevolraw",
                "format": "json",
                "timelinesmooth": "0",
                "startdatetime": start.strftime("%Y%m%d%H%M%S"),
                "enddatetime": as_of.strftime("%Y%m%d%H%M%S"),
            }
            try:
                bodies[chokepoint] = guard(
                    http.get, http.client(), self.name, self.settings.GDELT_API_URL, params,
                    None, self.settings.SOURCE_READ_TIMEOUT_SECONDS * 2,
                )
            except CircuitBreakerError:
                raise
            except http.SourceUnavailable as exc:
                errors.append(str(exc))
        if not bodies:
            raise http.SourceUnavailable(self.name, "; ".join(errors) or "every query failed")
        return Fetched(bodies, errors)

    def parse(self, payload, as_of: datetime) -> Parsed:
        if self.mode == "replay":
            signals, rejected = _weekly(payload)
            return Parsed(signals=list(signals), rejected=list(rejected))
        parsed = Parsed()
        for chokepoint, body in payload.items():
            signals, rejected = gdelt.parse_timeline(body, chokepoint, today=as_of.date())
            parsed.extend(Parsed(signals=signals, rejected=rejected))
        return parsed


@functools.lru_cache(maxsize=4)
def _weekly(path: Path) -> tuple[tuple, tuple]:
    signals, rejected = gdelt.parse_weekly(path)
    return tuple(signals), tuple(rejected)
