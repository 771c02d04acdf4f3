"""Upsert, supersede, expire and clean up decisions in the real PostgreSQL, with Redis."""

from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine import cache
from engine.db import session_scope
from engine.decisions import lifecycle, reads
from engine.decisions.draft import DecisionDraft
from engine.metrics import DECISIONS_GENERATED
from engine.models import AuditEntry, Decision
from tests.decisions_helpers import AS_OF, shipment, store_book


def _draft(customer="C1", severity="HIGH", action="REROUTE", exposure=3_000_000.0,
           deadline_days=5.0, fingerprint="f1", as_of=AS_OF) -> DecisionDraft:
    return DecisionDraft(
        customer_id=customer, event_key="bab_el_mandeb:disruption",
        chokepoint="bab_el_mandeb", severity=severity, recommended_action=action,
        exposure_usd=exposure, expected_loss_usd=150_000.0, action_cost_usd=40_000.0,
        net_benefit_usd=110_000.0, probability=0.9, confidence=0.8, shipment_count=2,
        deadline=as_of + timedelta(days=deadline_days), expires_at=as_of + timedelta(days=10),
        as_of=as_of, answers={"what": {"chokepoint_name": "Bab el-Mandeb Strait"}},
        provenance={"signals": [], "observations": [], "circuits": {}},
        fingerprint=fingerprint,
    )


@pytest.fixture
def book(pg_env):
    with session_scope() as session:
        store_book(session, [shipment("S1", customer="C1"), shipment("S2", customer="C2")])
    return pg_env


def _upsert(*drafts):
    with session_scope() as session:
        return lifecycle.upsert(session, list(drafts))


def _rows(customer="C1"):
    with session_scope() as session:
        return session.scalars(
            select(Decision).where(Decision.customer_id == customer).order_by(Decision.version)
        ).all()


def _generated() -> float:
    return DECISIONS_GENERATED._value.get()


def test_upsert_creates_first_version(book):
    before = _generated()

    changes = _upsert(_draft(), _draft(customer="C2"))

    assert [(c.customer_id, c.version, c.superseded_id) for c in changes] == [
        ("C1", 1, None), ("C2", 1, None)]
    row = _rows()[0]
    assert (row.status, row.is_expired, row.version) == ("OPEN", False, 1)
    assert row.answers == {"what": {"chokepoint_name": "Bab el-Mandeb Strait"}}
    assert _generated() - before == 2


def test_upsert_same_draft_writes_nothing(book):
    _upsert(_draft())
    stamp = _rows()[0].updated_at
    before = _generated()

    assert _upsert(_draft()) == []
    assert len(_rows()) == 1
    assert _rows()[0].updated_at == stamp
    assert _generated() == before


def test_minor_change_updates_in_place(book):
    _upsert(_draft())
    with session_scope() as session:
        lifecycle.set_status(session, _rows()[0].id, "ACKNOWLEDGED", "ops@test")
    before = _generated()

    changes = _upsert(_draft(exposure=2_700_000.0, fingerprint="f2"))

    rows = _rows()
    assert changes == []
    assert len(rows) == 1
    assert rows[0].version == 1
    assert rows[0].exposure_usd == 2_700_000.0
    assert rows[0].status == "ACKNOWLEDGED"
    assert rows[0].fingerprint == "f2"
    assert _generated() - before == 1


def test_severity_change_supersedes(book):
    first = _upsert(_draft())[0]

    changes = _upsert(_draft(severity="CRITICAL", fingerprint="f2"))

    old, new = _rows()
    assert (old.status, old.is_expired) == ("SUPERSEDED", True)
    assert (new.version, new.status, new.is_expired) == (2, "OPEN", False)
    assert new.supersedes_id == first.decision_id
    assert changes[0].superseded_id == first.decision_id
    assert changes[0].severity == "CRITICAL"


def test_action_change_supersedes(book):
    _upsert(_draft())

    changes = _upsert(_draft(action="DELAY", fingerprint="f2"))

    assert [c.version for c in changes] == [2]


@pytest.mark.parametrize(("exposure", "versions"), [(3_300_000.0, 1), (3_700_000.0, 2)])
def test_exposure_rise_threshold(book, exposure, versions):
    _upsert(_draft())

    _upsert(_draft(exposure=exposure, fingerprint="f2"))

    assert len(_rows()) == versions


@pytest.mark.parametrize(("shift_hours", "versions"), [(2, 1), (13, 2), (-48, 1)])
def test_earlier_deadline_threshold(book, shift_hours, versions):
    _upsert(_draft())

    _upsert(_draft(deadline_days=5.0 - shift_hours / 24, fingerprint="f2"))

    assert len(_rows()) == versions


def test_one_active_version_enforced(book):
    _upsert(_draft())

    with pytest.raises(IntegrityError):
        with session_scope() as session:
            current = _rows()[0]
            session.add(Decision(
                customer_id="C1", event_key=current.event_key, chokepoint="bab_el_mandeb",
                version=9, status="OPEN", severity="LOW", recommended_action="MONITOR",
                exposure_usd=1.0, expected_loss_usd=1.0, action_cost_usd=0.0,
                probability=0.5, confidence=0.5, expires_at=current.expires_at,
                is_expired=False, as_of=current.as_of, answers={}, provenance={},
                fingerprint="x",
            ))


def test_expired_current_gets_next_version(book):
    _upsert(_draft())
    later = AS_OF + timedelta(days=11)

    changes = _upsert(_draft(as_of=later))

    old, new = _rows()
    assert (old.status, old.is_expired) == ("EXPIRED", True)
    assert new.version == 2
    assert changes[0].superseded_id is None


