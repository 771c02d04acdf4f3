from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from engine import book
from engine.db import session_scope
from engine.pipeline import tick

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["pages/overview.py", "pages/exposure.py"]


@pytest.fixture(autouse=True)
def _fresh_caches():
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def _run(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    if page != PAGES[0]:
        app.switch_page(page).run()
    return app


def test_pages_render_empty(pg_env):
    for page in PAGES:
        app = _run(page)
        assert not app.exception, page
        assert not app.error, page


def test_pages_render_populated(pg_env):
    with session_scope() as session:
        book.load_demo_book(session)
    tick()

    overview = _run(PAGES[0])
    exposure = _run(PAGES[1])

    assert not overview.exception
    assert overview.metric[0].value != "0"
    assert not exposure.exception
    assert not exposure.error
    assert len(exposure.dataframe) == 1
