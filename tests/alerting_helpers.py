"""Builders and fixtures shared by the alerting tests."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import uvicorn
from sqlalchemy import select

from engine.alerting import outbox, templates
from engine.db import session_scope
from engine.decisions.lifecycle import Change
from engine.models import Alert, ConversationWindow, Customer, Decision
from engine.settings import reset_settings_cache
from tests.twilio_fake import FakeTwilio

DECISION_SID = "HX" + "d" * 32
NOTICE_SID = "HX" + "e" * 32
# Tomorrow at 12:00 UTC: after the wall-clock time the outbox stamps on new
# alerts, and outside the quiet hours of every test customer.
NOON = (datetime.now(timezone.utc) + timedelta(days=1)).replace(hour=12, minute=0, second=0,
                                                                microsecond=0)


class Clock:
    """A clock the test moves by hand, passed to ``dispatch_once(clock=...)``.

    It starts at the wall-clock time by default, so that it agrees with the
    times the outbox and the fake Twilio server stamp on rows and messages.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def add_customer(session, customer_id: str, number: str, *, tz: str = "UTC",
                 min_severity: str = "LOW", quiet: tuple[int | None, int | None] = (None, None),
                 cap: int = 1000, critical_breaks_quiet: bool = True) -> Customer:
    customer = Customer(id=customer_id, name=f"Customer {customer_id}", whatsapp_number=number,
                        timezone=tz, risk_tolerance="MEDIUM", min_severity=min_severity,
                        quiet_hours_start=quiet[0], quiet_hours_end=quiet[1],
                        critical_breaks_quiet=critical_breaks_quiet, daily_alert_cap=cap)
    session.add(customer)
    session.flush()
    return customer


def add_decision(session, customer_id: str, *, severity: str = "HIGH",
                 action: str = "REROUTE", version: int = 1, event_key: str | None = None,
                 supersedes_id: int | None = None, status: str = "OPEN",
                 as_of: datetime = NOON, deadline: timedelta | None = timedelta(days=5),
                 shipments: int = 14) -> Decision:
    answers = {
        "what": {"event_key": event_key or "bab_el_mandeb:security",
                 "chokepoint": "bab_el_mandeb", "chokepoint_name": "Bab el-Mandeb",
                 "reconciliation": "CONFIRMED", "sources": []},
        "when": [{"shipment_id": f"SHP-{i:03d}", "reaches_at": (as_of + timedelta(days=6 + i))
                  .isoformat()} for i in range(shipments)],
        "how_bad": {"exposure_usd": 4_200_000.0, "expected_loss_usd": 350_000.0,
                    "severity": severity, "probability": 0.62},
        "why": {"signal_probability": 0.62, "transit_change_pct": -48.0,
                "rate_change_pct": 120.0},
        "what_to_do": {"recommended": action, "cost_usd": 41_000.0,
                       "net_benefit_usd": 310_000.0, "alternatives": [
                           {"action": "DELAY", "feasible": True, "cost_usd": 90_000.0},
                           {"action": "INSURE", "feasible": True, "cost_usd": 25_000.0}]},
        "by_when": None,
        "confidence": {"value": 0.82, "reasons": ["signals and measured transits agree"],
                       "cost_of_waiting_usd": {"6h": 0.0, "24h": 120_000.0, "48h": 200_000.0}},
    }
    decision = Decision(
        customer_id=customer_id, event_key=event_key or "bab_el_mandeb:security",
        chokepoint="bab_el_mandeb", version=version, status=status, severity=severity,
        recommended_action=action, exposure_usd=4_200_000.0, expected_loss_usd=350_000.0,
        action_cost_usd=41_000.0, net_benefit_usd=310_000.0, probability=0.62,
        confidence=0.82, shipment_count=shipments,
        deadline=as_of + deadline if deadline is not None else None,
        expires_at=as_of + timedelta(days=7), is_expired=False, as_of=as_of, answers=answers,
        provenance={}, fingerprint=f"fp-{customer_id}-{version}-{severity}",
        supersedes_id=supersedes_id,
    )
    session.add(decision)
    session.flush()
    return decision


def enqueue(session, *decisions: Decision, superseded: dict[int, int] | None = None) -> int:
    """Queue alerts for ``decisions`` through the real outbox."""
    superseded = superseded or {}
    changes = [Change(d.id, d.customer_id, d.version, d.severity, superseded.get(d.id))
               for d in decisions]
    return outbox.enqueue(session, changes)


def open_window(session, number: str, at: datetime = NOON) -> None:
    session.merge(ConversationWindow(recipient=number, last_inbound_at=at - timedelta(hours=1),
                                     last_body="hello"))


def alerts(session, **filters) -> list[Alert]:
    query = select(Alert).order_by(Alert.id)
    for name, value in filters.items():
        query = query.where(getattr(Alert, name) == value)
    return list(session.scalars(query))


def all_alerts(**filters) -> list[Alert]:
    with session_scope() as session:
        return alerts(session, **filters)


def number(index: int) -> str:
    return f"+447700900{index:03d}"


@pytest.fixture
def fake():
    server = FakeTwilio(templates={DECISION_SID: templates.DECISION_TEMPLATE,
                                   NOTICE_SID: templates.NOTICE_TEMPLATE})
    with server:
        yield server


@pytest.fixture
def twilio_env(pg_env, fake, monkeypatch):
    """PostgreSQL, Redis and Twilio credentials pointing at the fake server."""
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TWILIO_TEMPLATE_DECISION_SID", DECISION_SID)
    monkeypatch.setenv("TWILIO_TEMPLATE_NOTICE_SID", NOTICE_SID)
    monkeypatch.setenv("TWILIO_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("ALERT_CLAIM_SECONDS", "30")
    monkeypatch.setenv("ALERT_RECONCILE_GRACE_SECONDS", "10")
    # One send at a time keeps the order of requests, and so the injected faults,
    # predictable; the concurrency tests raise it.
    monkeypatch.setenv("ALERT_SEND_CONCURRENCY", "1")
    reset_settings_cache()
    return pg_env


class ApiServer:
    """The ops API served by uvicorn on a free port of 127.0.0.1, in a thread."""

    def __init__(self) -> None:
        from api.app import create_app

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._socket]}, daemon=True)

    def __enter__(self) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the ops API did not start within 10 seconds")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
