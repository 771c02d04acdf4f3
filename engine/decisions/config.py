"""Tuning of the decision engine, read from settings once per call site."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from engine.decisions.costs import CostParameters
from engine.decisions.severity import DEFAULT_THRESHOLDS
from engine.settings import Settings, get_settings


@dataclass(frozen=True)
class DecisionConfig:
    severity_thresholds: tuple[float, float, float] = DEFAULT_THRESHOLDS
    # Shipments that reach an affected chokepoint within this window are matched.
    horizon: timedelta = timedelta(days=30)
    # Events below this probability produce no decisions.
    min_probability: float = 0.2
    # Below this, a decision with no worthwhile action recommends DO_NOTHING, not MONITOR.
    monitor_probability: float = 0.3
    # A rise in exposure beyond this share makes a new version (and a new alert).
    material_exposure_change: float = 0.2
    # Another action replaces the current advice only if it is better by more
    # than this share of the expected loss.
    action_switch_margin: float = 0.1
    costs: CostParameters = field(default_factory=CostParameters)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> DecisionConfig:
        settings = settings or get_settings()
        return cls(
            severity_thresholds=settings.severity_thresholds,
            horizon=timedelta(days=settings.DECISION_HORIZON_DAYS),
            min_probability=settings.DECISION_MIN_PROBABILITY,
            material_exposure_change=settings.MATERIAL_EXPOSURE_CHANGE_PCT / 100.0,
        )
