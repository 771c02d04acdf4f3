"""The engine side of the dashboard: CSV safety, import validation, roles, metrics, locks."""

from __future__ import annotations

import io
from datetime import timedelta

import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from engine.auth import (
    OPERATOR,
    VIEWER,
    SignInError,
    SignInThrottle,
    auth_mode,
    role_for_email,
    sign_in_with_password,
)
from engine.importer import ImportFileError, import_customers, import_shipments, template_csv
from engine.models import AuditEntry, Customer
from engine.opsmetrics import MetricsReader, MetricsUnavailableError, parse_sample, quantile
from engine.oplock import lock_key
from engine.reports import escape_cell, to_csv
from engine.settings import load_settings


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x"])
def test_escape_cell_formula(cell):
    assert escape_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Baltic Foods", "", "1+1", -5, 3.5, None])
def test_escape_cell_leaves_values(cell):
    assert escape_cell(cell) == cell


def test_to_csv_escapes_text_not_numbers():
    frame = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "ok"], "amount": [-1200.5, 3.0]})

    rows = pd.read_csv(io.BytesIO(to_csv(frame)), encoding="utf-8-sig")

    assert rows["name"].tolist() == ["'=HYPERLINK(\"x\")", "ok"]
    assert rows["amount"].tolist() == [-1200.5, 3.0]


def test_import_customers_reports_each_bad_cell(pg_env):
    from engine.db import session_scope

    data = (
        "id,name,whatsapp_number,timezone,quiet_hours_start,daily_alert_cap,extra\n"
        "C-1,One,+447700900001,Europe/London,,5,x\n"
        "C-2,,+447700900002,Nowhere/City,22,-1,x\n"
        "C-1,Again,+447700900003,UTC,,,x\n"
    ).encode()
    with session_scope() as session:
        report = import_customers(session, data, "test", "c.csv")

    assert report.inserted == 1
    assert report.rejected == 2
    assert report.ignored_columns == ["extra"]
    assert {(e.row, e.column) for e in report.errors} == {
        (3, "name"), (3, "timezone"), (3, "quiet_hours_end"), (3, "daily_alert_cap"), (4, "id")}
    with session_scope() as session:
        assert session.scalars(select(Customer.name)).all() == ["One"]
        assert session.scalars(select(AuditEntry.action)).all() == ["import.customers"]


def test_import_updates_existing_rows(pg_env):
    from engine.db import session_scope

    first = b"id,name,whatsapp_number\nC-1,Old name,+447700900001\n"
    second = b"id,name,whatsapp_number\nC-1,New name,+447700900001\n"
    with session_scope() as session:
        import_customers(session, first, "test")
    with session_scope() as session:
        report = import_customers(session, second, "test")

    assert (report.inserted, report.updated) == (0, 1)
    with session_scope() as session:
        assert session.get(Customer, "C-1").name == "New name"


def test_import_shipment_checks(pg_env):
    from engine.db import session_scope

    with session_scope() as session:
        import_customers(session, b"id,name,whatsapp_number\nC-1,One,+447700900001\n", "test")
    data = (
        "id,customer_id,origin_port,destination_port,lane,cargo_value_usd,container_count,etd,eta\n"
        "S-1,C-1,cnsgh,NLRTM,asia_neur,\"1,250,000\",4,2024-01-01,2024-02-01T12:00\n"
        "S-2,C-1,SHANGHAI,NLRTM,MOON,0,0,2024-01-01,yesterday\n"
    ).encode()
    with session_scope() as session:
        report = import_shipments(session, data, "test")

    assert report.inserted == 1
    columns = {e.column for e in report.errors if e.row == 3}
    assert columns == {"origin_port", "lane", "cargo_value_usd", "container_count", "eta"}


@pytest.mark.parametrize("data, message", [
    (b"\xff\xfe bad", "not UTF-8"),
    (b"", "empty"),
    (b"name,whatsapp_number\nx,+1\n", "lacks required column"),
])
def test_import_rejects_unreadable_files(pg_env, data, message):
    from engine.db import session_scope

    with pytest.raises(ImportFileError, match=message):
        with session_scope() as session:
            import_customers(session, data, "test")


def test_templates_import_cleanly(pg_env):
    from engine.db import session_scope

    with session_scope() as session:
        customers = import_customers(session, template_csv("customers"), "test")
        shipments = import_shipments(session, template_csv("shipments"), "test")

    assert (customers.inserted, customers.rejected) == (1, 0)
    assert (shipments.inserted, shipments.rejected) == (1, 0)


def _settings(**values):
    return load_settings({k: v for k, v in values.items()})


def test_auth_modes():
    assert auth_mode(_settings(), oidc_configured=False) == "open"
    assert auth_mode(_settings(ENVIRONMENT="production"), oidc_configured=False) == "read-only"
    assert auth_mode(_settings(DASHBOARD_PASSWORD="x"), oidc_configured=False) == "password"
    assert auth_mode(_settings(DASHBOARD_PASSWORD="x"), oidc_configured=True) == "oidc"


def test_password_roles():
    settings = _settings(DASHBOARD_PASSWORD="view", DASHBOARD_OPERATOR_PASSWORD="act")

    assert sign_in_with_password(settings, " Ana  Lee ", "view").role == VIEWER
    assert sign_in_with_password(settings, "Ana", "act").role == OPERATOR
    assert sign_in_with_password(settings, "Ana  Lee", "act").actor == "dashboard:Ana Lee"
    with pytest.raises(SignInError, match="Wrong password"):
        sign_in_with_password(settings, "Ana", "nope")
    with pytest.raises(SignInError, match="Type your name"):
        sign_in_with_password(settings, "  ", "act")


