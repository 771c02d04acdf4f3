"""Twilio webhooks over real HTTP: signed status callbacks and inbound replies."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from engine import breakers
from engine.alerting import callbacks, views
from engine.alerting.dispatch import dispatch_once
from engine.db import session_scope
from engine.models import (
    Alert,
    AuditEntry,
    ConversationWindow,
    Decision,
    InboundMessage,
    MessageEvent,
)
from engine.models.base import utcnow
from engine.settings import get_settings, reset_settings_cache
from tests.alerting_helpers import (  # noqa: F401 - fixtures
    DECISION_SID,
    ApiServer,
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


@pytest.fixture
def api(twilio_env, monkeypatch):
    with ApiServer() as server:
        monkeypatch.setenv("PUBLIC_BASE_URL", server.url)
        reset_settings_cache()
        yield server


def _send_alerts(count: int = 1, window_open: bool = True) -> list[Alert]:
    with session_scope() as session:
        for index in range(1, count + 1):
            add_customer(session, f"C{index:03d}", number(index))
            enqueue(session, add_decision(session, f"C{index:03d}"))
            if window_open:
                open_window(session, number(index))
    dispatch_once(clock=Clock())
    return all_alerts()


def _status_url(api) -> str:
    return f"{api.url}/webhooks/twilio/status"


def _inbound_url(api) -> str:
    return f"{api.url}/webhooks/twilio/inbound"


def _wait_for(condition, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _callback_events() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(MessageEvent)
                              .where(MessageEvent.source == "callback"))


def test_status_wrong_signature_rejected(api, fake):
    [alert] = _send_alerts()

    response = fake.status_callback(alert.twilio_sid, "delivered", signature="bm90IGEgc2ln")

    [after] = all_alerts()
    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.json()["detail"]
    assert after.status == "SENT"
    assert after.delivered_at is None
    assert _callback_events() == 0


def test_status_missing_signature_rejected(api, fake):
    [alert] = _send_alerts()

    response = fake.status_callback(alert.twilio_sid, "delivered", signature="")

    assert response.status_code == 403
    assert all_alerts()[0].status == "SENT"
    assert _callback_events() == 0


def test_status_signed_with_other_token_rejected(api, fake):
    [alert] = _send_alerts()

    response = fake.status_callback(alert.twilio_sid, "delivered", token="f" * 32)

    assert response.status_code == 403
    assert all_alerts()[0].status == "SENT"


def test_status_delivered_then_read(api, fake):
    [alert] = _send_alerts()

    delivered = fake.status_callback(alert.twilio_sid, "delivered")
    after_delivered = all_alerts()[0]
    read = fake.status_callback(alert.twilio_sid, "read")
    late_sent = fake.status_callback(alert.twilio_sid, "sent")

    [after] = all_alerts()
    assert delivered.status_code == 200
    assert read.status_code == 200
    assert late_sent.status_code == 200
    assert late_sent.text == "ignored"
    assert after_delivered.status == "DELIVERED"
    assert after_delivered.delivered_at is not None
    assert after.status == "READ"
    assert after.read_at is not None
    assert _callback_events() == 3


def test_failed_callback_falls_back_to_template(api, fake):
    """S9 by callback: 63016 for one of three later; it is stored, not resent, templated."""
    sent = _send_alerts(3)
    failing, *others = sent

    response = fake.status_callback(failing.twilio_sid, "failed", error_code=63016)
    for alert in others:
        fake.status_callback(alert.twilio_sid, "delivered")
    counts = dispatch_once(clock=Clock())

    rows = {a.id: a for a in all_alerts()}
    copy = next(a for a in rows.values() if a.fallback_of_id == failing.id)
    with session_scope() as session:
        queue = views.alert_queue(session, statuses=["FAILED"])
    twilio = breakers.breaker("twilio")
    assert response.status_code == 200
    assert rows[failing.id].status == "FAILED"
    assert rows[failing.id].last_error_code == "63016"
    assert "24-hour" in rows[failing.id].last_error_message
    assert all(rows[a.id].status == "DELIVERED" for a in others)
    assert counts["sent"] == 1
    assert copy.status == "SENT"
    assert copy.content_sid == DECISION_SID
    assert len([m for m in fake.messages if m.to == f"whatsapp:{failing.recipient}"]) == 2
    assert fake.messages[-1].content_sid == DECISION_SID
    assert list(queue["id"]) == [failing.id]
    assert list(queue["last_error_code"]) == ["63016"]
    assert twilio.fail_counter == 0
    with session_scope() as session:
        assert session.get(ConversationWindow, failing.recipient).closed_at is not None


def test_callback_before_sid_stored(api, fake):
    with session_scope() as session:
        add_customer(session, "C001", number(1))
        enqueue(session, add_decision(session, "C001"))
        open_window(session, number(1))
    fake.slow(1.0, accept_first=True)
    results = {}
    sender = threading.Thread(target=lambda: results.update(run=dispatch_once(clock=Clock())))

    sender.start()
    _wait_for(lambda: fake.messages)
    early = fake.status_callback(fake.messages[0].sid, "delivered")
    sender.join(timeout=15)

    [alert] = all_alerts()
    assert early.text == "buffered"
    assert results["run"]["sent"] == 1
    assert alert.status == "DELIVERED"
    with session_scope() as session:
        linked = session.scalars(select(MessageEvent).where(
            MessageEvent.source == "callback")).all()
    assert [e.alert_id for e in linked] == [alert.id]


def test_orphan_sweep_applies_late(twilio_env):
    [alert] = _send_alerts()
    with session_scope() as session:
        session.add(MessageEvent(alert_id=None, message_sid=alert.twilio_sid,
                                 source="callback", event="delivered", at=utcnow()))

    with session_scope() as session:
        applied = callbacks.apply_orphans(session, utcnow(), get_settings())

    assert applied == 1
    assert all_alerts()[0].status == "DELIVERED"


def _reply_for(sid: str) -> Alert:
    def find():
        with session_scope() as session:
            inbound = session.scalars(select(InboundMessage).where(
                InboundMessage.message_sid == sid)).first()
            if inbound is None or inbound.reply_alert_id is None:
                return None
            reply = session.get(Alert, inbound.reply_alert_id)
            return reply if reply.status == "SENT" else None

    return _wait_for(find)


def test_reply_one_acknowledges(api, fake):
    [alert] = _send_alerts(window_open=False)

    response = fake.inbound(_inbound_url(api), alert.recipient, "1", sid="SM" + "1" * 32)
    reply = _reply_for("SM" + "1" * 32)

    assert response.status_code == 200
    assert "<Response>" in response.text
    with session_scope() as session:
        decision = session.get(Decision, alert.decision_id)
        audit = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "decision.acknowledged")).one()
        window = session.get(ConversationWindow, alert.recipient)
        assert decision.status == "ACKNOWLEDGED"
        assert audit.actor == f"whatsapp:{alert.recipient}"
        assert window is not None
    assert reply.kind == "REPLY"
    assert reply.content_sid is None
    assert fake.messages[-1].body.startswith("Acknowledged: Bab el-Mandeb")


def test_reply_two_returns_details(api, fake):
    [alert] = _send_alerts()

    fake.inbound(_inbound_url(api), alert.recipient, " 2 ", sid="SM" + "2" * 32)
    _reply_for("SM" + "2" * 32)

    body = fake.messages[-1].body
    assert body.startswith("RISKCAST details: Bab el-Mandeb (HIGH)")
    assert "How bad: $4.2M exposed" in body
    assert "Instead: delay departure $90k, insure the cargo $25k" in body
    assert len(body) <= 1600
    with session_scope() as session:
        assert session.get(Decision, alert.decision_id).status == "OPEN"


def test_reply_three_dismisses(api, fake):
    [alert] = _send_alerts()

    fake.inbound(_inbound_url(api), alert.recipient, "3", sid="SM" + "3" * 32)
    _reply_for("SM" + "3" * 32)

    with session_scope() as session:
        assert session.get(Decision, alert.decision_id).status == "DISMISSED"
    assert fake.messages[-1].body.startswith("Dismissed: Bab el-Mandeb")


def test_other_text_gets_help(api, fake):
    [alert] = _send_alerts()

    fake.inbound(_inbound_url(api), alert.recipient, "what is this?", sid="SM" + "4" * 32)
    _reply_for("SM" + "4" * 32)

    assert fake.messages[-1].body.startswith("RISKCAST: reply 1 to acknowledge")
    with session_scope() as session:
        assert session.get(Decision, alert.decision_id).status == "OPEN"


def test_reference_picks_older_alert(api, fake):
    with session_scope() as session:
        add_customer(session, "C001", number(1))
        first = add_decision(session, "C001", event_key="suez:security")
        second = add_decision(session, "C001", event_key="hormuz:security")
        enqueue(session, first)
        enqueue(session, second)
        open_window(session, number(1))
    dispatch_once(clock=Clock())
    older = next(a for a in all_alerts() if a.decision_id == first.id)

    fake.inbound(_inbound_url(api), number(1), f"1 {older.reference.lower()}",
                 sid="SM" + "5" * 32)
    _reply_for("SM" + "5" * 32)

    with session_scope() as session:
        assert session.get(Decision, first.id).status == "ACKNOWLEDGED"
        assert session.get(Decision, second.id).status == "OPEN"


def test_replied_message_picks_alert(api, fake):
    with session_scope() as session:
        add_customer(session, "C001", number(1))
        first = add_decision(session, "C001", event_key="suez:security")
        second = add_decision(session, "C001", event_key="hormuz:security")
        enqueue(session, first, second)
        open_window(session, number(1))
    dispatch_once(clock=Clock())
    older = next(a for a in all_alerts() if a.decision_id == first.id)

    fake.inbound(_inbound_url(api), number(1), "3", replied_to=older.twilio_sid,
                 sid="SM" + "6" * 32)
    _reply_for("SM" + "6" * 32)

    with session_scope() as session:
        assert session.get(Decision, first.id).status == "DISMISSED"
        assert session.get(Decision, second.id).status == "OPEN"


def test_duplicate_inbound_answered_once(api, fake):
    [alert] = _send_alerts()
    sid = "SM" + "7" * 32

    first = fake.inbound(_inbound_url(api), alert.recipient, "1", sid=sid)
    _reply_for(sid)
    again = fake.inbound(_inbound_url(api), alert.recipient, "1", sid=sid)

    assert first.status_code == 200
    assert again.status_code == 200
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
        assert session.scalar(select(func.count()).select_from(Alert)
                              .where(Alert.kind == "REPLY")) == 1


def test_unknown_sender_not_answered(api, fake):
    _send_alerts()

    response = fake.inbound(_inbound_url(api), "+15550001111", "1", sid="SM" + "8" * 32)

    assert response.status_code == 200
    with session_scope() as session:
        inbound = session.scalars(select(InboundMessage)).one()
        assert inbound.customer_id is None
        assert inbound.reply_alert_id is None
        assert session.scalar(select(func.count()).select_from(Alert)
                              .where(Alert.kind == "REPLY")) == 0


def test_inbound_bad_signature_changes_nothing(api, fake):
    [alert] = _send_alerts(window_open=False)

    response = fake.inbound(_inbound_url(api), alert.recipient, "3", signature="AAAA")

    assert response.status_code == 403
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0
        assert session.get(ConversationWindow, alert.recipient) is None
        assert session.get(Decision, alert.decision_id).status == "OPEN"


def test_inbound_opens_window_for_free_text(api, fake):
    [alert] = _send_alerts(window_open=False)
    assert alert.content_sid == DECISION_SID

    fake.inbound(_inbound_url(api), alert.recipient, "hi", sid="SM" + "9" * 32)
    _reply_for("SM" + "9" * 32)
    with session_scope() as session:
        enqueue(session, add_decision(session, "C001", event_key="suez:security"))
    dispatch_once(clock=Clock())

    newest = all_alerts(kind="DECISION")[-1]
    assert newest.status == "SENT"
    assert newest.content_sid is None
    assert fake.messages[-1].content_sid is None
