"""Cost model behind every decision, vectorised over shipments with numpy.

All amounts are USD. Arrays are aligned: one element per (shipment,
chokepoint) pair that the event affects.

Default figures and where they come from:
- Inventory holding cost of 25% of cargo value per year: the middle of the
  20-30% carrying-cost range used in inventory management texts.
- Extra days via the Cape of Good Hope: per lane in ``engine.geography``
  (UNCTAD, 2024: 10-14 days on Asia-North Europe).
- War-risk cargo cover of 0.5% of cargo value for a Red Sea transit: an
  estimate from the 0.5-1% hull war-risk rates reported by Lloyd's List in
  January 2024, applied to cargo.
- Physical loss of 1% of cargo value when a disrupted transit goes ahead: an
  estimate from the dozens of merchant ships struck among roughly 2,000
  Bab el-Mandeb transits a month in early 2024 (IMF PortWatch counts).
- Reroute surcharge of USD 1,500 per FEU: an estimate within the 1,000-2,700
  per FEU range of carriers' transit-disruption surcharges of January 2024.
- A late diversion (deciding after the vessel reached the area) adds 7 days
  to the Cape voyage: an estimate for waiting and repositioning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANNUAL_HOLDING_RATE = 0.25
WAR_RISK_RATE = 0.005
INSURANCE_PREMIUM_RATE = 0.003
INSURANCE_COVER_SHARE = 0.8
CARGO_LOSS_RATE = 0.01
REROUTE_SURCHARGE_PER_FEU = 1_500.0
LATE_DIVERSION_EXTRA_DAYS = 7.0
DEFAULT_DELAY_DAYS = 14.0
DELAY_HOLD_DAYS = 14.0
DELAY_STORAGE_PER_FEU_DAY = 25.0
DELAY_RISK_AVOIDED = 0.6
TEU_PER_FEU = 2.0

# Multipliers on expected loss by the customer's risk tolerance: a customer
# who tolerates little risk weighs a possible loss more heavily.
TOLERANCE_WEIGHT = {"LOW": 1.3, "MEDIUM": 1.0, "HIGH": 0.8}

ACTIONS = ("REROUTE", "DELAY", "INSURE", "MONITOR", "DO_NOTHING")


def holding_cost(value: np.ndarray, days: np.ndarray | float) -> np.ndarray:
    return value * ANNUAL_HOLDING_RATE / 365.0 * days


@dataclass
class ShipmentCosts:
    expected_loss: np.ndarray
    loss_if_disrupted: np.ndarray
    reroute_cost: np.ndarray
    reroute_feasible: np.ndarray
    delay_cost: np.ndarray
    delay_feasible: np.ndarray
    insure_cost: np.ndarray
    insure_benefit: np.ndarray


def shipment_costs(
    probability: float,
    value: np.ndarray,
    feu: np.ndarray,
    extra_days: np.ndarray,
    rate_premium_usd_teu: float,
    reroutable: np.ndarray,
    departed: np.ndarray,
) -> ShipmentCosts:
    """Compute each action's cost and the expected loss of doing nothing."""
    delay_days = np.where(extra_days > 0, extra_days, DEFAULT_DELAY_DAYS)
    late_delay = delay_days + LATE_DIVERSION_EXTRA_DAYS
    rate_premium = feu * TEU_PER_FEU * rate_premium_usd_teu
    surcharge = value * WAR_RISK_RATE
    physical_loss = value * CARGO_LOSS_RATE
    loss_if_disrupted = holding_cost(value, late_delay) + rate_premium + surcharge + physical_loss
    expected_loss = probability * loss_if_disrupted

    reroute_cost = holding_cost(value, extra_days) + feu * REROUTE_SURCHARGE_PER_FEU
    delay_cost = holding_cost(value, DELAY_HOLD_DAYS) + feu * DELAY_STORAGE_PER_FEU_DAY * DELAY_HOLD_DAYS
    insure_cost = value * INSURANCE_PREMIUM_RATE
    insure_benefit = probability * physical_loss * INSURANCE_COVER_SHARE
    return ShipmentCosts(
        expected_loss=expected_loss,
        loss_if_disrupted=loss_if_disrupted,
        reroute_cost=reroute_cost,
        reroute_feasible=reroutable & (extra_days > 0),
        delay_cost=delay_cost,
        delay_feasible=~departed,
        insure_cost=insure_cost,
        insure_benefit=insure_benefit,
    )
