"""Source adapters, one per source, in the mode that ``SOURCE_MODE`` chooses."""

from __future__ import annotations

from engine.settings import Settings
from engine.sources.ais import AisAdapter
from engine.sources.base import Adapter, Fetched, Parsed
from engine.sources.freight import FreightAdapter
from engine.sources.gdelt import GdeltAdapter
from engine.sources.polymarket import PolymarketAdapter
from engine.sources.portwatch import PortWatchAdapter

ADAPTERS = (PolymarketAdapter, GdeltAdapter, AisAdapter, PortWatchAdapter, FreightAdapter)
# Source name -> the circuit that guards its live calls.
CIRCUITS = {adapter.name: adapter.circuit for adapter in ADAPTERS}
SIGNAL_SOURCES = ("polymarket", "gdelt")
REALITY_SOURCES = ("ais", "portwatch", "scfi")

__all__ = ["ADAPTERS", "CIRCUITS", "Adapter", "Fetched", "Parsed", "build"]


def build(settings: Settings, mode: str | None = None) -> list[Adapter]:
    """Return every source's adapter for ``mode`` (``SOURCE_MODE`` by default)."""
    mode = mode or settings.SOURCE_MODE
    return [adapter(settings, mode) for adapter in ADAPTERS]
