"""PortWatch daily transit adapters: a CSV endpoint live, the bundled exports in replay."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

from engine import http
from engine.reality import portwatch
from engine.records import RejectedRecord
from engine.settings import Settings
from engine.sources.base import Fetched, Guard, Parsed

# Bundled files, with the chokepoint of a file that has no portid column.
REPLAY_FILES: tuple[tuple[Path, str | None], ...] = (
    (portwatch.DAILY_FILE, None),
    (portwatch.HORMUZ_FILE, "hormuz"),
)


class PortWatchAdapter:
    name = portwatch.SOURCE
    # PortWatch counts come from AIS, so they share the vessel-tracking circuit.
    circuit = "ais"

    def __init__(self, settings: Settings, mode: str) -> None:
        self.settings = settings
        self.mode = mode

    def missing_configuration(self) -> str | None:
        if self.mode == "live" and not self.settings.PORTWATCH_URL:
            return "PORTWATCH_URL is not set"
        return None

    def fetch(self, as_of: datetime, guard: Guard) -> Fetched:
        if self.mode == "replay":
            return Fetched(REPLAY_FILES)
        body = guard(http.get, http.client(), self.name, self.settings.PORTWATCH_URL, None,
                     None, self.settings.SOURCE_READ_TIMEOUT_SECONDS * 2)
        return Fetched(body)

    def parse(self, payload, as_of: datetime) -> Parsed:
        if self.mode == "replay":
            observations, rejected = _replay(payload)
            return Parsed(observations=list(observations), rejected=list(rejected))
        return parse_body(payload)


def parse_body(body: bytes) -> Parsed:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Parsed(rejected=[RejectedRecord(portwatch.SOURCE, "payload",
                                               f"body is not UTF-8: {exc}")])
    series, rejected = portwatch.parse_daily_text(text)
    return Parsed(observations=portwatch.observations(series), rejected=rejected)


@functools.lru_cache(maxsize=2)
def _replay(files: tuple[tuple[Path, str | None], ...]) -> tuple[tuple, tuple]:
    observations, rejected = [], []
    for path, chokepoint in files:
        series, bad = portwatch.read_daily(path, chokepoint)
        observations += portwatch.observations(series)
        rejected += bad
    return tuple(observations), tuple(rejected)
