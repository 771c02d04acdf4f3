"""One message per alert across crashes, slow sends and competing dispatchers."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from sqlalchemy import select

from engine.alerting import batch, idempotency, leases
from engine.alerting.dispatch import dispatch_once
from engine.db import session_scope
from engine.models import MessageEvent
from engine.settings import reset_settings_cache
from tests.alerting_helpers import (  # noqa: F401 - fixtures
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


class Crash(RuntimeError):
    """Stands in for the process dying between Twilio's response and the row update."""


def _queue_one() -> str:
    phone = number(1)
    with session_scope() as session:
        add_customer(session, "C001", phone)
        enqueue(session, add_decision(session, "C001"))
        open_window(session, phone)
    return phone


def _crash(*_args, **_kwargs):
    raise Crash("killed before the outcome was written")


def _events(alert_id: int) -> list[tuple[str, str]]:
    with session_scope() as session:
        rows = session.execute(
            select(MessageEvent.source, MessageEvent.event)
            .where(MessageEvent.alert_id == alert_id).order_by(MessageEvent.id)
        ).all()
    return [tuple(r) for r in rows]


def _mark(redis_url: str, key: str) -> bytes | None:
    """Return the SID part of the alert's idempotency mark, or None without a mark."""
    client = redis.Redis.from_url(redis_url)
    try:
        value = client.get(idempotency.key_name(key))
    finally:
        client.close()
    return None if value is None else value.split(b" ")[0]


def test_crash_after_accept_uses_redis_mark(twilio_env, fake, monkeypatch, redis_url):
    _queue_one()
    clock = Clock()

    with monkeypatch.context() as patched, pytest.raises(Crash):
        patched.setattr(leases, "write_outcomes", _crash)
        dispatch_once(clock=clock)
    [stuck] = all_alerts()
    assert stuck.status == "SENDING"
    assert stuck.send_started_at is not None

    clock.advance(120)
    counts = dispatch_once(clock=clock)

    [alert] = all_alerts()
    [message] = fake.messages
    assert counts["reconciled"] == 1
    assert counts["sent"] == 0
    assert alert.status == "SENT"
    assert alert.twilio_sid == message.sid
    assert len(fake.requests) == 1
    assert ("reconcile", "adopted") in _events(alert.id)


def test_stale_mark_from_other_database_ignored(twilio_env, fake, redis_url):
    """A mark left under the same key by an earlier database must not stop this send."""
    _queue_one()
    [alert] = all_alerts()
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(idempotency.key_name(alert.idempotency_key),
                   "SMstale000000000000000000000000000 20200101T000000.000000Z")
    finally:
        client.close()

    counts = dispatch_once(clock=Clock())

    [sent] = all_alerts()
    [message] = fake.messages
    assert counts["sent"] == 1
    assert counts["reconciled"] == 0
    assert sent.twilio_sid == message.sid
    assert _mark(redis_url, sent.idempotency_key) == message.sid.encode()


def test_crash_after_accept_found_at_twilio(twilio_env, fake, monkeypatch, redis_url):
    _queue_one()
    clock = Clock()
    with monkeypatch.context() as patched, pytest.raises(Crash):
        patched.setattr(leases, "write_outcomes", _crash)
        dispatch_once(clock=clock)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()

    clock.advance(120)
    counts = dispatch_once(clock=clock)

    [alert] = all_alerts()
    [message] = fake.messages
    assert counts["reconciled"] == 1
    assert alert.status == "SENT"
    assert alert.twilio_sid == message.sid
    assert len(fake.requests) == 1
    assert ("reconcile", "found") in _events(alert.id)
    assert _mark(redis_url, alert.idempotency_key) == message.sid.encode()


def test_crash_before_send_sends_once(twilio_env, fake, monkeypatch):
    _queue_one()
    clock = Clock()
    with monkeypatch.context() as patched, pytest.raises(Crash):
        patched.setattr(batch.Batch, "_chunk", _crash)
        dispatch_once(clock=clock)

    clock.advance(5)
    within_lease = dispatch_once(clock=clock)
    clock.advance(60)
    counts = dispatch_once(clock=clock)

    [alert] = all_alerts()
    assert within_lease["sent"] == 0
    assert counts["sent"] == 1
    assert alert.status == "SENT"
    assert len(fake.messages) == 1
    # The claim was never fenced, so no lookup was needed.
    assert ("reconcile", "not_found") not in _events(alert.id)


