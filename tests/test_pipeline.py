from sqlalchemy import func, select, text

from engine import book
from engine.alerting.dispatch import dispatch_once
from engine.db import session_scope
from engine.models import Alert, Decision, Shipment, Signal
from engine.pipeline import tick

RUNBOOK_QUERIES = [
    """SELECT customer_id, COUNT(*) as count, SUM(exposure_usd) as total_exposure
FROM decisions
WHERE is_expired = false
GROUP BY customer_id
ORDER BY total_exposure DESC;""",
    """SELECT severity, COUNT(*) as count
FROM decisions
WHERE created_at > NOW() - INTERVAL '24 hours'
GROUP BY severity;""",
    """SELECT customer_id, MAX(created_at) as last_decision
FROM decisions
GROUP BY customer_id
ORDER BY last_decision DESC
LIMIT 20;""",
    "SELECT status, COUNT(*) FROM alerts GROUP BY status;",
]


def _load_book() -> None:
    with session_scope() as session:
        book.load_demo_book(session)


def _counts() -> tuple[int, int]:
    with session_scope() as session:
        decisions = session.scalar(select(func.count()).select_from(Decision))
        alerts = session.scalar(select(func.count()).select_from(Alert))
    return decisions, alerts


def test_tick_decides_for_red_sea_customers(pg_env):
    _load_book()

    summary = tick()

    assert summary.decisions > 0
    assert summary.alerts > 0
    with session_scope() as session:
        red_sea = session.scalars(
            select(Decision).where(Decision.chokepoint == "bab_el_mandeb")
        ).all()
        assert red_sea, "no decision for the Red Sea on 2023-12-15"
        for decision in red_sea:
            shipments = session.scalars(
                select(Shipment).where(Shipment.customer_id == decision.customer_id)
            ).all()
            assert any("bab_el_mandeb" in s.route for s in shipments)
            assert decision.exposure_usd > 0
            assert decision.expires_at > decision.as_of
            assert decision.answers["what_to_do"]["recommended"] == decision.recommended_action
        assert session.scalar(select(func.count()).select_from(Signal)) > 0


def test_second_tick_adds_nothing(pg_env):
    _load_book()
    tick()
    first = _counts()

    summary = tick()

    assert summary.decisions == 0
    assert summary.alerts == 0
    assert _counts() == first


def test_dispatch_sends_simulated(pg_env):
    _load_book()
    tick()

    counts = dispatch_once()

    assert counts["sent"] > 0
    with session_scope() as session:
        sent = session.scalars(select(Alert).where(Alert.status == "SENT")).all()
        assert all(a.simulated for a in sent)
        assert all(a.twilio_sid for a in sent)
        assert all("Reply 1" in a.body for a in sent)


def test_runbook_queries_run(pg_env):
    _load_book()
    tick()

    with pg_env.connect() as connection:
        results = [connection.execute(text(q)).all() for q in RUNBOOK_QUERIES]

    assert results[0], "Active decisions by customer returned no rows"
    assert results[1]
    assert results[2]
    assert results[3]


def test_tick_on_sqlite_defaults(sqlite_env):
    _load_book()

    summary = tick()

    assert summary.decisions > 0
    assert tick().decisions == 0
