"""Freight rate adapters: an SCFI-style CSV or JSON endpoint live, the bundled series in replay."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

from engine import http
from engine.reality import freight
from engine.settings import Settings
from engine.sources.base import Fetched, Guard, Parsed


class FreightAdapter:
    name = freight.SOURCE
    # Only six circuits exist; rate feeds tolerate failures like the news APIs.
    circuit = "news"

    def __init__(self, settings: Settings, mode: str) -> None:
        self.settings = settings
        self.mode = mode

    def missing_configuration(self) -> str | None:
        if self.mode == "live" and not self.settings.FREIGHT_RATES_URL:
            return "FREIGHT_RATES_URL is not set"
        return None

    def fetch(self, as_of: datetime, guard: Guard) -> Fetched:
        if self.mode == "replay":
            return Fetched(freight.WEEKLY_FILE)
        body = guard(http.get, http.client(), self.name, self.settings.FREIGHT_RATES_URL,
                     None, None, self.settings.SOURCE_READ_TIMEOUT_SECONDS * 2)
        return Fetched(body)

    def parse(self, payload, as_of: datetime) -> Parsed:
        if self.mode == "replay":
            observations, rejected = _replay(payload)
        else:
            observations, rejected = freight.parse_payload(payload)
        return Parsed(observations=list(observations), rejected=list(rejected))


@functools.lru_cache(maxsize=2)
def _replay(path: Path) -> tuple[tuple, tuple]:
    observations, rejected = freight.parse_payload(path.read_bytes())
    return tuple(observations), tuple(rejected)