def test_timeout_then_lookup_finds_message(twilio_env, fake, monkeypatch):
    monkeypatch.setenv("TWILIO_TIMEOUT_SECONDS", "0.3")
    reset_settings_cache()
    _queue_one()
    fake.slow(1.0, accept_first=True)
    clock = Clock()

    first = dispatch_once(clock=clock)
    [alert] = all_alerts()
    assert first["retry"] == 1
    assert alert.status == "PENDING"
    assert alert.last_error_code == "TIMEOUT"
    assert alert.send_started_at is not None
    assert (alert.next_attempt_at - clock.now).total_seconds() >= 10

    clock.advance(11)
    second = dispatch_once(clock=clock)

    [alert] = all_alerts()
    assert second["reconciled"] == 1
    assert second["sent"] == 0
    assert alert.status == "SENT"
    assert len(fake.messages) == 1
    assert len(fake.requests) == 1


def test_slow_send_blocks_second_dispatcher(twilio_env, fake, redis_url):
    """S8: while one dispatcher's send hangs, another finds nothing to send."""
    _queue_one()
    fake.slow(1.0, accept_first=False)
    clock = Clock()
    results = {}
    first = threading.Thread(target=lambda: results.update(a=dispatch_once(
        clock=clock, owner="dispatcher-a")))

    first.start()
    while not fake.requests:
        time.sleep(0.01)
    [alert] = all_alerts()
    mark_during_send = _mark(redis_url, alert.idempotency_key)
    second = dispatch_once(clock=Clock(clock.now), owner="dispatcher-b")
    first.join(timeout=10)

    [alert] = all_alerts()
    assert alert.status == "SENDING" or alert.status == "SENT"
    assert mark_during_send is None
    assert second["sent"] == 0
    assert second["reconciled"] == 0
    assert results["a"]["sent"] == 1
    assert alert.status == "SENT"
    assert alert.claimed_by is None
    assert len(fake.messages) == 1
    assert _mark(redis_url, alert.idempotency_key) == alert.twilio_sid.encode()


def test_send_slower_than_lease_reconciled(twilio_env, fake):
    """S8: a send outlives its lease; the dispatcher that takes over looks it up first."""
    _queue_one()
    fake.slow(1.5, accept_first=True)
    clock = Clock()
    results = {}
    first = threading.Thread(target=lambda: results.update(a=dispatch_once(
        clock=clock, owner="dispatcher-a")))

    first.start()
    while not fake.messages:
        time.sleep(0.01)
    late = Clock(clock.now)
    late.advance(31)
    second = dispatch_once(clock=late, owner="dispatcher-b")
    first.join(timeout=10)

    [alert] = all_alerts()
    [message] = fake.messages
    assert second["reconciled"] == 1
    assert second["sent"] == 0
    assert results["a"]["sent"] == 1
    assert alert.status == "SENT"
    assert alert.twilio_sid == message.sid
    assert len(fake.requests) == 1


def test_concurrent_claims_take_disjoint_rows(twilio_env, fake):
    with session_scope() as session:
        for index in range(1, 41):
            add_customer(session, f"C{index:03d}", number(index))
            enqueue(session, add_decision(session, f"C{index:03d}"))
            open_window(session, number(index))
    clock = Clock()
    results = []
    barrier = threading.Barrier(4)

    def run(owner: str) -> None:
        barrier.wait()
        results.append(dispatch_once(10, clock=clock, owner=owner))

    threads = [threading.Thread(target=run, args=(f"d{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # On a loaded machine a dispatcher may claim fewer than its batch. A last
    # run sends whatever the four left, so the totals check disjointness only.
    results.append(dispatch_once(40, clock=clock, owner="drain"))

    assert sum(r["sent"] for r in results) == 40
    assert len(fake.messages) == 40
    assert len({m.to for m in fake.messages}) == 40
