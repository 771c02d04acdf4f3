"""Every dashboard page in headless Chromium on a populated PostgreSQL database.

Needs Debian's chromium at /usr/bin/chromium. Outside CI the test is skipped
when it is missing; in CI (CI=true) it fails, because .ci/run installs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dashboard_helpers import PAGES, ROOT, free_port, populate, start_streamlit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "screenshots"
ERROR_SELECTOR = '[data-testid="stException"], [data-testid="stAlertContentError"]'
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture
def served_app(pg_env, pg_database_url, redis_url, tmp_path):
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing; install it with apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    populate(ticks=30)
    port = free_port()
    env = {"DATABASE_URL": pg_database_url, "REDIS_URL": redis_url,
           "DASHBOARD_REFRESH_SECONDS": "0", "DASHBOARD_PASSWORD": "",
           "DASHBOARD_OPERATOR_PASSWORD": "", "ENVIRONMENT": "development"}
    process = start_streamlit(port, env, tmp_path / "streamlit.log")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=20)


def _settle(page) -> None:
    """Wait until the script run has finished and charts have drawn."""
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)


def _fit(page) -> None:
    """Grow the viewport to the page's height: Streamlit scrolls inside its main block."""
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1500, "height": min(max(int(height) + 40, 1000), 8000)})
    page.wait_for_timeout(1000)


def _riskiest() -> tuple[int, int]:
    """The riskiest active decision and its alert, for the drill-down screenshots."""
    from sqlalchemy import select

    from engine.db import session_scope
    from engine.models import Alert, Decision

    with session_scope() as session:
        decision = session.scalar(
            select(Decision.id).where(Decision.is_expired.is_(False))
            .order_by(Decision.expected_loss_usd.desc()).limit(1))
        alert = session.scalar(select(Alert.id).order_by(Alert.id.desc()).limit(1))
    return decision, alert


def test_every_page_renders(served_app):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    decision, alert = _riskiest()
    urls = {name: f"{served_app}/{'' if name == 'overview' else name}" for name in PAGES}
    urls["decisions"] += f"?decision={decision}"
    urls["alerts"] += f"?alert={alert}"
    problems = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        for name, url in urls.items():
            page.goto(url)
            _settle(page)
            if name == "exposure":
                page.get_by_role("tab", name="Map").click()
                page.wait_for_timeout(2500)
            _fit(page)
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
            page.set_viewport_size({"width": 1500, "height": 1000})
            errors = page.locator(ERROR_SELECTOR)
            if errors.count():
                problems[name] = errors.all_inner_texts()
        browser.close()

    assert problems == {}
    assert sorted(p.stem for p in SHOTS.glob("*.png")) >= sorted(PAGES)


def test_report_csv_built_on_click(served_app):
    """The Reports page shows a preview; the CSV is made only when someone clicks."""
    import csv
    import io

    from playwright.sync_api import sync_playwright
    from sqlalchemy import func, select, text

    from engine.db import session_scope
    from engine.models import Alert

    with session_scope() as session:
        # More alerts than the page previews, so the CSV must come from its own read.
        session.execute(text(
            "INSERT INTO alerts (decision_version, customer_id, recipient, kind, urgency, "
            "status, attempts, next_attempt_at, idempotency_key, reference, body, simulated, "
            "created_at, updated_at) "
            "SELECT 1, a.customer_id, a.recipient, 'DECISION', 'watch', 'DELIVERED', 1, now(), "
            "'browser-report:' || g, 'RCREPORT' || g, 'filler', false, now(), now() "
            "FROM (SELECT customer_id, recipient FROM alerts LIMIT 1) a, "
            "generate_series(1, 250) g"))
    with session_scope() as session:
        stored = session.scalar(select(func.count()).select_from(Alert))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
        page.goto(f"{served_app}/reports")
        _settle(page)
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Download alerts as CSV").click()
        body = download.value.path().read_bytes().decode("utf-8-sig")
        browser.close()

    rows = list(csv.DictReader(io.StringIO(body)))
    assert stored > 250
    assert len(rows) == stored
    assert {"id", "status", "recipient"} <= set(rows[0])
