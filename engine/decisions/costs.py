"""The cost model behind every decision, vectorised over shipments with numpy.

All amounts are USD; arrays hold one element per (shipment, chokepoint) leg.
A container is counted as one FEU (40-foot box, 2 TEU).

Default figures and their sources:

- Holding cost of 25% of cargo value per year. SIG's glossary
  (sig.org, "Inventory Holding (Carrying) Cost") gives 20-40% per year as
  the usual range; 25% sits at its lower end.
- Extra sailing days of a reroute and of a late diversion come from the
  route model in ``engine.decisions.routes`` at 16 knots. For Shanghai to
  Rotterdam it gives 9.0 days via the Cape as planned, where Flexport gave
  8-10 days at 16 knots (quoted by JIFFA, December 2023). It gives 13.0
  days for a vessel that turns back at Bab el-Mandeb, where Flexport gave 13
  days from the Gulf of Aden.
- Reroute surcharge of USD 1,000 per FEU: CMA CGM's "Cape surcharge" of
  USD 500 per TEU and 1,000 per FEU from 20 December 2023 (reported by
  chinafricashipping.com, "Airlines announce surcharges"). MSC's Emergency
  Operation Surcharge of USD 1,500 per 40-foot box from 20 January 2024 is
  the upper end (GSPC Global, "Shippers announce increased rates for Cape of
  Good Hope re-routing").
- Rate premium: the measured rise of the spot freight rate over its baseline
  (SCFI, USD per TEU), charged on every TEU that meets the disruption. Cargo
  that meets a disruption its carrier diverts from pays at least the
  diversion surcharges Maersk put on a China-North Europe TEU on 21 December
  2023: USD 200 transit disruption surcharge plus USD 500 peak season
  surcharge (TRT World, 22 December 2023). Maersk's notice, as quoted by
  GSPC Global, applied them to shipments "already on the water" as well.
- Risk surcharge of 0.5% of cargo value for a transit through a war-risk
  listed area: an estimate. Lloyd's List reported hull war-risk additional
  premiums of 0.3-0.5% of vessel value for a Red Sea transit in December
  2023; no comparable published figure for cargo was found, so the hull rate
  is applied to cargo value. It applies only to security events.
- INSURE buys cover for 80% of the delay cost and the risk surcharge (an
  assumed 20% deductible; freight rate premiums are not insurable). Its
  premium is the expected payout plus a 25% loading for the insurer's costs
  and margin (an estimate), and at least 0.05% of cargo value, the war-risk
  rate before December 2023 that insurance officials in Mumbai gave to
  BusinessDay ("War risk premiums for cargoes surge amid Red Sea crisis";
  a hull rate, applied to cargo). Because the premium exceeds the
  expected payout, cover only pays off for customers whose risk tolerance
  weighs a loss more than its expected value.
- DELAY rolls the cargo to the next sailing of the same weekly service,
  7 days later: liner services keep fixed weekly call days (Rodrigue, "the
  Rule of 7", porteconomicsmanagement.org).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIONS = ("REROUTE", "DELAY", "INSURE", "MONITOR", "DO_NOTHING")
# Multipliers on the expected loss avoided, by the customer's risk tolerance.
# A preference, not a market figure: a customer who tolerates little risk
# weighs a possible loss more heavily than its expected value.
TOLERANCE_WEIGHT = {"LOW": 1.3, "MEDIUM": 1.0, "HIGH": 0.8}


@dataclass(frozen=True)
class CostParameters:
    annual_holding_rate: float = 0.25
    reroute_surcharge_per_feu: float = 1_000.0
    diversion_premium_usd_teu: float = 700.0
    risk_surcharge_rate: float = 0.005
    insurance_cover_share: float = 0.8
    insurance_loading: float = 0.25
    insurance_min_rate: float = 0.0005
    delay_days: float = 7.0
    teu_per_feu: float = 2.0


DEFAULT = CostParameters()


def holding_cost(value, days, params: CostParameters = DEFAULT):
    """Cost of capital and storage for cargo ``value`` held ``days`` longer."""
    return np.asarray(value, float) * params.annual_holding_rate / 365.0 * days


def rate_premium_cost(feu, premium_usd_teu, params: CostParameters = DEFAULT):
    """Freight premium over the baseline rate for ``feu`` forty-foot boxes."""
    return np.asarray(feu, float) * params.teu_per_feu * np.maximum(premium_usd_teu, 0.0)


def risk_surcharge(value, applies, params: CostParameters = DEFAULT):
    """War-risk premium on cargo value where the event is a security threat."""
    return np.asarray(value, float) * params.risk_surcharge_rate * np.asarray(applies, bool)


def diversion_premium(premium_usd_teu, diverted, params: CostParameters = DEFAULT):
    """Rate premium per TEU: at least the diversion surcharge where the carrier diverts."""
    measured = np.maximum(np.asarray(premium_usd_teu, float), 0.0)
    floor = np.where(np.asarray(diverted, bool), params.diversion_premium_usd_teu, 0.0)
    return np.maximum(measured, floor)


def loss_if_disrupted(value, feu, late_delay_days, premium_usd_teu, war_risk, diverted,
                      params: CostParameters = DEFAULT):
    """Compute what a shipment loses when it meets the disruption on its planned route.

    ``diverted`` marks legs whose carrier turns away (there is a way round),
    which then pay at least the diversion surcharge.
    """
    premium = diversion_premium(premium_usd_teu, diverted, params)
    return (
        holding_cost(value, late_delay_days, params)
        + rate_premium_cost(feu, premium, params)
        + risk_surcharge(value, war_risk, params)
    )


def reroute_cost(value, feu, extra_days, params: CostParameters = DEFAULT):
    """Cost of taking the alternative as planned: longer voyage plus surcharge."""
    return holding_cost(value, extra_days, params) + (
        np.asarray(feu, float) * params.reroute_surcharge_per_feu
    )


def delay_cost(value, params: CostParameters = DEFAULT):
    """Cost of holding the cargo for the next weekly sailing."""
    return holding_cost(value, params.delay_days, params)


def delay_residual_loss(probability, loss, reroute_after, reroutable):
    """Expected loss left after waiting a week for the event to resolve.

    If it materialises, the cargo reroutes before departure where it can
    (paying the cheaper of rerouting or the loss), otherwise it bears the loss.
    """
    fallback = np.where(reroutable, np.minimum(loss, reroute_after), loss)
    return probability * fallback


def insurance_payout(probability, value, late_delay_days, war_risk,
                     params: CostParameters = DEFAULT):
    """Expected payout of disruption cover: a share of delay cost and risk surcharge."""
    covered = holding_cost(value, late_delay_days, params) + risk_surcharge(
        value, war_risk, params
    )
    return np.asarray(probability, float) * params.insurance_cover_share * covered


def insurance_premium(value, payout, params: CostParameters = DEFAULT):
    """Compute the premium: expected payout plus loading, never below the floor rate."""
    floor = np.asarray(value, float) * params.insurance_min_rate
    return np.maximum(np.asarray(payout, float) * (1.0 + params.insurance_loading), floor)


@dataclass
class ActionTable:
    """Per leg: expected loss, and each action's cost, net benefit and feasibility.

    Net benefit is the risk-weighted expected loss the action avoids minus
    what it costs; MONITOR and DO_NOTHING cost nothing and avoid nothing.
    """

    loss_if_disrupted: np.ndarray
    expected_loss: np.ndarray
    cost: dict[str, np.ndarray]
    net: dict[str, np.ndarray]
    feasible: dict[str, np.ndarray]


def action_table(probability, value, feu, premium_usd_teu, war_risk, diverted,
                 alternative_open, late_delay_days, extra_days, weight, reroute_feasible,
                 delay_feasible, insure_feasible,
                 params: CostParameters = DEFAULT) -> ActionTable:
    """Cost every action for every leg at once.

    ``alternative_open`` marks legs whose way round is usable at all, so
    cargo held back a week can still take it. ``reroute_feasible`` further
    requires that the shipment has not passed its diversion point.
    """
    probability = np.asarray(probability, float)
    weight = np.asarray(weight, float)
    loss = loss_if_disrupted(value, feu, late_delay_days, premium_usd_teu, war_risk,
                             diverted, params)
    expected = probability * loss

    reroute = reroute_cost(value, feu, extra_days, params)
    delay = delay_cost(value, params)
    # After a week's wait the cargo has not sailed, so any way round is open.
    residual = delay_residual_loss(probability, loss, reroute, alternative_open)
    payout = insurance_payout(probability, value, late_delay_days, war_risk, params)
    premium = insurance_premium(value, payout, params)
    zeros = np.zeros_like(expected)

    return ActionTable(
        loss_if_disrupted=loss,
        expected_loss=expected,
        cost={"REROUTE": reroute, "DELAY": delay, "INSURE": premium,
              "MONITOR": zeros, "DO_NOTHING": zeros},
        net={
            "REROUTE": weight * expected - reroute,
            "DELAY": weight * (expected - residual) - delay,
            "INSURE": weight * payout - premium,
            "MONITOR": zeros,
            "DO_NOTHING": zeros,
        },
        feasible={
            "REROUTE": np.asarray(reroute_feasible, bool),
            "DELAY": np.asarray(delay_feasible, bool),
            "INSURE": np.asarray(insure_feasible, bool),
            "MONITOR": np.ones_like(expected, dtype=bool),
            "DO_NOTHING": np.ones_like(expected, dtype=bool),
        },
    )
