"""Dispatch against the local Twilio server: forms, errors, retries and the circuit."""

from __future__ import annotations

import json
from datetime import timedelta

import redis
from sqlalchemy import delete, select

from engine import breakers, metrics
from engine.alerting import idempotency, views
from engine.alerting.dispatch import dispatch_once
from engine.db import session_scope
from engine.models import ConversationWindow, Customer, MessageEvent
from tests.alerting_helpers import (  # noqa: F401 - fixtures
    DECISION_SID,
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


def _queue(count: int, window_open: bool = False) -> list[str]:
    numbers = [number(i) for i in range(1, count + 1)]
    with session_scope() as session:
        for index, phone in enumerate(numbers, start=1):
            add_customer(session, f"C{index:03d}", phone)
            enqueue(session, add_decision(session, f"C{index:03d}"))
            if window_open:
                open_window(session, phone)
    return numbers


def _redis_value(redis_url: str, key: str) -> str | None:
    client = redis.Redis.from_url(redis_url)
    try:
        value = client.get(idempotency.key_name(key))
    finally:
        client.close()
    return value.decode().split(" ")[0] if value else None


def test_free_text_inside_window(twilio_env, fake, redis_url):
    _queue(1, window_open=True)

    counts = dispatch_once(clock=Clock())

    assert counts["sent"] == 1
    [alert] = all_alerts()
    [message] = fake.messages
    assert alert.status == "SENT"
    assert alert.twilio_sid == message.sid
    assert alert.content_sid is None
    assert alert.simulated is False
    assert message.body == alert.body
    assert f"Ref {alert.reference}" in message.body
    assert _redis_value(redis_url, alert.idempotency_key) == message.sid


def test_template_outside_window(twilio_env, fake):
    _queue(1)

    dispatch_once(clock=Clock())

    [alert] = all_alerts()
    [message] = fake.messages
    assert alert.status == "SENT"
    assert alert.content_sid == DECISION_SID
    assert message.content_sid == DECISION_SID
    assert message.content_variables["6"] == alert.reference
    assert "Reply 1 to acknowledge" in message.body
    assert "\n" not in json.dumps(message.content_variables).replace("\\n", "")


def test_invalid_number_not_retried(twilio_env, fake):
    [phone] = _queue(1, window_open=True)
    fake.invalid_numbers.add(phone)
    clock = Clock()

    first = dispatch_once(clock=clock)
    clock.advance(3600)
    second = dispatch_once(clock=clock)

    [alert] = all_alerts()
    assert first["failed"] == 1
    assert second["sent"] == 0
    assert alert.status == "FAILED"
    assert alert.last_error_code == "21211"
    assert alert.attempts == 1
    assert alert.send_started_at is None
    assert len(fake.requests) == 1


def test_recipient_errors_keep_circuit_closed(twilio_env, fake):
    numbers = _queue(5, window_open=True)
    fake.invalid_numbers.update(numbers)

    counts = dispatch_once(clock=Clock())

    twilio = breakers.breaker("twilio")
    assert counts["failed"] == 5
    assert twilio.current_state == "closed"
    assert twilio.fail_counter == 0


def test_server_error_retried_with_backoff(twilio_env, fake):
    _queue(1, window_open=True)
    fake.server_error(times=1, status=503)
    clock = Clock()

    first = dispatch_once(clock=clock)
    [alert] = all_alerts()

    assert first["retry"] == 1
    assert alert.status == "PENDING"
    assert alert.last_error_code == "20500"
    assert alert.attempts == 1
    # A 5xx may hide a created message: it stays in doubt for the grace period.
    assert alert.send_started_at is not None
    delay = (alert.next_attempt_at - clock.now).total_seconds()
    assert 10 <= delay <= 10.5

    assert dispatch_once(clock=clock)["sent"] == 0
    clock.advance(delay + 1)
    second = dispatch_once(clock=clock)

    [alert] = all_alerts()
    assert second["sent"] == 1
    assert alert.status == "SENT"
    assert alert.attempts == 2
    assert len(fake.messages) == 1


def test_backoff_grows_with_attempts(twilio_env, fake, monkeypatch):
    monkeypatch.setenv("ALERT_RECONCILE_GRACE_SECONDS", "0")
    from engine.settings import reset_settings_cache

    reset_settings_cache()
    _queue(1, window_open=True)
    fake.fail(401, 20003, "Authenticate", times=3)
    clock = Clock()
    delays = []

    for _ in range(3):
        dispatch_once(clock=clock)
        [alert] = all_alerts()
        delays.append((alert.next_attempt_at - clock.now).total_seconds())
        clock.now = alert.next_attempt_at
        breakers.breaker("twilio").close()

    assert 2.5 <= delays[0] <= 5
    assert 5 <= delays[1] <= 10
    assert 10 <= delays[2] <= 20


def test_dead_after_max_attempts(twilio_env, fake, monkeypatch):
    monkeypatch.setenv("ALERT_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("ALERT_RECONCILE_GRACE_SECONDS", "0")
    from engine.settings import reset_settings_cache

    reset_settings_cache()
    _queue(1, window_open=True)
    fake.fail(401, 20003, "Authenticate", times=5)
    clock = Clock()

    dispatch_once(clock=clock)
    clock.advance(3600)
    counts = dispatch_once(clock=clock)

    [alert] = all_alerts()
    assert counts["dead"] == 1
    assert alert.status == "DEAD"
    assert alert.attempts == 2
    assert alert.last_error_code == "20003"


def test_outages_open_circuit_and_defer(twilio_env, fake):
    _queue(6, window_open=True)
    fake.server_error(times=3)
    clock = Clock()

    counts = dispatch_once(clock=clock)

    twilio = breakers.breaker("twilio")
    rows = all_alerts()
    assert twilio.current_state == "open"
    assert counts["retry"] == 3
    assert counts["deferred"] == 3
    assert len(fake.requests) == 3
    deferred = [a for a in rows if a.attempts == 0]
    assert len(deferred) == 3
    assert all(a.status == "PENDING" for a in deferred)
    assert all(a.send_started_at is None for a in deferred)
    assert all((a.next_attempt_at - clock.now).total_seconds() >= 29 for a in deferred)


def test_rate_limits_counted_apart(twilio_env, fake):
    """S15: ten alerts, two 429s; all ten delivered once, the circuit stays closed."""
    numbers = _queue(10, window_open=True)
    fake.rate_limit(times=1, retry_after="2", after=2)
    fake.rate_limit(times=1, retry_after="2", after=5)
    limited_before = metrics.TWILIO_RATE_LIMITED._value.get()
    clock = Clock()
    started = clock.now
    runs = 0

    while any(a.status != "SENT" for a in all_alerts()) and runs < 10:
        dispatch_once(clock=clock)
        runs += 1
        pending = [a.next_attempt_at for a in all_alerts() if a.status == "PENDING"]
        if pending:
            wait = (min(pending) - clock.now).total_seconds()
            assert wait >= 2.0, "Retry-After was not honoured"
            clock.now = min(pending)

    rows = all_alerts()
    twilio = breakers.breaker("twilio")
    assert all(a.status == "SENT" for a in rows)
    assert runs <= 3
    assert clock.now - started <= timedelta(seconds=5)
    assert len(fake.messages) == 10
    assert sorted(m.to for m in fake.messages) == sorted(f"whatsapp:{n}" for n in numbers)
    assert len(fake.requests) == 12
    assert metrics.TWILIO_RATE_LIMITED._value.get() - limited_before == 2
    assert twilio.current_state == "closed"
    assert twilio.fail_counter == 0
    assert all(a.attempts == 1 for a in rows)


def test_window_closed_at_send_falls_back(twilio_env, fake):
    """S9 at send time: 63016 for one of three; the others arrive, it gets the template."""
    numbers = _queue(3, window_open=True)
    fake.enforce_windows = True
    fake.open_windows.update(numbers[:2])
    clock = Clock()

    first = dispatch_once(clock=clock)
    second = dispatch_once(clock=clock)

    failed, *_ = [a for a in all_alerts() if a.recipient == numbers[2]]
    copies = all_alerts(fallback_of_id=failed.id)
    twilio = breakers.breaker("twilio")
    assert first["sent"] == 2
    assert first["failed"] == 1
    assert failed.status == "FAILED"
    assert failed.last_error_code == "63016"
    assert failed.attempts == 1
    assert len(copies) == 1
    assert copies[0].status == "SENT"
    assert copies[0].content_sid == DECISION_SID
    assert second["sent"] == 1
    assert [m.to for m in fake.messages].count(f"whatsapp:{numbers[2]}") == 1
    assert twilio.fail_counter == 0
    with session_scope() as session:
        window = session.get(ConversationWindow, numbers[2])
        assert window.closed_at is not None


def test_no_template_fails_clearly(twilio_env, fake, monkeypatch):
    monkeypatch.delenv("TWILIO_TEMPLATE_DECISION_SID")
    from engine.settings import reset_settings_cache

    reset_settings_cache()
    _queue(1)

    counts = dispatch_once(clock=Clock())

    [alert] = all_alerts()
    assert counts["failed"] == 1
    assert alert.status == "FAILED"
    assert alert.last_error_code == "NO_TEMPLATE"
    assert "TWILIO_TEMPLATE_DECISION_SID" in alert.last_error_message
    assert fake.requests == []


def test_simulated_recorded_like_real(pg_env):
    _queue(2)

    counts = dispatch_once(clock=Clock())

    rows = all_alerts()
    assert counts["sent"] == 2
    assert all(a.status == "SENT" for a in rows)
    assert all(a.simulated for a in rows)
    assert all(a.twilio_sid.startswith("SM") for a in rows)
    assert all(a.content_sid is not None for a in rows)
    with session_scope() as session:
        logged = session.scalars(select(MessageEvent.event)).all()
    assert logged.count("sent") == 2


def test_events_trace_each_attempt(twilio_env, fake):
    _queue(1, window_open=True)
    fake.server_error(times=1)
    clock = Clock()

    dispatch_once(clock=clock)
    clock.advance(120)
    dispatch_once(clock=clock)

    [alert] = all_alerts()
    with session_scope() as session:
        trail = session.execute(
            select(MessageEvent.source, MessageEvent.event, MessageEvent.error_code)
            .where(MessageEvent.alert_id == alert.id).order_by(MessageEvent.id)
        ).all()
    assert [tuple(row) for row in trail] == [
        ("dispatch", "outage", "20500"),
        ("reconcile", "not_found", None),
        ("dispatch", "sent", None),
    ]
    assert alert.status == "SENT"


def test_window_closed_without_template_is_final(twilio_env, fake, monkeypatch):
    monkeypatch.delenv("TWILIO_TEMPLATE_DECISION_SID")
    from engine.settings import reset_settings_cache

    reset_settings_cache()
    [phone] = _queue(1, window_open=True)
    fake.enforce_windows = True
    clock = Clock()

    first = dispatch_once(clock=clock)
    clock.advance(3600)
    second = dispatch_once(clock=clock)

    rows = all_alerts()
    assert first["failed"] == 1
    assert second == {label: 0 for label in second}
    assert len(rows) == 1
    assert rows[0].status == "FAILED"
    assert rows[0].last_error_code == "63016"
    assert len(fake.requests) == 1


def test_deleted_customer_cancels_alert(twilio_env, fake):
    _queue(1, window_open=True)
    with session_scope() as session:
        session.execute(delete(Customer).where(Customer.id == "C001"))

    counts = dispatch_once(clock=Clock())

    [alert] = all_alerts()
    assert counts["cancelled"] == 1
    assert alert.status == "CANCELLED"
    assert alert.decision_id is None
    assert fake.requests == []


def test_views_show_failures_and_timeline(twilio_env, fake):
    numbers = _queue(2, window_open=True)
    fake.invalid_numbers.add(numbers[0])
    clock = Clock()
    dispatch_once(clock=clock)

    with session_scope() as session:
        queue = views.alert_queue(session)
        failed = queue[queue["status"] == "FAILED"].iloc[0]
        codes = views.failures_by_code(session, clock.now - timedelta(hours=1))
        timeline = views.alert_timeline(session, int(failed["id"]))
        text = views.message_text(session, int(failed["id"]))

    assert list(queue["status"]) == ["SENT", "FAILED"]
    assert failed["last_error_code"] == "21211"
    assert failed["sent_as"] == "text"
    assert codes.to_dict("records") == [{"error_code": "21211", "status": "FAILED", "alerts": 1}]
    assert list(timeline["event"]) == ["recipient"]
    assert list(timeline["error_code"]) == ["21211"]
    assert text["body"].startswith("RISKCAST action advised: Bab el-Mandeb (HIGH)")


def test_simulated_on_sqlite_defaults(sqlite_env):
    _queue(3)
    clock = Clock()

    first = dispatch_once(clock=clock)
    second = dispatch_once(clock=clock)

    rows = all_alerts()
    assert first["sent"] == 3
    assert second["sent"] == 0
    assert all(a.status == "SENT" and a.simulated for a in rows)


def test_sends_run_in_parallel(twilio_env, fake, monkeypatch):
    monkeypatch.setenv("ALERT_SEND_CONCURRENCY", "4")
    from engine.settings import reset_settings_cache

    reset_settings_cache()
    _queue(8, window_open=True)
    fake.slow(0.3, times=8, accept_first=True)

    counts = dispatch_once(clock=Clock())

    assert counts["sent"] == 8
    assert fake.max_in_flight >= 2, fake.max_in_flight
    assert len(fake.messages) == 8
