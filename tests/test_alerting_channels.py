"""The Twilio channel against the local server: errors, Retry-After and lookups."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from engine.alerting.backoff import parse_retry_after, retry_delay
from engine.alerting.channels import OutboundMessage, TwilioChannel
from engine.alerting.errors import DeliveryError, ErrorKind, classify
from engine.settings import load_settings
from tests.alerting_helpers import fake  # noqa: F401 - fixture

RECIPIENT = "+447700900001"


def _channel(fake, **extra) -> TwilioChannel:
    values = {**fake.env(), "TWILIO_TIMEOUT_SECONDS": "0.5", "ALERT_CLAIM_SECONDS": "30"}
    values.update(extra)
    return TwilioChannel(load_settings(values))


def _message(reference: str = "RCAAAAAAAA", body: str | None = None) -> OutboundMessage:
    return OutboundMessage(alert_id=1, recipient=RECIPIENT, reference=reference,
                           idempotency_key=f"test:{reference}",
                           body=body or f"hello\nRef {reference}")


def test_send_returns_sid(fake):
    result = _channel(fake).send(_message())

    [stored] = fake.messages
    assert result.sid == stored.sid
    assert result.status == "queued"
    assert result.simulated is False
    assert stored.to == f"whatsapp:{RECIPIENT}"
    assert stored.status_callback is None


def test_send_sets_status_callback(fake):
    channel = _channel(fake, PUBLIC_BASE_URL="https://ops.example.com")

    channel.send(_message())

    assert fake.messages[0].status_callback == "https://ops.example.com/webhooks/twilio/status"


def test_rate_limit_carries_retry_after(fake):
    fake.rate_limit(retry_after="7")

    with pytest.raises(DeliveryError) as error:
        _channel(fake).send(_message())

    assert error.value.kind == ErrorKind.RATE_LIMITED
    assert error.value.retry_after == 7.0
    assert error.value.counts_against_circuit is False
    assert fake.messages == []


@pytest.mark.parametrize(
    ("status", "code", "kind", "maybe_sent"),
    [(400, 21211, ErrorKind.RECIPIENT, False), (400, 63016, ErrorKind.RECIPIENT, False),
     (400, 21602, ErrorKind.REQUEST, False), (401, 20003, ErrorKind.ACCOUNT, False),
     (500, 20500, ErrorKind.OUTAGE, True), (503, 20503, ErrorKind.OUTAGE, True)],
)
def test_error_answers_classified(fake, status, code, kind, maybe_sent):
    fake.fail(status, code, "injected")

    with pytest.raises(DeliveryError) as error:
        _channel(fake).send(_message())

    assert error.value.code == str(code)
    assert error.value.kind == kind
    assert error.value.maybe_sent is maybe_sent


def test_timeout_may_have_sent(fake):
    fake.slow(1.5, accept_first=True)

    with pytest.raises(DeliveryError) as error:
        _channel(fake).send(_message())

    assert error.value.code == "TIMEOUT"
    assert error.value.kind == ErrorKind.OUTAGE
    assert error.value.maybe_sent is True
    assert len(fake.messages) == 1


def test_refused_connection_never_sent(fake):
    # A port this test bound and released: nothing listens on it.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    channel = _channel(fake, TWILIO_API_BASE=f"http://127.0.0.1:{port}")

    with pytest.raises(DeliveryError) as error:
        channel.send(_message())

    assert error.value.code == "CONNECTION"
    assert error.value.maybe_sent is False


def test_find_sent_pages_back(fake):
    channel = _channel(fake)
    channel.send(_message("RCTARGET22"))
    for index in range(120):
        channel.send(_message(f"RCFILL{index:04d}"[:10], body=f"filler {index}"))

    found = channel.find_sent(RECIPIENT, "RCTARGET22", datetime.now(timezone.utc)
                              - timedelta(minutes=1))
    missing = channel.find_sent(RECIPIENT, "RCNOTHERE2", datetime.now(timezone.utc)
                                - timedelta(minutes=1))

    assert found is not None
    assert found.sid == fake.messages[0].sid
    assert missing is None


def test_find_sent_stops_at_since(fake):
    channel = _channel(fake)
    channel.send(_message("RCOLDONE22"))

    found = channel.find_sent(RECIPIENT, "RCOLDONE22",
                              datetime.now(timezone.utc) + timedelta(hours=1))

    assert found is None


def test_find_sent_prefers_accepted(fake):
    channel = _channel(fake)
    first = channel.send(_message("RCTWICE222"))
    channel.send(_message("RCTWICE222"))
    fake.set_status(fake.messages[1].sid, "failed", 63016)

    found = channel.find_sent(RECIPIENT, "RCTWICE222",
                              datetime.now(timezone.utc) - timedelta(minutes=1))

    assert found.sid == first.sid


def test_retry_after_forms():
    now = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)

    assert parse_retry_after("2", now.timestamp()) == 2.0
    assert parse_retry_after(later, now.timestamp()) == 30.0
    assert parse_retry_after("soon", now.timestamp()) is None
    assert parse_retry_after(None, now.timestamp()) is None


def test_retry_delay_bounds():
    for attempts, low, high in ((1, 2.5, 5), (3, 10, 20), (20, 450, 900)):
        delay = retry_delay(attempts, 5, 900)
        assert low <= delay <= high
    assert 4 <= retry_delay(1, 5, 900, retry_after=4) <= 4.8


def test_classify_without_code():
    error = classify(502, None, "Bad Gateway")

    assert error.code == "502"
    assert error.kind == ErrorKind.OUTAGE
