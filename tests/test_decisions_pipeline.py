"""The decision step inside the default demo tick and behind on-demand generation."""

import pytest
from sqlalchemy import select

from engine import book
from engine.db import session_scope
from engine.decisions import service
from engine.metrics import DECISIONS_GENERATED
from engine.models import Alert, Decision
from engine.pipeline import tick
from engine.settings import get_settings


def _load_book() -> None:
    with session_scope() as session:
        book.load_demo_book(session)


def _severe_reroutes(session) -> list[Decision]:
    return session.scalars(
        select(Decision).where(Decision.chokepoint == "bab_el_mandeb",
                               Decision.severity.in_(("HIGH", "CRITICAL")),
                               Decision.recommended_action == "REROUTE")
    ).all()


def test_demo_tick_recommends_severe_reroute(pg_env):
    _load_book()
    before = DECISIONS_GENERATED._value.get()

    summary = tick()

    assert summary.replay_at.startswith("2023-12-15")
    assert DECISIONS_GENERATED._value.get() - before == summary.decisions
    with session_scope() as session:
        severe = _severe_reroutes(session)
        assert severe, "the first demo tick on 2023-12-15 gave no HIGH or CRITICAL REROUTE"
        for decision in severe:
            assert decision.deadline > decision.as_of
            assert decision.action_cost_usd > 0
            assert decision.net_benefit_usd > 0
            assert all("bab_el_mandeb" in w["route"] for w in decision.answers["when"])
        alerted = session.scalars(
            select(Alert.decision_id).where(Alert.decision_id.in_([d.id for d in severe]))
        ).all()
        assert set(alerted) == {d.id for d in severe}


def test_generate_for_one_customer(pg_env):
    _load_book()
    tick()
    with session_scope() as session:
        customer = _severe_reroutes(session)[0].customer_id

    with session_scope() as session:
        decisions = service.generate(session, get_settings(), customer)

    assert decisions
    assert {d.customer_id for d in decisions} == {customer}
    assert all(not d.is_expired for d in decisions)


def test_generate_unknown_customer(pg_env):
    with session_scope() as session:
        with pytest.raises(service.UnknownCustomerError, match="customer 'NOPE' not found"):
            service.generate(session, get_settings(), "NOPE")