def test_operator_emails():
    settings = _settings(DASHBOARD_OPERATORS="lead@example.com, @ops.example.com")

    assert role_for_email(settings, "Lead@Example.com") == OPERATOR
    assert role_for_email(settings, "night@ops.example.com") == OPERATOR
    assert role_for_email(settings, "analyst@example.com") == VIEWER
    assert role_for_email(settings, None) == VIEWER


def test_sign_in_throttle():
    now = [1000.0]
    throttle = SignInThrottle(clock=lambda: now[0])
    for _ in range(5):
        throttle.check("1.2.3.4")
        throttle.failed("1.2.3.4")

    with pytest.raises(SignInError, match="Too many"):
        throttle.check("1.2.3.4")
    throttle.check("5.6.7.8")
    now[0] += 301
    throttle.check("1.2.3.4")


def test_metrics_url_setting_validated():
    from engine.settings import SettingsError

    with pytest.raises(SettingsError, match="DASHBOARD_METRICS_URL"):
        load_settings({"DASHBOARD_METRICS_URL": "api:8000/metrics"})
    assert isinstance(_settings(DASHBOARD_OPERATOR_PASSWORD="x").DASHBOARD_OPERATOR_PASSWORD,
                      SecretStr)


def _exposition(fast: int, slow: int, errors: int) -> str:
    total = fast + slow
    return (
        "# TYPE http_request_duration_seconds histogram\n"
        f'http_request_duration_seconds_bucket{{method="GET",path="/health",le="0.1"}} {fast}\n'
        f'http_request_duration_seconds_bucket{{method="GET",path="/health",le="1.0"}} {total}\n'
        f'http_request_duration_seconds_bucket{{method="GET",path="/health",le="+Inf"}} {total}\n'
        f'http_request_duration_seconds_count{{method="GET",path="/health"}} {total}\n'
        f'http_request_duration_seconds_sum{{method="GET",path="/health"}} 1.0\n'
        "# TYPE http_requests_total counter\n"
        f'http_requests_total{{method="GET",path="/health",status="200"}} {total - errors}\n'
        f'http_requests_total{{method="GET",path="/health",status="503"}} {errors}\n'
    )


def test_quantile_matches_promql():
    assert quantile(0.5, {0.1: 50, 1.0: 100, float("inf"): 100}) == pytest.approx(0.1)
    assert quantile(0.95, {0.1: 50, 1.0: 100, float("inf"): 100}) == pytest.approx(0.91)
    assert quantile(0.95, {0.1: 0, float("inf"): 0}) is None


def test_metrics_reader_uses_the_rate_window():
    bodies = [_exposition(100, 0, 0), _exposition(100, 100, 10)]
    now = [0.0]
    reader = MetricsReader("http://api/metrics", fetch=lambda _url: bodies.pop(0),
                           clock=lambda: now[0])

    first = reader.read()
    now[0] = 60.0
    second = reader.read()

    assert first.window_seconds is None
    assert first.p95_seconds == pytest.approx(0.095)
    assert second.window_seconds == 60.0
    assert second.requests == 100
    assert second.error_rate == pytest.approx(0.10)
    assert second.p95_seconds == pytest.approx(0.955)


def test_metrics_reader_reports_unreadable_endpoint():
    def fail(_url):
        raise ValueError("not the Prometheus text format")

    with pytest.raises(MetricsUnavailableError, match="could not be read"):
        MetricsReader("http://api/metrics", fetch=fail).read()


def test_parse_sample_sums_pool_gauges():
    body = ("riskcast_db_pool_checked_out 3\nriskcast_db_pool_capacity 30\n")

    sample = parse_sample(body, 0.0)

    assert (sample.pool_checked_out, sample.pool_capacity) == (3.0, 30.0)


def test_lock_keys_match_the_worker():
    from scheduler.locks import lock_id

    assert lock_key("cleanup") == lock_id("cleanup")
    assert lock_key("vacuum") == lock_id("vacuum")


def test_read_models_on_sqlite(sqlite_env):
    from engine import book
    from engine.db import session_scope
    from engine.models.base import utcnow
    from engine.pipeline import tick
    from engine.readmodels import circuits, exposure, trends

    with session_scope() as session:
        book.load_demo_book(session)
    tick()
    now = utcnow()
    with session_scope() as session:
        trend = trends.severity_trend(session, "24h", now + timedelta(minutes=1))
        places = exposure.exposure_by_chokepoint(session)
        impact = circuits.impact_while_open(session, "polymarket")

    assert trend["decisions"].sum() > 0
    assert not places.empty
    assert impact["decisions"] == 0


def test_impact_counts_decisions_made_while_open(pg_env):
    from engine import book, breakers
    from engine.db import session_scope
    from engine.pipeline import tick
    from engine.readmodels.circuits import impact_while_open

    with session_scope() as session:
        book.load_demo_book(session)
    breakers.breaker("polymarket").open()
    try:
        tick()
    finally:
        breakers.breaker("polymarket").close()
        breakers.breaker.cache_clear()
    with session_scope() as session:
        opened = impact_while_open(session, "polymarket")
        closed = impact_while_open(session, "twilio")

    assert opened["decisions"] > 0
    assert opened["exposure_usd"] > 0
    assert len(opened["latest"]) == min(opened["decisions"], 50)
    assert closed["decisions"] == 0