def test_cleanup_expires_due_decisions(book):
    _upsert(_draft(), _draft(customer="C2", exposure=1_000_000.0))
    with session_scope() as session:
        acted = _rows("C2")[0].id
        lifecycle.set_status(session, acted, "ACTED", "customer:+447700900001")
    due = AS_OF + timedelta(days=10)

    with session_scope() as session:
        preview = lifecycle.preview_cleanup(session, due)
    with session_scope() as session:
        result = lifecycle.cleanup_expired(session, due)
    with session_scope() as session:
        again = lifecycle.cleanup_expired(session, due)

    assert (preview.removed, preview.exposure_usd) == (2, 4_000_000.0)
    assert (result.removed, result.exposure_usd) == (2, 4_000_000.0)
    assert sorted(result.decision_ids) == sorted(preview.decision_ids)
    assert result.as_dict()["removed"] == 2
    assert again.removed == 0
    assert (_rows()[0].status, _rows()[0].is_expired) == ("EXPIRED", True)
    assert (_rows("C2")[0].status, _rows("C2")[0].is_expired) == ("ACTED", True)


def test_cleanup_leaves_future_decisions(book):
    _upsert(_draft())

    with session_scope() as session:
        result = lifecycle.cleanup_expired(session, AS_OF + timedelta(days=9))

    assert result.removed == 0
    assert _rows()[0].is_expired is False


def test_cleanup_defaults_to_domain_time(book):
    _upsert(_draft(as_of=AS_OF - timedelta(days=30)))

    with session_scope() as session:
        result = lifecycle.cleanup_expired(session)

    # the replay clock starts at REPLAY_START, 2023-12-15, after expires_at
    assert result.removed == 1


def test_set_status_audited(book):
    _upsert(_draft())
    decision_id = _rows()[0].id

    with session_scope() as session:
        lifecycle.set_status(session, decision_id, "ACKNOWLEDGED", "whatsapp:+447700900001",
                             "replied 1")
    with session_scope() as session:
        lifecycle.set_status(session, decision_id, "ACKNOWLEDGED", "whatsapp:+447700900001")
        entries = session.scalars(select(AuditEntry)).all()

    assert _rows()[0].status == "ACKNOWLEDGED"
    assert [(e.action, e.target, e.reason) for e in entries] == [
        ("decision.acknowledged", f"decision:{decision_id}", "replied 1")]


def test_set_status_rejects_bad_transitions(book):
    _upsert(_draft())
    decision_id = _rows()[0].id
    with session_scope() as session:
        lifecycle.cleanup_expired(session, AS_OF + timedelta(days=10))

    with pytest.raises(lifecycle.TransitionError, match="is EXPIRED and cannot become"):
        with session_scope() as session:
            lifecycle.set_status(session, decision_id, "ACKNOWLEDGED", "ops")
    with pytest.raises(lifecycle.TransitionError, match="cannot be set by hand"):
        with session_scope() as session:
            lifecycle.set_status(session, decision_id, "EXPIRED", "ops")
    with pytest.raises(lifecycle.DecisionNotFoundError, match="decision 999999 not found"):
        with session_scope() as session:
            lifecycle.set_status(session, 999_999, "ACTED", "ops")


def test_decision_cached_and_invalidated(book, redis_url):
    _upsert(_draft())
    decision_id = _rows()[0].id
    client = redis.Redis.from_url(redis_url)

    with session_scope() as session:
        first = reads.get_decision(session, decision_id)
    ttl = client.ttl(f"decision:{decision_id}")
    with session_scope() as session:
        lifecycle.set_status(session, decision_id, "DISMISSED", "ops")
    cached_after = client.get(f"decision:{decision_id}")
    with session_scope() as session:
        second = reads.get_decision(session, decision_id)

    assert first["status"] == "OPEN"
    assert 0 < ttl <= cache.DECISION_TTL_SECONDS
    assert cached_after is None
    assert second["status"] == "DISMISSED"
    client.close()


def test_customer_context_invalidated_by_upsert(book, redis_url):
    _upsert(_draft())
    client = redis.Redis.from_url(redis_url)

    with session_scope() as session:
        context = reads.get_customer_context(session, "C1")
    ttl = client.ttl("customer:C1:context")
    _upsert(_draft(severity="CRITICAL", fingerprint="f2"))
    cached_after_upsert = client.get("customer:C1:context")
    with session_scope() as session:
        fresh = reads.get_customer_context(session, "C1")

    assert context["active_decisions"][0]["severity"] == "HIGH"
    assert context["open_shipments"] == 1
    assert 0 < ttl <= cache.CUSTOMER_CONTEXT_TTL_SECONDS
    assert cached_after_upsert is None
    assert fresh["active_decisions"][0]["severity"] == "CRITICAL"
    client.close()


def test_reads_of_unknown_ids(book):
    with session_scope() as session:
        assert reads.get_decision(session, 424242) is None
        assert reads.get_customer_context(session, "NOPE") is None


def test_reads_without_redis(sqlite_env):
    with session_scope() as session:
        store_book(session, [shipment("S1", customer="C1")])
        lifecycle.upsert(session, [_draft()])
    with session_scope() as session:
        decision_id = session.scalar(select(func.min(Decision.id)))
        first = reads.get_decision(session, decision_id)
        second = reads.get_decision(session, decision_id)

    assert cache.redis_client() is None
    assert first == second
    assert cache.memory_store().get(f"decision:{decision_id}") is not None


def test_changed_draft_keeps_other_customers(book):
    _upsert(_draft(), _draft(customer="C2"))

    _upsert(replace(_draft(), severity="CRITICAL", fingerprint="f2"))

    assert len(_rows("C2")) == 1
    assert len(_rows("C1")) == 2
