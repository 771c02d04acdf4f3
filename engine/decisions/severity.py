"""Severity from the probability-weighted expected loss in USD.

Thresholds are lower bounds, set by ``SEVERITY_THRESHOLDS_USD``: by default an
expected loss of at least 25,000 is MEDIUM, at least 100,000 HIGH and at
least 500,000 CRITICAL. They are sized for container shipments worth
30,000-120,000 USD per FEU, where one typical Asia-Europe booking of a dozen
boxes carries an expected loss in the tens of thousands during a Red Sea
style disruption.
"""

from __future__ import annotations

import numpy as np

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_THRESHOLDS = (25_000.0, 100_000.0, 500_000.0)


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def severity_for(expected_loss: float, thresholds=DEFAULT_THRESHOLDS) -> str:
    level = sum(1 for bound in thresholds if expected_loss >= bound)
    return SEVERITIES[level]


def severities_for(expected_loss: np.ndarray, thresholds=DEFAULT_THRESHOLDS) -> np.ndarray:
    """Vectorised ``severity_for`` over an array of expected losses."""
    levels = np.searchsorted(np.asarray(thresholds, float), expected_loss, side="right")
    return np.asarray(SEVERITIES, dtype=object)[levels]
