from datetime import timedelta

import pytest

from engine.db import session_scope
from engine.decisions import events
from engine.models import RealityObservation, Reconciliation, Signal
from tests.decisions_helpers import AS_OF


def test_news_discounted_unless_corroborated():
    assert events.signal_evidence({"gdelt": 0.8}) == pytest.approx(0.48)
    assert events.signal_evidence({"gdelt": 0.8}, corroborated=True) == pytest.approx(0.8)
    assert events.signal_evidence({"polymarket": 0.7}) == pytest.approx(0.7)
    # 1 - (1 - 0.48)(1 - 0.5 * 0.4)
    assert events.signal_evidence({"gdelt": 0.8, "other": 0.4}) == pytest.approx(0.584)


@pytest.mark.parametrize(
    ("transits", "rates", "expected"),
    [(-10.0, None, True), (-9.9, None, False), (None, 10.0, True), (2.0, 9.9, False),
     (None, None, False)],
)
def test_corroboration_thresholds(transits, rates, expected):
    assert events.corroborated(transits, rates) is expected


def test_reality_evidence():
    assert events.transit_evidence(-25.0) == 0.5
    assert events.transit_evidence(-80.0) == 1.0
    assert events.transit_evidence(5.0) == 0.0
    assert events.rate_evidence(50.0) == pytest.approx(0.3)
    assert events.rate_evidence(250.0) == pytest.approx(0.6)
    assert events.rate_evidence(-30.0) == 0.0


def test_combine_as_independent_chances():
    # 1 - 0.5 * 0.5 * 0.8 = 0.8
    assert events.combine(0.5, 0.5, 0.2) == 0.8
    assert events.combine(1.0, 1.0, 1.0) == events.MAX_PROBABILITY


@pytest.mark.parametrize(
    ("signal", "transits", "status"),
    [(0.6, -30.0, "CONFIRMED"), (0.6, -12.0, "MATERIALIZING"),
     (0.6, 0.0, "PREDICTED_NOT_OBSERVED"), (0.1, -30.0, "SURPRISE"), (0.1, -5.0, "NORMAL")],
)
def test_reconcile_labels(signal, transits, status):
    assert events.reconcile(signal, transits) == status


def _store(session, reconciled: str | None = None) -> None:
    session.add_all([
        Signal(source="gdelt", external_id="yemen:1", chokepoint="bab_el_mandeb",
               category="security", probability=0.8, observed_at=AS_OF - timedelta(days=2),
               title="GDELT yemen"),
        Signal(source="gdelt", external_id="yemen:0", chokepoint="bab_el_mandeb",
               category="security", probability=0.1, observed_at=AS_OF - timedelta(days=9)),
        Signal(source="gdelt", external_id="yemen:old", chokepoint="bab_el_mandeb",
               category="security", probability=0.9, observed_at=AS_OF - timedelta(days=20)),
        RealityObservation(source="portwatch", chokepoint="bab_el_mandeb",
                           metric="transits_7d", value=55.0, baseline=73.0, change_pct=-24.7,
                           observed_at=AS_OF - timedelta(days=1)),
        RealityObservation(source="scfi", chokepoint="bab_el_mandeb",
                           metric="rate_europe_usd_teu", value=1_500.0, baseline=765.0,
                           change_pct=96.0, observed_at=AS_OF - timedelta(days=5)),
        RealityObservation(source="portwatch", chokepoint="taiwan", metric="transits_7d",
                           value=200.0, baseline=240.0, change_pct=-16.7,
                           observed_at=AS_OF - timedelta(days=6)),
    ])
    if reconciled:
        session.add(Reconciliation(chokepoint="bab_el_mandeb", day=AS_OF.date(),
                                   status=reconciled, signal_probability=0.8,
                                   reality_change_pct=-24.7, inputs={}))
    session.flush()


def test_assess_latest_inputs(pg_env):
    with session_scope() as session:
        _store(session)
        assessed = events.assess(session, AS_OF)

    bab = assessed["bab_el_mandeb"]
    assert bab.signal_probability == 0.8
    assert bab.rate_premium_usd_teu == 735.0
    assert bab.evidence["corroborated"] is True
    # signals 0.8, transits 24.7/50, rates 0.6 * 0.96
    assert bab.probability == events.combine(0.8, 0.494, 0.576)
    assert bab.status == "MATERIALIZING"
    assert bab.war_risk
    assert [s["age_hours"] for s in bab.signal_inputs] == [48.0]
    assert {o["source"] for o in bab.observation_inputs} == {"portwatch", "scfi"}
    # a transit count older than three days is not current
    assert "taiwan" not in assessed


def test_assess_uses_stored_reconciliation(pg_env):
    with session_scope() as session:
        _store(session, reconciled="CONFIRMED")
        bab = events.assess(session, AS_OF)["bab_el_mandeb"]

    assert bab.status == "CONFIRMED"
    assert bab.reconciliation["status"] == "CONFIRMED"
    assert bab.reconciliation["day"] == AS_OF.date().isoformat()
