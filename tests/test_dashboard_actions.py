"""Each dashboard action does what it says: stored rows and one audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
import streamlit as st
from sqlalchemy import select, text, update
from streamlit.testing.v1 import AppTest

from engine import breakers
from engine.db import get_engine, session_scope
from engine.models import Alert, AuditEntry, Customer, Decision, Shipment
from engine.oplock import ActionBusyError, lock_key
from tests.dashboard_helpers import PAGES, ROOT, populate

ACTOR = "dashboard:anonymous"


@pytest.fixture(autouse=True)
def _fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    breakers.breaker.cache_clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()
    breakers.breaker.cache_clear()


def open_page(name: str, **query) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.query_params.update({k: str(v) for k, v in query.items()})
    app.switch_page(PAGES[name]).run()
    return app


def audit(action: str) -> list[AuditEntry]:
    with session_scope() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def expire_some(count: int = 5) -> list[int]:
    """Move the expiry of ``count`` active decisions before the replay date."""
    with session_scope() as session:
        rows = session.execute(
            select(Decision.id, Decision.as_of).where(Decision.is_expired.is_(False))
            .order_by(Decision.id).limit(count)).all()
        for decision_id, as_of in rows:
            session.execute(update(Decision).where(Decision.id == decision_id)
                            .values(expires_at=as_of - timedelta(days=1)))
    return [r[0] for r in rows]


def test_cleanup_runs_once_on_double_click(pg_env):
    populate(ticks=2)
    expired = expire_some(5)
    app = open_page("maintenance")
    assert app.metric[0].value == "5"

    app.button(key="cleanup_button").click().run()
    confirm = app.button(key="confirm_cleanup")
    reason = app.text_input(key="cleanup_reason")
    assert confirm.label == "Clean up 5 decisions"
    reason.set_value("nightly job failed")
    confirm.click().run()
    successes = [s.value for s in app.success]
    # The browser sends the second click with the dialog's widget states.
    reason.set_value("nightly job failed")
    confirm.click().run()
    app.run()

    entries = audit("decisions.cleanup_expired")
    assert len(entries) == 1
    assert entries[0].actor == ACTOR
    assert entries[0].result["removed"] == 5
    assert entries[0].reason == "nightly job failed"
    assert len(successes) == 1
    assert "5 expired decisions" in successes[0]
    assert len(app.success) == 0
    with session_scope() as session:
        statuses = set(session.scalars(select(Decision.status).where(Decision.id.in_(expired))))
    assert statuses == {"EXPIRED"}


def test_cleanup_waits_for_a_running_cleanup(pg_env):
    populate(ticks=1)
    expire_some(3)
    holder = get_engine().connect()
    holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("cleanup")})
    try:
        app = open_page("maintenance")
        assert app.button(key="cleanup_button").disabled
        assert any("running right now" in c.value for c in app.caption)

        from engine.maintenance import run_cleanup

        with pytest.raises(ActionBusyError, match="already running"):
            with session_scope() as session:
                run_cleanup(session, _replay_now(session), ACTOR)
    finally:
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("cleanup")})
        holder.close()

    assert audit("decisions.cleanup_expired") == []


def _replay_now(session):
    from engine.clock import domain_now
    from engine.settings import get_settings

    return domain_now(session, get_settings())


def _riskiest_decision() -> int:
    with session_scope() as session:
        return session.scalar(select(Decision.id).where(
            Decision.is_expired.is_(False), Decision.status == "OPEN"
        ).order_by(Decision.expected_loss_usd.desc()).limit(1))


def _decision_status(decision_id: int) -> str:
    with session_scope() as session:
        return session.get(Decision, decision_id).status


def test_acknowledge_then_dismiss(pg_env):
    populate(ticks=2)
    decision_id = _riskiest_decision()
    app = open_page("decisions", decision=decision_id)
    assert app.subheader[0].value.startswith(f"Decision {decision_id}")

    app.button(key="acknowledge_button").click().run()
    assert _decision_status(decision_id) == "ACKNOWLEDGED"
    assert f"Decision {decision_id} is now ACKNOWLEDGED." in [s.value for s in app.success]

    app.button(key="dismiss_button").click().run()
    assert app.button(key="confirm_dismiss").disabled  # a reason is required
    app.text_input(key="dismiss_reason").input("customer already rerouted").run()
    app.button(key="confirm_dismiss").click().run()

    assert _decision_status(decision_id) == "DISMISSED"
    acknowledged = audit("decision.acknowledged")
    dismissed = audit("decision.dismissed")
    assert [e.actor for e in acknowledged] == [ACTOR]
    assert [e.reason for e in dismissed] == ["customer already rerouted"]


def _failed_alert() -> int:
    with session_scope() as session:
        alert = session.scalars(select(Alert).order_by(Alert.id).limit(1)).one()
        alert.status = "FAILED"
        alert.last_error_code = "63016"
        alert.last_error_message = "outside the 24-hour window"
        return alert.id


def test_alert_retry_then_cancel(pg_env):
    populate(ticks=1)
    alert_id = _failed_alert()
    app = open_page("alerts", alert=alert_id)
    assert "63016" in app.error[0].value
    assert app.dataframe[0].value["code"].tolist() == ["63016"]

    app.button(key="retry_button").click().run()
    app.button(key="confirm_retry").click().run()
    with session_scope() as session:
        assert session.get(Alert, alert_id).status == "PENDING"

    app.button(key="cancel_button").click().run()
    app.button(key="confirm_cancel").click().run()
    with session_scope() as session:
        assert session.get(Alert, alert_id).status == "CANCELLED"
    assert len(audit("alert.retry")) == 1
    assert len(audit("alert.cancel")) == 1


def test_circuit_reset_with_reason(pg_env):
    breaker = breakers.breaker("polymarket")
    breaker.open()
    app = open_page("circuits")

    app.selectbox(key="reset_circuit").select("polymarket").run()
    app.button(key="reset_button").click().run()
    app.text_input(key="reset_reason").input("Polymarket status page is green again").run()
    app.button(key="confirm_reset").click().run()

    assert breakers.snapshot()["polymarket"]["state"] == "closed"
    entries = [e for e in _all_audit() if "reset" in e.action]
    assert len(entries) == 1
    assert entries[0].reason == "Polymarket status page is green again"
    assert entries[0].actor == ACTOR


def _all_audit() -> list[AuditEntry]:
    with session_scope() as session:
        return list(session.scalars(select(AuditEntry)))


def test_vacuum_and_cache_clear(pg_env, redis_url):
    populate(ticks=1)
    client = redis.Redis.from_url(redis_url)
    client.set("decision:1", "{}")
    client.set("decision:2", "{}")
    client.set("customer:CUST-0001:context", "{}")
    app = open_page("maintenance")

    app.button(key="vacuum_button").click().run()
    app.button(key="confirm_vacuum").click().run()
    app.button(key="cache_button").click().run()
    app.button(key="confirm_clear_cache").click().run()

    vacuums = audit("database.vacuum_analyze")
    clears = audit("cache.clear_decisions")
    assert len(vacuums) == 1
    assert "decisions" in vacuums[0].result
    assert [c.result["deleted"] for c in clears] == [2]
    assert client.exists("decision:1") == 0
    assert client.exists("customer:CUST-0001:context") == 1
    client.close()


CUSTOMERS_CSV = (
    "id,name,whatsapp_number,timezone,risk_tolerance\n"
    "CUST-7001,Good Imports,+447700900701,Europe/Paris,LOW\n"
    "CUST-7002,Bad Number,12345,Europe/Paris,LOW\n"
    "CUST-7003,Bad Zone,+447700900703,Mars/Olympus,MEDIUM\n"
)
SHIPMENTS_CSV = (
    "id,customer_id,origin_port,destination_port,lane,cargo_value_usd,container_count,etd,eta\n"
    "CUST-7001-S1,CUST-7001,CNSGH,NLRTM,ASIA_NEUR,250000,3,2024-01-05,2024-02-06\n"
    "CUST-7001-S2,CUST-9999,CNSGH,NLRTM,ASIA_NEUR,250000,3,2024-01-05,2024-02-06\n"
    "CUST-7001-S3,CUST-7001,CNSGH,NLRTM,ASIA_NEUR,-5,3,2024-02-05,2024-01-06\n"
)


def test_import_keeps_good_rows_and_reports_bad_ones(pg_env):
    app = open_page("book")
    app.file_uploader(key="upload_customers").upload("customers.csv", CUSTOMERS_CSV.encode(),
                                                     "text/csv").run()
    app.button(key="import_button_customers").click().run()
    report = app.dataframe[0].value

    assert report["row"].tolist() == [3, 4]
    assert report["column"].tolist() == ["whatsapp_number", "timezone"]
    app.file_uploader(key="upload_shipments").upload("shipments.csv", SHIPMENTS_CSV.encode(),
                                                     "text/csv").run()
    app.button(key="import_button_shipments").click().run()

    with session_scope() as session:
        assert session.scalars(select(Customer.id).where(Customer.id.like("CUST-7%"))).all() \
            == ["CUST-7001"]
        assert session.scalars(select(Shipment.id)).all() == ["CUST-7001-S1"]
    assert [e.result["rejected"] for e in audit("import.customers")] == [2]
    assert [e.result["rejected"] for e in audit("import.shipments")] == [2]


def test_what_if_shows_the_usd_change(pg_env):
    populate(ticks=2)
    app = open_page("exposure")

    app.button[-1].click().run()

    labels = [m.label for m in app.metric]
    assert "Expected loss in scenario" in labels
    assert not app.exception
