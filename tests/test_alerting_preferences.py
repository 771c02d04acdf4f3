"""Customer preferences at dispatch: quiet hours, CRITICAL breaking through, cap and digest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from engine.alerting import preferences
from engine.alerting.dispatch import dispatch_once
from engine.db import session_scope
from engine.models import Decision
from tests.alerting_helpers import (  # noqa: F401 - fixtures
    NOTICE_SID,
    Clock,
    add_customer,
    add_decision,
    all_alerts,
    enqueue,
    fake,
    number,
    open_window,
    twilio_env,
)


def _tomorrow(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(timezone.utc) + timedelta(days=1)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0)


def test_quiet_hours_wrap_midnight():
    tz = "Asia/Dubai"
    late = datetime(2024, 1, 9, 19, 30, tzinfo=timezone.utc)   # 23:30 in Dubai
    early = datetime(2024, 1, 10, 2, 59, tzinfo=timezone.utc)  # 06:59 in Dubai
    morning = datetime(2024, 1, 10, 3, 0, tzinfo=timezone.utc)  # 07:00 in Dubai

    assert preferences.in_quiet_hours(late, tz, 22, 7)
    assert preferences.in_quiet_hours(early, tz, 22, 7)
    assert not preferences.in_quiet_hours(morning, tz, 22, 7)
    assert not preferences.in_quiet_hours(late, tz, None, None)
    assert not preferences.in_quiet_hours(late, tz, 7, 7)
    assert preferences.quiet_hours_end(late, tz, 7) == morning


def test_quiet_hours_across_dst_change():
    # Europe/Berlin moves to summer time on 31 March 2024 at 02:00.
    night = datetime(2024, 3, 30, 22, 30, tzinfo=timezone.utc)  # 23:30 CET

    end = preferences.quiet_hours_end(night, "Europe/Berlin", 7)

    assert end == datetime(2024, 3, 31, 5, 0, tzinfo=timezone.utc)  # 07:00 CEST


def test_unknown_zone_falls_back_to_utc():
    at = datetime(2024, 1, 9, 23, 0, tzinfo=timezone.utc)

    assert preferences.in_quiet_hours(at, "Mars/Olympus", 22, 7)


def _customer_with(severity: str, *, quiet=(22, 7), breaks: bool = True, cap: int = 1000,
                   tz: str = "Asia/Dubai", count: int = 1) -> list[Decision]:
    with session_scope() as session:
        add_customer(session, "C001", number(1), tz=tz, quiet=quiet,
                     critical_breaks_quiet=breaks, cap=cap)
        open_window(session, number(1))
        decisions = [add_decision(session, "C001", severity=severity,
                                  event_key=f"event:{i}") for i in range(count)]
        enqueue(session, *decisions)
    return decisions


def test_quiet_hours_defer_to_local_morning(twilio_env, fake):
    _customer_with("HIGH")
    clock = Clock(_tomorrow(19, 30))  # 23:30 in Dubai

    counts = dispatch_once(clock=clock)

    [alert] = all_alerts()
    assert counts["deferred"] == 1
    assert alert.status == "PENDING"
    assert alert.next_attempt_at == _tomorrow(3) + timedelta(days=1)
    assert alert.attempts == 0
    assert fake.requests == []

    clock.now = alert.next_attempt_at
    assert dispatch_once(clock=clock)["sent"] == 1


def test_critical_breaks_through_quiet_hours(twilio_env, fake):
    _customer_with("CRITICAL")

    counts = dispatch_once(clock=Clock(_tomorrow(19, 30)))

    assert counts["sent"] == 1
    assert all_alerts()[0].status == "SENT"


def test_critical_waits_when_customer_says_so(twilio_env, fake):
    _customer_with("CRITICAL", breaks=False)

    counts = dispatch_once(clock=Clock(_tomorrow(19, 30)))

    assert counts["deferred"] == 1
    assert fake.requests == []


def test_daily_cap_holds_then_digests(twilio_env, fake):
    decisions = _customer_with("HIGH", quiet=(None, None), cap=2, tz="UTC", count=5)
    with session_scope() as session:
        critical = add_decision(session, "C001", severity="CRITICAL", event_key="event:crit")
        enqueue(session, critical)
    clock = Clock(_tomorrow(10))

    counts = dispatch_once(clock=clock)

    rows = all_alerts()
    held = [a for a in rows if a.status == "HELD"]
    assert counts["sent"] == 3
    assert counts["held"] == 3
    assert len(held) == 3
    assert all(a.next_attempt_at == _tomorrow(0) + timedelta(days=1) for a in held)
    assert any(a.decision_id == critical.id and a.status == "SENT" for a in rows)

    # One held decision moves on before the digest goes out.
    with session_scope() as session:
        session.execute(update(Decision).where(Decision.id == held[0].decision_id)
                        .values(status="SUPERSEDED"))
    clock.now = _tomorrow(0) + timedelta(days=1, minutes=1)
    second = dispatch_once(clock=clock)

    rows = {a.id: a for a in all_alerts()}
    [digest] = [a for a in rows.values() if a.kind == "DIGEST"]
    assert second["sent"] == 1
    assert digest.status == "SENT"
    assert digest.content_sid is None
    assert rows[held[0].id].status == "SUPERSEDED"
    assert [rows[a.id].status for a in held[1:]] == ["DIGESTED", "DIGESTED"]
    assert all(rows[a.id].digest_id == digest.id for a in held[1:])
    assert "2 alert(s) held back after your daily limit of 2" in digest.body
    assert all(f"Ref {a.reference}" in digest.body for a in held[1:])
    assert f"Ref {held[0].reference}" not in digest.body
    assert len(fake.messages) == 4
    assert len(decisions) == 5


def test_digest_outside_window_uses_notice_template(twilio_env, fake):
    with session_scope() as session:
        add_customer(session, "C001", number(1), tz="UTC", cap=1)
        enqueue(session, *[add_decision(session, "C001", event_key=f"e:{i}") for i in range(3)])
    clock = Clock(_tomorrow(10))
    dispatch_once(clock=clock)

    clock.now = _tomorrow(0) + timedelta(days=1, minutes=5)
    dispatch_once(clock=clock)

    [digest] = all_alerts(kind="DIGEST")
    assert digest.status == "SENT"
    assert digest.content_sid == NOTICE_SID
    assert digest.content_variables["2"] == digest.reference
    assert fake.messages[-1].body.startswith("RISKCAST update: 2 alert(s) held back")
