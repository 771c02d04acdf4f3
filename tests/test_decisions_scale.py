"""The decision step works in bulk: its SQL statement count does not grow with the book.

Every customer gets the same 20 sailings, so all decisions take the same
path (insert, then supersede, then expire and score) and a book ten times
larger, still within one part of ``PART_SHIPMENTS``, must cost exactly the
same number of statements. A book split into parts must come out the same
as the book drafted whole.
"""

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from engine.db import get_engine, session_scope
from engine.decisions import lifecycle, outcomes, service, shipments
from engine.decisions.config import DecisionConfig
from engine.decisions.routes import plan_route
from engine.models import Customer, Decision, RealityObservation, Shipment, Signal
from engine.storage import insert_ignore
from tests.decisions_helpers import AS_OF

SAILINGS_PER_CUSTOMER = 20
CIRCUITS = {"polymarket": "closed", "news": "closed", "ais": "closed"}


def _book(session, customers: int) -> None:
    route = list(plan_route("ASIA_NEUR", "CNSGH", "NLRTM").chokepoints)
    customer_rows, shipment_rows = [], []
    for c in range(customers):
        customer = f"C{c:05d}"
        customer_rows.append({
            "id": customer, "name": customer, "whatsapp_number": "+447700900001",
            "timezone": "UTC", "risk_tolerance": "MEDIUM", "min_severity": "LOW",
            "critical_breaks_quiet": True, "daily_alert_cap": 20, "created_at": AS_OF,
        })
        for s in range(SAILINGS_PER_CUSTOMER):
            etd = AS_OF + timedelta(days=-10 + 1.5 * s)
            shipment_rows.append({
                "id": f"{customer}-{s:02d}", "customer_id": customer, "origin_port": "CNSGH",
                "destination_port": "NLRTM", "lane": "ASIA_NEUR", "route": route,
                "cargo_value_usd": 1_000_000.0, "container_count": 12, "etd": etd,
                "eta": etd + timedelta(days=32), "status": "BOOKED", "created_at": AS_OF,
            })
    insert_ignore(session, Customer.__table__, customer_rows, ["id"])
    insert_ignore(session, Shipment.__table__, shipment_rows, ["id"])


def _event(session, day, probability: float, transit_change: float, rate: float) -> None:
    session.add_all([
        Signal(source="gdelt", external_id=f"yemen:{day.date()}", chokepoint="bab_el_mandeb",
               category="security", probability=probability, observed_at=day),
        RealityObservation(source="portwatch", chokepoint="bab_el_mandeb",
                           metric="transits_7d", value=73.0 * (1 + transit_change / 100),
                           baseline=73.0, change_pct=transit_change, observed_at=day),
        RealityObservation(source="scfi", chokepoint="bab_el_mandeb",
                           metric="rate_europe_usd_teu", value=rate, baseline=800.0,
                           change_pct=(rate / 800.0 - 1) * 100, observed_at=day),
    ])


class StatementCounter:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        self.statements.append(statement)


def _tick(as_of) -> tuple[int, service.DecideResult]:
    with StatementCounter(get_engine()) as counter:
        with session_scope() as session:
            lifecycle.cleanup_expired(session, as_of)
            outcomes.record_outcomes(session, as_of)
            result = service.decide(session, as_of, DecisionConfig(), circuits=CIRCUITS)
    return len(counter.statements), result


def _run(customers: int) -> list[tuple[int, int, int]]:
    """Statement count, decisions created and decisions updated, for three ticks."""
    with session_scope() as session:
        _book(session, customers)
        _event(session, AS_OF - timedelta(days=1), 0.9, -35.0, 2_800.0)
    rounds = []
    count, result = _tick(AS_OF)
    rounds.append((count, len(result.created), len(result.updated_ids)))

    calmer = AS_OF + timedelta(days=1)
    with session_scope() as session:
        _event(session, calmer, 0.3, -5.0, 820.0)
    count, result = _tick(calmer)
    rounds.append((count, len(result.created), len(result.updated_ids)))

    # After the last affected shipment passes: expire, then score against transits.
    later = AS_OF + timedelta(days=40)
    with session_scope() as session:
        for day in range(2, 41):
            session.add(RealityObservation(
                source="portwatch", chokepoint="bab_el_mandeb", metric="transits_7d",
                value=40.0, baseline=73.0, change_pct=-45.0,
                observed_at=AS_OF + timedelta(days=day)))
    count, result = _tick(later)
    rounds.append((count, len(result.created), len(result.updated_ids)))
    return rounds


