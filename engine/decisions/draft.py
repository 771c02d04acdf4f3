"""A decision before it is stored: what the generator hands to the lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Hours of waiting whose cost every decision states.
WAIT_HOURS = (6, 24, 48)


@dataclass
class DecisionDraft:
    customer_id: str
    event_key: str
    chokepoint: str
    severity: str
    recommended_action: str
    exposure_usd: float
    expected_loss_usd: float
    action_cost_usd: float
    net_benefit_usd: float
    probability: float
    confidence: float
    shipment_count: int
    deadline: datetime | None
    expires_at: datetime
    as_of: datetime
    answers: dict
    provenance: dict
    # Hash of the decision's content without input ages: equal means unchanged.
    fingerprint: str
