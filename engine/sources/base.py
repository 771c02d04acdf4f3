"""What every source adapter provides, in replay and in live mode.

An adapter's ``fetch`` gets the raw payload (from a bundled file, or from the
network through the circuit breaker's ``guard``) and ``parse`` turns a
payload into records. Live and replay adapters of one source share ``parse``,
so the same payload gives the same records in both modes. Only ``fetch``
failures count towards the circuit; records that ``parse`` rejects are data
errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from engine.reality.ais import Position
from engine.records import ObservationRecord, RejectedRecord, SignalRecord

Guard = Callable[..., Any]


@dataclass
class Parsed:
    signals: list[SignalRecord] = field(default_factory=list)
    observations: list[ObservationRecord] = field(default_factory=list)
    positions: list[Position] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.signals += other.signals
        self.observations += other.observations
        self.positions += other.positions
        self.rejected += other.rejected

    def times(self) -> list[datetime]:
        return ([s.observed_at for s in self.signals]
                + [o.observed_at for o in self.observations]
                + [p.at for p in self.positions])


@dataclass
class Fetched:
    """A payload, and the errors of the requests that failed while others worked."""

    payload: Any
    errors: list[str] = field(default_factory=list)


class Adapter(Protocol):
    name: str  # the source_status row, e.g. "polymarket"
    circuit: str  # the breaker that guards its live calls
    mode: str  # "replay" or "live"

    def missing_configuration(self) -> str | None:
        """Name what must be set before this adapter can run, or None when it can."""

    def fetch(self, as_of: datetime, guard: Guard) -> Fetched:
        """Get the raw payload; live requests run through ``guard`` (the breaker)."""

    def parse(self, payload: Any, as_of: datetime) -> Parsed:
        """Turn a payload into records; never raises for bad data."""
