"""Every dashboard page through AppTest: empty, populated, reruns, outages, sign-in."""

from __future__ import annotations

import pytest
import streamlit as st
from prometheus_client import REGISTRY
from streamlit.testing.v1 import AppTest

from engine import metrics
from engine.settings import reset_settings_cache
from tests.dashboard_helpers import PAGES, ROOT, free_port, populate


@pytest.fixture(autouse=True)
def _fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(name: str, app: AppTest | None = None) -> AppTest:
    app = app or AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    if name != "overview":
        app.switch_page(PAGES[name]).run()
    return app


def problems(app: AppTest) -> list[str]:
    return [e.value for e in app.exception] + [e.value for e in app.error]


@pytest.mark.parametrize("name", list(PAGES))
def test_page_empty_database(pg_env, name):
    app = open_page(name)

    assert problems(app) == []
    assert app.title[0].value


def test_pages_populated(pg_env):
    populate(ticks=3)

    for name in PAGES:
        app = open_page(name)
        assert problems(app) == [], name

    overview = open_page("overview")
    figures = {m.label: m.value for m in overview.metric}
    assert figures["Active decisions"] != "0"
    assert figures["Database"] == "ok"
    exposure = open_page("exposure")
    assert len(exposure.get("plotly_chart")) >= 3
    trends = open_page("trends")
    assert trends.get("plotly_chart")
    decisions = open_page("decisions")
    assert "matching decisions" in decisions.caption[0].value


def test_overview_traffic_lights(pg_env):
    populate(ticks=1)

    app = open_page("overview")
    cards = [m.value for m in app.markdown]

    assert "**API latency p95**" in cards
    assert "**Database connections**" in cards
    assert "### no data" in cards  # no DASHBOARD_METRICS_URL in the tests


def test_reruns_and_page_switches_create_nothing_twice(pg_env):
    populate(ticks=1)
    counter = metrics.DECISIONS_GENERATED
    families = sorted(f.name for f in REGISTRY.collect())

    app = open_page("overview")
    for name in PAGES:
        open_page(name, app)
        for _ in range(3):
            app.run()
            assert problems(app) == [], name

    assert metrics.DECISIONS_GENERATED is counter
    assert sorted(f.name for f in REGISTRY.collect()) == families


def test_decision_filters_survive_rerun(pg_env):
    populate(ticks=3)
    app = open_page("decisions")

    app.multiselect(key="decision_severity").select("HIGH").run()
    app.run()

    assert app.multiselect(key="decision_severity").value == ["HIGH"]
    frame = app.dataframe[0].value
    assert set(frame["severity"]) <= {"HIGH"}


def _closed_port_url(scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}/x"


@pytest.mark.parametrize("name", list(PAGES))
def test_page_with_database_down(pg_env, monkeypatch, name):
    from engine import db

    monkeypatch.setenv("DATABASE_URL", _closed_port_url("postgresql").replace("/x", "/riskcast"))
    reset_settings_cache()
    db.reset_engine()

    app = open_page(name)

    assert not app.exception
    for error in app.error:
        assert "database" in error.value
        assert "Traceback" not in error.value


def test_maintenance_with_redis_down(pg_env, monkeypatch):
    from engine import cache

    monkeypatch.setenv("REDIS_URL", _closed_port_url("redis").replace("/x", "/0"))
    reset_settings_cache()
    cache.reset_cache_clients()

    app = open_page("maintenance")

    assert not app.exception
    assert any("Redis is not answering" in e.value for e in app.error)


def test_password_sign_in_roles(pg_env, monkeypatch):
    monkeypatch.setenv("DASHBOARD_PASSWORD", "view-secret")
    monkeypatch.setenv("DASHBOARD_OPERATOR_PASSWORD", "act-secret")
    reset_settings_cache()

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert app.title[0].value == "RISKCAST operations"
    app.text_input(key="sign_in_name").input("Ana")
    app.text_input(key="sign_in_password").input("wrong")
    app.button[0].click().run()
    assert "Wrong password" in app.error[0].value

    app.text_input(key="sign_in_password").input("view-secret")
    app.button[0].click().run()
    app.switch_page(PAGES["maintenance"]).run()
    assert app.session_state["identity"].role == "viewer"
    assert app.button(key="vacuum_button").disabled

    viewer_free = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    viewer_free.text_input(key="sign_in_name").input("Bo")
    viewer_free.text_input(key="sign_in_password").input("act-secret")
    viewer_free.button[0].click().run()
    viewer_free.switch_page(PAGES["maintenance"]).run()
    assert viewer_free.session_state["identity"].role == "operator"
    assert not viewer_free.button(key="vacuum_button").disabled


OIDC_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback",
                         "cookie_secret": "test-cookie-secret", "client_id": "riskcast",
                         "client_secret": "secret",
                         "server_metadata_url": "http://127.0.0.1:9/.well-known/openid"}}


def test_oidc_sign_in_roles(pg_env, monkeypatch):
    monkeypatch.setenv("DASHBOARD_OPERATORS", "lead@example.com")
    reset_settings_cache()

    signed_out = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    signed_out.secrets = OIDC_SECRETS
    signed_out.user = {"is_logged_in": False}
    signed_out.run()
    assert signed_out.button[0].label == "Sign in"

    lead = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    lead.secrets = OIDC_SECRETS
    lead.user = {"is_logged_in": True, "email": "lead@example.com"}
    lead.run()
    analyst = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    analyst.secrets = OIDC_SECRETS
    analyst.user = {"is_logged_in": True, "email": "analyst@example.com"}
    analyst.run()

    assert lead.session_state["identity"].role == "operator"
    assert lead.session_state["identity"].actor == "dashboard:lead@example.com"
    assert analyst.session_state["identity"].role == "viewer"


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_opened_directly_asks_sign_in(pg_env, monkeypatch, name):
    monkeypatch.setenv("DASHBOARD_PASSWORD", "view-secret")
    reset_settings_cache()
    populate()

    app = AppTest.from_file(str(ROOT / PAGES[name]), default_timeout=60).run()

    assert not app.exception
    assert app.title[0].value == "RISKCAST operations"
    assert len(app.dataframe) == 0
    assert "identity" not in app.session_state


def test_invalid_setting_shown_without_traceback(pg_env, monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "prod")
    reset_settings_cache()

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()

    assert not app.exception
    assert "ENVIRONMENT='prod'" in app.error[0].value
    assert "development, staging, production" in app.error[0].value
