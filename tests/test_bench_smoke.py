"""Run every benchmark at a tiny size, so none of them breaks unnoticed.

These are not timed tests: they check that each benchmark runs against the
real PostgreSQL and Redis servers, prints its table and its last line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TABLE_ROW = re.compile(r"^\| .+ \|$", re.MULTILINE)


def _run(*args: str, timeout: float = 120.0) -> list[str]:
    env = dict(os.environ)
    if "TEST_REDIS_URL" in env:
        env["BENCH_REDIS_URL"] = env["TEST_REDIS_URL"]
    if "TEST_POSTGRES_URL" in env:
        env["BENCH_POSTGRES_URL"] = env["TEST_POSTGRES_URL"]
    completed = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=timeout, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert TABLE_ROW.search(completed.stdout), completed.stdout
    return completed.stdout.strip().splitlines()


def test_pipeline_bench_prints_ratio():
    lines = _run("bench.pipeline", "--shipments", "200")
    assert re.fullmatch(r"ratio_to_copy=\d+(\.\d+)?", lines[-1]), lines[-1]
    row = next(line for line in lines if line.startswith("| 200 "))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "10"  # customers: one per 20 shipments
    assert int(cells[4].replace(",", "")) > 0  # decisions


def test_api_bench_measures_endpoints():
    lines = _run("bench.api", "--seconds", "2", "--rate", "50", "--generate-rate", "5",
                 "--book-shipments", "200")
    assert lines[-1].startswith("ratio_to_baseline="), lines[-1]
    text = "\n".join(lines)
    for endpoint in ("GET /live", "GET /health", "GET /circuits", "POST /decisions/generate"):
        assert endpoint in text
    live = next(line for line in lines if line.startswith("| GET /live "))
    assert "0.00%" in live  # /live returned 200 to every request


def test_dashboard_active_shape_times_pages():
    lines = _run("bench.dashboard", "--rows", "300", "--customers", "20", "--repeats", "1")
    assert lines[-1].startswith("ratio_to_baseline="), lines[-1]
    text = "\n".join(lines)
    assert "queries.overview" in text
    assert "AppTest dashboard/overview.py" in text
    assert "history shape" not in text  # the default is the active shape alone
    assert "failed" not in text


def test_dashboard_history_shape_times_page_calls():
    # 300 rows hold 6 active decisions and one FAILED alert, which the detail calls open.
    lines = _run("bench.dashboard", "--shape", "history", "--rows", "300", "--repeats", "1")
    assert re.fullmatch(r"ratio_to_baseline=\d+(\.\d+)?", lines[-1]), lines[-1]
    text = "\n".join(lines)
    assert "history shape: 300 decisions" in text
    for call in ("| Overview ", "search_decisions[HIGH, 'Baltic', all history]",
                 "impact_while_open[polymarket]", "alert_detail", "decision_detail"):
        assert call in text, call
    assert "| page view " in text  # the per-page totals table
    assert "AppTest" not in text
    assert "failed" not in text


def test_dashboard_both_shapes_print_both_tables():
    lines = _run("bench.dashboard", "--shape", "both", "--rows", "300", "--customers", "20",
                 "--repeats", "1", timeout=240.0)
    assert lines[-1].startswith("ratio_to_baseline="), lines[-1]
    assert re.search(r"\((active|history) shape\)$", lines[-2]), lines[-2]
    text = "\n".join(lines)
    assert "AppTest dashboard/overview.py" in text
    assert "search_decisions[active]" in text
    assert text.count("SELECT count(*) FROM decisions") == 2  # one baseline per database
    assert "failed" not in text


def test_dashboard_rejects_customers_for_history():
    completed = subprocess.run(
        [sys.executable, "-m", "bench.dashboard", "--shape", "history", "--customers", "20"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 2
    assert "--customers is invalid with --shape history" in completed.stderr


def test_dispatch_bench_counts_duplicates():
    lines = _run("bench.dispatch", "--messages", "100")
    assert lines[-1].startswith("ratio_to_baseline="), lines[-1]
    assert "duplicates_two_dispatchers=0" in lines
    two = next(line for line in lines if line.startswith("| dispatch_once x2 "))
    cells = [cell.strip() for cell in two.strip("|").split("|")]
    assert cells[2] == "100"  # messages received by the fake server
    assert cells[7] == "100"  # alerts stored as SENT


@pytest.mark.parametrize("module", ["bench.pipeline", "bench.api", "bench.dashboard",
                                    "bench.dispatch"])
def test_bench_rejects_bad_size(module):
    option = {"bench.pipeline": ["--shipments", "0"], "bench.api": ["--seconds", "0"],
              "bench.dashboard": ["--rows", "0"], "bench.dispatch": ["--messages", "0"]}[module]
    completed = subprocess.run([sys.executable, "-m", module, *option], cwd=ROOT,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 2
    assert "is invalid" in completed.stderr



@pytest.mark.parametrize("option", [["--rate", "nan"], ["--rate", "inf"], ["--port", "70000"],
                                    ["--book-shipments", "0"]])
def test_api_bench_rejects_bad_option(option):
    completed = subprocess.run([sys.executable, "-m", "bench.api", *option], cwd=ROOT,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 2
    assert f"{option[0]} {option[1]} is invalid" in completed.stderr
