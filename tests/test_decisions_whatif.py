from datetime import timedelta

import pytest

from engine.db import session_scope
from engine.decisions import costs, lifecycle
from engine.decisions.draft import DecisionDraft
from engine.decisions.routes import plan_route
from engine.decisions.whatif import WhatIfError, what_if
from tests.decisions_helpers import AS_OF, shipment, store_book


@pytest.fixture
def book(pg_env):
    with session_scope() as session:
        store_book(session, [
            shipment("S1", customer="C1", value=2_000_000.0, feu=20),
            shipment("S2", customer="C2", lane="ASIA_GULF", destination="AEJEA", days=18.0),
            shipment("S3", customer="C2", etd=AS_OF + timedelta(days=60)),
        ])
    return pg_env


def test_closure_of_bab_el_mandeb(book):
    plan = plan_route("ASIA_NEUR", "CNSGH", "NLRTM")
    bab = plan.legs[plan.chokepoints.index("bab_el_mandeb")]

    with session_scope() as session:
        result = what_if(session, AS_OF, "bab_el_mandeb", 30, 1_000.0)

    # S1 turns at the strait: late days, 40 TEU at 1,000, no war risk
    expected = float(costs.holding_cost(2_000_000.0, bab.late_delay_days)) + 40_000.0
    assert result["shipments"] == 1
    assert result["exposure_usd"] == 2_000_000.0
    assert result["expected_loss_usd"] == pytest.approx(expected, abs=0.01)
    assert result["current_expected_loss_usd"] == 0.0
    assert result["change_usd"] == result["expected_loss_usd"]
    assert result["by_customer"][0]["customer_id"] == "C1"


def test_closure_without_way_round_waits(book):
    plan = plan_route("ASIA_GULF", "CNSGH", "AEJEA")
    hormuz = plan.legs[plan.chokepoints.index("hormuz")]
    reaches = AS_OF + timedelta(days=2) + timedelta(days=18) * hormuz.progress
    waiting = (AS_OF + timedelta(days=30) - reaches).total_seconds() / 86400

    with session_scope() as session:
        result = what_if(session, AS_OF, "hormuz", 30, 0.0, customer_id="C2")

    expected = float(costs.holding_cost(1_000_000.0, waiting))
    assert result["shipments"] == 1
    assert result["expected_loss_usd"] == pytest.approx(expected, abs=0.01)


def test_change_against_active_decisions(book):
    draft = DecisionDraft(
        customer_id="C1", event_key="bab_el_mandeb:disruption", chokepoint="bab_el_mandeb",
        severity="MEDIUM", recommended_action="MONITOR", exposure_usd=2_000_000.0,
        expected_loss_usd=30_000.0, action_cost_usd=0.0, net_benefit_usd=0.0,
        probability=0.5, confidence=0.5, shipment_count=1, deadline=None,
        expires_at=AS_OF + timedelta(days=20), as_of=AS_OF, answers={}, provenance={},
        fingerprint="x",
    )
    with session_scope() as session:
        lifecycle.upsert(session, [draft])

    with session_scope() as session:
        result = what_if(session, AS_OF, "bab_el_mandeb", 30, 1_000.0)

    assert result["current_expected_loss_usd"] == 30_000.0
    assert result["change_usd"] == pytest.approx(result["expected_loss_usd"] - 30_000.0)


def test_short_closure_misses_later_arrival(book):
    with session_scope() as session:
        result = what_if(session, AS_OF, "bab_el_mandeb", 3, 1_000.0)

    assert result["shipments"] == 0
    assert result["expected_loss_usd"] == 0.0
    assert result["by_customer"] == []


@pytest.mark.parametrize(
    ("chokepoint", "days", "premium", "message"),
    [("atlantis", 10, 0.0, "unknown chokepoint 'atlantis'"),
     ("suez", 0, 0.0, "days=0 is out of range"),
     ("suez", 400, 0.0, "days=400 is out of range"),
     ("suez", 10, -5.0, "rate premium -5.0 USD/TEU is out of range")],
)
def test_invalid_scenario_rejected(pg_env, chokepoint, days, premium, message):
    with session_scope() as session:
        with pytest.raises(WhatIfError, match=message):
            what_if(session, AS_OF, chokepoint, days, premium)
