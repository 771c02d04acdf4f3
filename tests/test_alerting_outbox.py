"""The outbox: alerts written with their decision, replaced, eased and closed."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, update

from engine.alerting import housekeeping, notices
from engine.alerting.dispatch import dispatch_once
from engine.db import session_scope
from engine.decisions.lifecycle import set_status
from engine.models import Alert, Decision, InboundMessage
from engine.models.base import utcnow
from tests.alerting_helpers import (  # noqa: F401 - fixtures
    NOTICE_SID,
    Clock,
    add_customer,
    add_decision,
    alerts,
    all_alerts,
    enqueue,
    fake,
    number,
    twilio_env,
)


class Rollback(RuntimeError):
    pass


def test_alert_rolls_back_with_decision(pg_env):
    with pytest.raises(Rollback), session_scope() as session:
        add_customer(session, "C001", number(1))
        enqueue(session, add_decision(session, "C001"))
        assert len(alerts(session)) == 1
        raise Rollback("the tick failed after queueing")

    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        assert session.scalar(select(func.count()).select_from(Decision)) == 0


def test_enqueue_twice_keeps_one(pg_env):
    with session_scope() as session:
        add_customer(session, "C001", number(1))
        decision = add_decision(session, "C001")
        first = enqueue(session, decision)
        second = enqueue(session, decision)

    [alert] = all_alerts()
    assert (first, second) == (1, 0)
    assert alert.idempotency_key == f"decision:{decision.id}:v1:{number(1)}"
    assert alert.reference.startswith("RC")
    assert len(alert.reference) == 10
    assert f"Ref {alert.reference}" in alert.body
    assert alert.content_variables["6"] == alert.reference


def test_below_min_severity_not_queued(pg_env):
    with session_scope() as session:
        add_customer(session, "C001", number(1), min_severity="HIGH")
        queued = enqueue(session, add_decision(session, "C001", severity="MEDIUM"))

    assert queued == 0
    assert all_alerts() == []


def _versions(session, old_severity: str, new_severity: str, min_severity: str = "MEDIUM"):
    add_customer(session, "C001", number(1), min_severity=min_severity)
    old = add_decision(session, "C001", severity=old_severity)
    enqueue(session, old)
    return old


def _supersede(old_id: int, severity: str) -> Decision:
    with session_scope() as session:
        session.execute(update(Decision).where(Decision.id == old_id)
                        .values(status="SUPERSEDED", is_expired=True))
        new = add_decision(session, "C001", severity=severity, version=2, supersedes_id=old_id)
        enqueue(session, new, superseded={new.id: old_id})
        return new


def test_new_version_replaces_unsent_alert(pg_env):
    with session_scope() as session:
        old = _versions(session, "HIGH", "CRITICAL")

    new = _supersede(old.id, "CRITICAL")

    rows = {a.decision_id: a for a in all_alerts()}
    assert rows[old.id].status == "SUPERSEDED"
    assert rows[new.id].status == "PENDING"
    assert rows[new.id].body.startswith("RISKCAST URGENT: Bab el-Mandeb (CRITICAL)")


def test_new_version_after_sent_is_update(pg_env):
    with session_scope() as session:
        old = _versions(session, "HIGH", "CRITICAL")
    dispatch_once(clock=Clock())

    new = _supersede(old.id, "HIGH")

    rows = {a.decision_id: a for a in all_alerts()}
    assert rows[old.id].status == "SENT"
    assert rows[new.id].body.startswith("RISKCAST action advised update: Bab el-Mandeb (HIGH)")


def test_eased_below_minimum_tells_customer(pg_env):
    with session_scope() as session:
        old = _versions(session, "HIGH", "LOW")
    dispatch_once(clock=Clock())

    new = _supersede(old.id, "LOW")

    [notice] = all_alerts(kind="RESOLVED")
    assert notice.decision_id == new.id
    assert notice.body.startswith("RISKCAST update: risk at Bab el-Mandeb has eased to LOW")
    assert "advice to reroute no longer stands" in notice.body


def test_eased_before_sending_stays_silent(pg_env):
    with session_scope() as session:
        old = _versions(session, "HIGH", "LOW")

    _supersede(old.id, "LOW")

    assert [a.status for a in all_alerts()] == ["SUPERSEDED"]


def test_dispatch_skips_superseded_decision(twilio_env, fake):
    with session_scope() as session:
        add_customer(session, "C001", number(1))
        decision = add_decision(session, "C001")
        enqueue(session, decision)
        session.execute(update(Decision).where(Decision.id == decision.id)
                        .values(status="SUPERSEDED", is_expired=True))

    counts = dispatch_once(clock=Clock())

    assert counts["superseded"] == 1
    assert all_alerts()[0].status == "SUPERSEDED"
    assert fake.requests == []


def _sent_decision(twilio: bool = True) -> Decision:
    with session_scope() as session:
        add_customer(session, "C001", number(1))
        decision = add_decision(session, "C001")
        enqueue(session, decision)
    dispatch_once(clock=Clock())
    return decision


def test_expiry_notice_sent_once(twilio_env, fake):
    decision = _sent_decision()
    with session_scope() as session:
        session.execute(update(Decision).where(Decision.id == decision.id)
                        .values(status="EXPIRED", is_expired=True))

    with session_scope() as session:
        first = notices.enqueue_closing_notices(session, utcnow())
    with session_scope() as session:
        second = notices.enqueue_closing_notices(session, utcnow())
    dispatch_once(clock=Clock())

    [notice] = all_alerts(kind="EXPIRED")
    assert (first, second) == (1, 0)
    assert notice.status == "SENT"
    assert notice.content_sid == NOTICE_SID
    assert "has expired" in notice.body
    assert fake.messages[-1].body.startswith("RISKCAST update: the Bab el-Mandeb alert from")


def test_operator_close_notifies(twilio_env, fake, monkeypatch):
    decision = _sent_decision()
    with session_scope() as session:
        set_status(session, decision.id, "ACTED", actor="ops@example.com")
    # The scan for ended decisions runs at most every 30 seconds per process.
    monkeypatch.setattr(housekeeping, "_last_scan", None)

    dispatch_once(clock=Clock())

    [notice] = all_alerts(kind="RESOLVED")
    assert notice.status == "SENT"
    assert "closed: marked as acted on" in notice.body


def test_customer_dismissal_not_echoed(twilio_env, fake):
    decision = _sent_decision()
    with session_scope() as session:
        set_status(session, decision.id, "DISMISSED", actor=f"whatsapp:{number(1)}")
        session.add(InboundMessage(message_sid="SM" + "a" * 32, sender=number(1),
                                   customer_id="C001", body="3", command="DISMISS",
                                   decision_id=decision.id,
                                   received_at=datetime.now(timezone.utc)))

    with session_scope() as session:
        queued = notices.enqueue_closing_notices(session, utcnow())

    assert queued == 0


def test_no_notice_when_never_reached(twilio_env, fake):
    fake.invalid_numbers.add(number(1))
    decision = _sent_decision()
    with session_scope() as session:
        session.execute(update(Decision).where(Decision.id == decision.id)
                        .values(status="EXPIRED", is_expired=True))

    with session_scope() as session:
        queued = notices.enqueue_closing_notices(session, utcnow())

    assert queued == 0


def test_no_notice_for_superseded_version(twilio_env, fake):
    decision = _sent_decision()
    with session_scope() as session:
        session.execute(update(Decision).where(Decision.id == decision.id)
                        .values(status="EXPIRED", is_expired=True))
        add_decision(session, "C001", version=2, supersedes_id=decision.id)

    with session_scope() as session:
        queued = notices.enqueue_closing_notices(session, utcnow())

    assert queued == 0
