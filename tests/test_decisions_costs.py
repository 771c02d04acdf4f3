"""Each cost formula pinned against an example worked out by hand.

The example shipment throughout: USD 1,000,000 of cargo in 10 FEU (20 TEU),
holding cost 25% a year, so one day costs 1,000,000 * 0.25 / 365 = 684.9315.
"""

import numpy as np
import pytest

from engine.decisions import costs
from engine.decisions.severity import severities_for, severity_for

VALUE = 1_000_000.0
FEU = 10.0
DAY = 1_000_000 * 0.25 / 365  # 684.93150...


def test_holding_cost_per_day():
    assert float(costs.holding_cost(VALUE, 10)) == pytest.approx(6_849.315, abs=0.01)
    assert float(costs.holding_cost(VALUE, 10)) == pytest.approx(10 * DAY)


def test_rate_premium_per_teu():
    # 10 FEU = 20 TEU at 500 USD/TEU
    assert float(costs.rate_premium_cost(FEU, 500.0)) == 10_000.0
    assert float(costs.rate_premium_cost(FEU, -50.0)) == 0.0


def test_risk_surcharge_only_for_security():
    assert costs.risk_surcharge(np.array([VALUE, VALUE]), np.array([True, False])).tolist() == [
        5_000.0, 0.0,
    ]


def test_diversion_premium_floor():
    measured = np.array([260.0, 1_929.0, 260.0, -10.0])
    diverted = np.array([True, True, False, True])

    premium = costs.diversion_premium(measured, diverted)

    assert premium.tolist() == [700.0, 1_929.0, 260.0, 700.0]


def test_loss_if_disrupted_example():
    # 13 late days: 8,904.11; 20 TEU at the 700 floor: 14,000; 0.5% war risk: 5,000
    loss = costs.loss_if_disrupted(VALUE, FEU, 13.0, 260.0, True, True)

    assert float(loss) == pytest.approx(27_904.11, abs=0.01)


def test_loss_without_way_round_uses_measured_premium():
    # 6 days waiting: 4,109.59; 20 TEU at 260: 5,200; no war risk
    loss = costs.loss_if_disrupted(VALUE, FEU, 6.0, 260.0, False, False)

    assert float(loss) == pytest.approx(9_309.59, abs=0.01)


def test_reroute_cost_example():
    # 9 extra days: 6,164.38; 10 FEU at 1,000: 10,000
    assert float(costs.reroute_cost(VALUE, FEU, 9.0)) == pytest.approx(16_164.38, abs=0.01)


def test_delay_cost_one_week():
    assert float(costs.delay_cost(VALUE)) == pytest.approx(4_794.52, abs=0.01)


def test_delay_residual_loss():
    residual = costs.delay_residual_loss(0.5, np.array([27_904.11, 27_904.11]),
                                         np.array([16_164.38, 16_164.38]),
                                         np.array([True, False]))

    # with a way round: 0.5 * min(27,904.11, 16,164.38); without: 0.5 * 27,904.11
    assert residual.tolist() == pytest.approx([8_082.19, 13_952.055], abs=0.01)


def test_insurance_payout_and_premium():
    # covered: 13 late days 8,904.11 + surcharge 5,000 = 13,904.11; 80% of it at p 0.5
    payout = costs.insurance_payout(0.5, VALUE, 13.0, True)
    premium = costs.insurance_premium(VALUE, payout)

    assert float(payout) == pytest.approx(5_561.64, abs=0.01)
    assert float(premium) == pytest.approx(6_952.05, abs=0.01)


def test_insurance_premium_floor():
    # 0.05% of 1,000,000 = 500 beats 1.25 * 100
    assert float(costs.insurance_premium(VALUE, 100.0)) == 500.0


def test_action_table_example():
    table = costs.action_table(
        probability=np.array([0.8]), value=np.array([VALUE]), feu=np.array([FEU]),
        premium_usd_teu=np.array([260.0]), war_risk=np.array([True]),
        diverted=np.array([True]), alternative_open=np.array([True]),
        late_delay_days=np.array([13.0]), extra_days=np.array([9.0]),
        weight=np.array([1.0]), reroute_feasible=np.array([True]),
        delay_feasible=np.array([True]), insure_feasible=np.array([False]),
    )

    # expected loss 0.8 * 27,904.11 = 22,323.29
    assert table.expected_loss[0] == pytest.approx(22_323.29, abs=0.01)
    # reroute: 22,323.29 - 16,164.38
    assert table.net["REROUTE"][0] == pytest.approx(6_158.90, abs=0.01)
    # delay: 22,323.29 - 0.8 * 16,164.38 - 4,794.52
    assert table.net["DELAY"][0] == pytest.approx(4_597.26, abs=0.01)
    # insure: payout 0.8 * 0.8 * 13,904.11 = 8,898.63, premium 1.25 times that
    assert table.cost["INSURE"][0] == pytest.approx(11_123.29, abs=0.01)
    assert table.net["INSURE"][0] == pytest.approx(-2_224.66, abs=0.01)
    assert not table.feasible["INSURE"][0]
    assert table.net["MONITOR"][0] == 0.0


def test_risk_tolerance_weight():
    common = dict(
        probability=np.array([0.8]), value=np.array([VALUE]), feu=np.array([FEU]),
        premium_usd_teu=np.array([260.0]), war_risk=np.array([True]),
        diverted=np.array([True]), alternative_open=np.array([True]),
        late_delay_days=np.array([13.0]), extra_days=np.array([9.0]),
        reroute_feasible=np.array([True]), delay_feasible=np.array([True]),
        insure_feasible=np.array([True]),
    )

    cautious = costs.action_table(weight=np.array([1.3]), **common)

    # 1.3 * 22,323.29 - 16,164.38
    assert cautious.net["REROUTE"][0] == pytest.approx(12_855.90, abs=0.01)
    # 1.3 * 8,898.63 - 11,123.29 = 11,568.22 - 11,123.29: cover pays off only here
    assert cautious.net["INSURE"][0] == pytest.approx(444.93, abs=0.01)


@pytest.mark.parametrize(
    ("loss", "expected"),
    [(0.0, "LOW"), (24_999.99, "LOW"), (25_000.0, "MEDIUM"), (99_999.0, "MEDIUM"),
     (100_000.0, "HIGH"), (499_999.0, "HIGH"), (500_000.0, "CRITICAL")],
)
def test_severity_thresholds(loss, expected):
    assert severity_for(loss) == expected
    assert severities_for(np.array([loss]))[0] == expected


def test_severity_custom_thresholds():
    assert severity_for(5_000.0, (1_000.0, 2_000.0, 3_000.0)) == "CRITICAL"
    assert severities_for(np.array([1_500.0]), (1_000.0, 2_000.0, 3_000.0))[0] == "MEDIUM"
