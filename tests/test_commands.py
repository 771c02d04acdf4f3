"""The README's interface commands, run as an operator would."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from engine.db import session_scope
from engine.models import Decision

ROOT = Path(__file__).resolve().parent.parent


def _run(args, env):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)


def test_scheduler_once_twice_same_count(pg_env, pg_database_url, redis_url):
    env = dict(os.environ, DATABASE_URL=pg_database_url, REDIS_URL=redis_url)
    assert _run(["-m", "engine.book"], env).returncode == 0

    first = _run(["-m", "scheduler", "--once"], env)
    with session_scope() as session:
        after_first = session.scalar(select(func.count()).select_from(Decision))
    second = _run(["-m", "scheduler", "--once"], env)
    with session_scope() as session:
        after_second = session.scalar(select(func.count()).select_from(Decision))

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "decisions" in first.stdout.strip().splitlines()[-1]
    assert after_first > 0
    assert after_second == after_first


def test_invalid_setting_stops_start(tmp_path):
    env = dict(os.environ, ENVIRONMENT="prod", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")

    result = _run(["-m", "scheduler", "--once"], env)

    assert result.returncode == 2
    assert "ENVIRONMENT='prod'" in result.stderr
    assert "development, staging, production" in result.stderr