def _reset(engine) -> None:
    from engine.models import Base

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def test_statement_count_flat(pg_env):
    small = _run(customers=10)
    _reset(pg_env)
    large = _run(customers=100)

    with session_scope() as session:
        scored = session.scalar(
            select(func.count()).select_from(Decision).where(Decision.outcome.is_not(None))
        )

    assert [r[0] for r in small] == [r[0] for r in large], (small, large)
    # every round did real work for every customer
    assert large[0][1] == 100
    assert large[1][1] == 100
    assert small[1][1] == 10
    assert scored == 200
    assert max(r[0] for r in large) < 30


@pytest.mark.parametrize("customers", [40])
def test_repeat_tick_writes_nothing(pg_env, customers):
    with session_scope() as session:
        _book(session, customers)
        _event(session, AS_OF - timedelta(days=1), 0.9, -35.0, 2_800.0)
    _tick(AS_OF)

    with StatementCounter(get_engine()) as counter:
        with session_scope() as session:
            result = service.decide(session, AS_OF, DecisionConfig(), circuits=CIRCUITS)

    writes = [s for s in counter.statements if s.lstrip().upper().startswith(
        ("INSERT", "UPDATE", "DELETE"))]
    assert result.created == []
    assert result.unchanged == customers
    assert writes == []


def _stored_decisions() -> list[tuple]:
    with session_scope() as session:
        return [tuple(row) for row in session.execute(
            select(Decision.customer_id, Decision.event_key, Decision.version,
                   Decision.severity, Decision.recommended_action, Decision.exposure_usd,
                   Decision.expected_loss_usd, Decision.deadline, Decision.fingerprint,
                   Decision.answers)
            .order_by(Decision.customer_id, Decision.event_key)
        )]


def test_parts_cover_each_customer_once(pg_env):
    with session_scope() as session:
        _book(session, 23)
        parts = shipments.customer_parts(session, AS_OF, size=3 * SAILINGS_PER_CUSTOMER)
        customers = sorted(session.scalars(select(Customer.id)))

    # 23 customers of 20 open sailings in parts of 60 sailings: 8 ranges, the last short.
    assert len(parts) == 8
    covered = [c for first, last in parts for c in customers if first <= c <= last]
    assert covered == customers


def test_book_in_parts_decides_as_book_whole(pg_env, monkeypatch):
    with session_scope() as session:
        _book(session, 30)
        _event(session, AS_OF - timedelta(days=1), 0.9, -35.0, 2_800.0)
    whole_count, whole = _tick(AS_OF)
    whole_rows = _stored_decisions()

    _reset(pg_env)
    monkeypatch.setattr(shipments, "PART_SHIPMENTS", 4 * SAILINGS_PER_CUSTOMER)
    with session_scope() as session:
        _book(session, 30)
        _event(session, AS_OF - timedelta(days=1), 0.9, -35.0, 2_800.0)
    parts_count, in_parts = _tick(AS_OF)

    assert len(whole.created) == len(in_parts.created) == 30
    assert _stored_decisions() == whole_rows
    # Eight parts instead of one: each part adds its own reads and writes.
    assert parts_count > whole_count


def test_empty_book_loads_as_empty_frame(pg_env):
    with session_scope() as session:
        _book(session, 2)
        everyone = shipments.load_open_shipments(session, AS_OF)
        nobody = shipments.load_open_shipments(session, AS_OF, customers=("X", "Y"))

    assert len(everyone) == 2 * SAILINGS_PER_CUSTOMER
    assert list(nobody.columns) == list(everyone.columns)
    assert nobody.empty
