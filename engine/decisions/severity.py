"""Severity from the probability-weighted expected loss in USD.

Thresholds are lower bounds: an expected loss of at least 25,000 is MEDIUM,
at least 100,000 HIGH and at least 500,000 CRITICAL. They suit a book of
container shipments worth 30,000-120,000 USD per FEU; change them with
``SEVERITY_THRESHOLDS_USD`` (three ascending numbers, comma-separated).
"""

from __future__ import annotations

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_THRESHOLDS = (25_000.0, 100_000.0, 500_000.0)


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def severity_for(expected_loss: float, thresholds=DEFAULT_THRESHOLDS) -> str:
    level = sum(1 for bound in thresholds if expected_loss >= bound)
    return SEVERITIES[level]
