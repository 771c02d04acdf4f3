"""Plain records that source adapters produce, before they are stored."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SignalRecord:
    source: str
    external_id: str
    chokepoint: str
    category: str
    probability: float
    observed_at: datetime
    title: str | None = None
    url: str | None = None
    payload: dict | None = field(default=None, compare=False)

    def row(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ObservationRecord:
    source: str
    chokepoint: str
    metric: str
    value: float
    baseline: float | None
    change_pct: float | None
    observed_at: datetime

    def row(self) -> dict:
        return asdict(self)


@dataclass
class RejectedRecord:
    """A record a parser could not use, with the reason, for the data-error count."""

    source: str
    reference: str
    reason: str
