"""Outcomes after expiry and per-source scores, against the real PostgreSQL."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.db import session_scope
from engine.decisions import lifecycle, outcomes
from engine.decisions.draft import DecisionDraft
from engine.models import Decision, RealityObservation, SourceForecast
from tests.decisions_helpers import AS_OF, shipment, store_book


def _draft(customer: str, probability: float, signals: list[dict],
           chokepoint: str = "bab_el_mandeb", action: str = "REROUTE") -> DecisionDraft:
    return DecisionDraft(
        customer_id=customer, event_key=f"{chokepoint}:disruption", chokepoint=chokepoint,
        severity="HIGH", recommended_action=action, exposure_usd=1_000_000.0,
        expected_loss_usd=50_000.0, action_cost_usd=10_000.0, net_benefit_usd=40_000.0,
        probability=probability, confidence=0.7, shipment_count=1,
        deadline=AS_OF + timedelta(days=3), expires_at=AS_OF + timedelta(days=10),
        as_of=AS_OF, answers={}, provenance={"signals": signals, "observations": []},
        fingerprint=f"{customer}-{probability}",
    )


def _transits(session, chokepoint: str, changes: list[float]) -> None:
    for day, change in enumerate(changes):
        session.add(RealityObservation(
            source="portwatch", chokepoint=chokepoint, metric="transits_7d",
            value=70.0 * (1 + change / 100), baseline=70.0, change_pct=change,
            observed_at=AS_OF + timedelta(days=day)))


@pytest.fixture
def expired(pg_env):
    """Two expired decisions at Bab el-Mandeb and one at Hormuz, which has no transit data."""
    with session_scope() as session:
        store_book(session, [shipment("S1", customer="C1"), shipment("S2", customer="C2"),
                             shipment("S3", customer="C3")])
        gdelt = {"id": 5, "source": "gdelt", "probability": 0.6, "age_hours": 10.0}
        market = {"id": 6, "source": "polymarket", "probability": 0.2, "age_hours": 2.0}
        lifecycle.upsert(session, [
            _draft("C1", 0.8, [gdelt, market]),
            _draft("C2", 0.3, [gdelt], action="MONITOR"),
            _draft("C3", 0.4, [], chokepoint="hormuz"),
        ])
        lifecycle.cleanup_expired(session, AS_OF + timedelta(days=10))
    return pg_env


def _outcomes() -> dict[str, dict]:
    with session_scope() as session:
        rows = session.execute(select(Decision.customer_id, Decision.outcome)).all()
    return {customer: outcome for customer, outcome in rows}


def test_outcome_waits_for_observations(expired):
    with session_scope() as session:
        _transits(session, "bab_el_mandeb", [0.0] * 5)

    with session_scope() as session:
        recorded = outcomes.record_outcomes(session, AS_OF + timedelta(days=14))

    assert recorded == 0
    assert all(o is None for o in _outcomes().values())


def test_disruption_recorded_and_scored(expired):
    with session_scope() as session:
        _transits(session, "bab_el_mandeb", [-5.0, -12.0, -31.5, -40.0] + [-20.0] * 12)

    with session_scope() as session:
        recorded = outcomes.record_outcomes(session, AS_OF + timedelta(days=15))
    with session_scope() as session:
        again = outcomes.record_outcomes(session, AS_OF + timedelta(days=15))
        forecasts = session.scalars(select(SourceForecast).order_by(SourceForecast.id)).all()
        scores = outcomes.source_scores(session)

    outcome = _outcomes()["C1"]
    assert recorded == 2
    assert again == 0
    assert outcome["observed"] is True
    assert outcome["disrupted"] is True
    assert outcome["min_transit_change_pct"] == -40.0
    assert outcome["action_was_right"] is True
    assert _outcomes()["C2"]["action_was_right"] is False
    assert _outcomes()["C3"] is None
    # gdelt signal 5 is scored once although two decisions used it
    assert sorted((f.source, f.forecast_ref) for f in forecasts) == [
        ("gdelt", "5"), ("polymarket", "6"),
        ("riskcast", f"bab_el_mandeb:disruption@{AS_OF.date().isoformat()}")]
    by_source = {s["source"]: s for s in scores}
    # (0.6 - 1)^2 = 0.16; (0.2 - 1)^2 = 0.64; riskcast keeps the first: (0.8 - 1)^2
    assert by_source["gdelt"]["brier_score"] == pytest.approx(0.16)
    assert by_source["polymarket"]["brier_score"] == pytest.approx(0.64)
    assert by_source["riskcast"]["brier_score"] == pytest.approx(0.04)
    assert by_source["polymarket"]["hit_rate"] == 0.0
    assert by_source["gdelt"]["hit_rate"] == 1.0
    assert by_source["gdelt"]["base_rate"] == 1.0


def test_calm_window_is_not_disrupted(expired):
    with session_scope() as session:
        _transits(session, "bab_el_mandeb", [-3.0] * 16)

    with session_scope() as session:
        outcomes.record_outcomes(session, AS_OF + timedelta(days=15))
        scores = {s["source"]: s for s in outcomes.source_scores(session)}

    assert _outcomes()["C1"]["disrupted"] is False
    assert _outcomes()["C2"]["action_was_right"] is True
    # (0.8 - 0)^2
    assert scores["riskcast"]["brier_score"] == pytest.approx(0.64)
    assert scores["riskcast"]["hit_rate"] == 0.0


def test_unobservable_chokepoint_closed_later(expired):
    with session_scope() as session:
        outcomes.record_outcomes(session, AS_OF + timedelta(days=27))

    assert _outcomes()["C3"]["observed"] is False
    assert "no transits_7d observations" in _outcomes()["C3"]["reason"]
    with session_scope() as session:
        assert session.scalars(select(SourceForecast)).all() == []


def test_scores_empty_without_outcomes(pg_env):
    with session_scope() as session:
        assert outcomes.source_scores(session) == []
