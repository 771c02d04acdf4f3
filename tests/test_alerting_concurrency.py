"""Dispatcher processes against one queue: two at once, and one killed mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text, update

from engine.alerting import keys, messages
from engine.alerting.outbox import alert_row
from engine.db import session_scope
from engine.models import Alert, ConversationWindow, MessageEvent
from engine.models.base import utcnow
from tests.alerting_helpers import (  # noqa: F401 - fixtures
    DECISION_SID,
    NOTICE_SID,
    add_customer,
    add_decision,
    fake,
    number,
    twilio_env,
)

ROOT = Path(__file__).resolve().parent.parent


def _seed(count: int, customers: int = 100) -> None:
    """Queue ``count`` decision alerts spread over ``customers``, half with open windows."""
    now = utcnow()
    with session_scope() as session:
        owners = [add_customer(session, f"C{i:03d}", number(i)) for i in range(customers)]
        session.execute(insert(ConversationWindow), [
            {"recipient": c.whatsapp_number, "last_inbound_at": now, "last_body": "hi"}
            for c in owners[::2]
        ])
        rows = []
        for index in range(count):
            customer = owners[index % customers]
            decision = add_decision(session, customer.id, version=1,
                                    event_key=f"event:{index}")
            key = keys.decision_key(decision.id, 1, customer.whatsapp_number)
            rendered = messages.render_decision(decision, customer, keys.reference_for(key))
            rows.append(alert_row(kind="DECISION", key=key, customer_id=customer.id,
                                  recipient=customer.whatsapp_number, rendered=rendered,
                                  urgency="standard", now=now, decision=decision))
        session.execute(insert(Alert), rows)


def _dispatcher(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "engine.alerting", "--drain", "--limit", "50"],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
        )


def _env(fake, pg_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(fake.env())
    env.update({
        "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "LOG_LEVEL": "WARNING",
        "TWILIO_TEMPLATE_DECISION_SID": DECISION_SID, "TWILIO_TEMPLATE_NOTICE_SID": NOTICE_SID,
        "TWILIO_TIMEOUT_SECONDS": "5", "ALERT_CLAIM_SECONDS": "60",
        "ALERT_RECONCILE_GRACE_SECONDS": "5", "ALERT_SEND_CONCURRENCY": "4",
        "PYTHONPATH": str(ROOT),
    })
    return env


def _wait(process: subprocess.Popen, log: Path, seconds: float = 240) -> int:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"dispatcher did not finish within {seconds}s:\n{log.read_text()[-3000:]}")


def _assert_each_sent_once(fake, count: int) -> None:
    with session_scope() as session:
        rows = session.execute(select(Alert.reference, Alert.status, Alert.twilio_sid)).all()
    by_reference = Counter()
    pattern_hits = {}
    for message in fake.messages:
        for token in message.body.split():
            if token.startswith("RC") and len(token) == 10:
                by_reference[token] += 1
                pattern_hits[token] = message.sid
    assert len(rows) == count
    assert len(fake.messages) == count
    assert all(status == "SENT" for _ref, status, _sid in rows), Counter(r[1] for r in rows)
    assert all(by_reference[ref] == 1 for ref, _status, _sid in rows)
    assert all(pattern_hits[ref] == sid for ref, _status, sid in rows)


@pytest.fixture
def processes():
    """Started dispatcher processes; any still running at the end are killed."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def _waiting_on_locks(engine) -> int:
    # A separate autocommit connection: within one transaction PostgreSQL keeps
    # returning the same snapshot of pg_stat_activity.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )).scalar()


def test_two_dispatchers_thousand_alerts(twilio_env, fake, pg_database_url, redis_url,
                                         tmp_path, processes):
    _seed(1000)
    # A few milliseconds per send keeps both processes busy until the queue is empty.
    fake.slow(0.003, times=10**6, accept_first=True)
    env = _env(fake, pg_database_url, redis_url)

    # Both dispatchers block on the customer locks while this transaction holds
    # them, so that they start claiming at the same moment.
    with twilio_env.connect() as gate:
        gate.execute(text("SELECT id FROM customers ORDER BY id FOR UPDATE"))
        processes.append(_dispatcher(env, tmp_path / "first.log"))
        processes.append(_dispatcher(env, tmp_path / "second.log"))
        deadline = time.monotonic() + 120
        while _waiting_on_locks(twilio_env) < 2:
            assert time.monotonic() < deadline, "dispatchers never reached their claims"
            time.sleep(0.05)
        gate.commit()

    codes = [_wait(processes[0], tmp_path / "first.log"),
             _wait(processes[1], tmp_path / "second.log")]

    assert codes == [0, 0]
    outputs = [(tmp_path / name).read_text() for name in ("first.log", "second.log")]
    sent = [int(out.rsplit("sent=", 1)[1].split()[0]) for out in outputs]
    assert all(count > 0 for count in sent), outputs
    assert sum(sent) == 1000
    _assert_each_sent_once(fake, 1000)


@pytest.mark.parametrize("how", ["after_accept", "mid_batch"])
def test_sigkill_then_restart(twilio_env, fake, pg_database_url, redis_url, tmp_path, how,
                             processes):
    _seed(200, customers=40)
    env = _env(fake, pg_database_url, redis_url)
    log = tmp_path / "killed.log"

    victim = _dispatcher(env, log)
    processes.append(victim)
    if how == "after_accept":
        # The worst moment: Twilio stored the message, the dispatcher never heard.
        fake.kill_after_accept(victim.pid, after=57)
    else:
        fake.slow(0.005, times=10**6, accept_first=True)
        deadline = time.monotonic() + 120
        while len(fake.messages) < 80:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.005)
        os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(timeout=120) == -signal.SIGKILL

    with session_scope() as session:
        stuck = session.scalar(select(text("count(*)")).select_from(Alert).where(
            Alert.status == "SENDING"))
        assert stuck > 0
        # The killed dispatcher's leases run out.
        session.execute(update(Alert).where(Alert.status == "SENDING")
                        .values(claimed_until=utcnow() - timedelta(seconds=1)))
    restarted = _dispatcher(env, tmp_path / "restarted.log")
    processes.append(restarted)

    assert _wait(restarted, tmp_path / "restarted.log") == 0
    _assert_each_sent_once(fake, 200)
    if how == "after_accept":
        with session_scope() as session:
            found = session.scalars(select(MessageEvent.event).where(
                MessageEvent.source == "reconcile")).all()
        assert "found" in found
