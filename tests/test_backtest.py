"""The Red Sea backtest, run once for the module through its command-line entry point."""

import contextlib
import io
from datetime import date

import pandas as pd
import pytest

from engine.backtest import BacktestError, run_backtest
from engine.backtest.__main__ import main
from engine.decisions.answers import ANSWER_KEYS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("backtest")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["--out", str(out)])
    return code, stdout.getvalue().strip().splitlines(), out


@pytest.fixture(scope="module")
def decisions(report):
    _code, _lines, out = report
    return pd.read_csv(out / "decisions.csv", parse_dates=["as_of", "created_on"])


def test_last_line_is_lead_time(report):
    code, lines, _out = report

    assert code == 0
    assert lines[-1].startswith("lead_time_days=")
    assert int(lines[-1].split("=", 1)[1]) >= 21


def test_transit_drop_day(report):
    _code, lines, _out = report

    assert "below 50% of the 2023 mean on 2024-01-18" in "\n".join(lines)


def test_no_severe_reroute_in_quiet_months(decisions):
    quiet = decisions[decisions["created_on"] < pd.Timestamp("2023-10-01")]
    severe = quiet[quiet["severity"].isin(["HIGH", "CRITICAL"])
                   & (quiet["recommended_action"] == "REROUTE")]

    assert not quiet.empty, "the quiet months produced no decisions at all"
    assert severe.empty, severe[["created_on", "customer_id", "severity"]].to_string()


def test_no_active_severe_reroute_in_quiet_months(report):
    _code, _lines, out = report
    daily = pd.read_csv(out / "daily.csv", parse_dates=["date"])
    quiet = daily[daily["date"] < "2023-10-01"]

    assert len(quiet) == 273
    assert quiet["severe_reroutes"].sum() == 0


def test_severe_reroutes_during_crisis(decisions):
    crisis = decisions[decisions["created_on"] >= pd.Timestamp("2023-12-15")]
    severe = crisis[crisis["severity"].isin(["HIGH", "CRITICAL"])
                    & (crisis["recommended_action"] == "REROUTE") & crisis["through_focus"]]

    assert len(severe) >= 10


def test_report_files_written(report):
    _code, _lines, out = report
    markdown = (out / "report.md").read_text()
    daily = pd.read_csv(out / "daily.csv")

    assert "## Lead time" in markdown
    assert "Lead time:" in markdown
    assert "## Outcomes and source scores" in markdown
    assert len(daily) == (date(2024, 3, 31) - date(2023, 1, 1)).days + 1
    assert {"gdelt_probability", "transit_change_pct", "reconciliation", "high", "reroute",
            "severe_reroutes"} <= set(daily.columns)
    assert (out / "chokepoints.csv").stat().st_size > 0
    html = (out / "report.html").read_text()
    assert "plotly" in html.lower()
    assert "Bab el-Mandeb transits" in html


def test_outcomes_scored(report):
    _code, _lines, out = report
    markdown = (out / "report.md").read_text()

    assert "| riskcast |" in markdown
    assert "| gdelt |" in markdown


@pytest.fixture(scope="module")
def result():
    """The same replay through the Python entry point, for the stored JSON."""
    return run_backtest(date(2023, 12, 1), date(2024, 1, 15))


def test_severe_decisions_answer_everything(result):
    severe = result.decisions[result.decisions["severity"].isin(["HIGH", "CRITICAL"])]

    assert not severe.empty
    for row in severe.itertuples():
        missing = [k for k in ANSWER_KEYS if row.answers.get(k) is None]
        assert missing == [], f"decision {row.id} lacks {missing}"
        assert row.answers["when"], f"decision {row.id} names no shipment"
        assert len(row.answers["what_to_do"]["alternatives"]) == 5
        assert set(row.answers["confidence"]["cost_of_waiting_usd"]) == {"6h", "24h", "48h"}
        provenance = row.provenance
        assert provenance["signals"] or provenance["observations"]
        for item in provenance["signals"] + provenance["observations"]:
            assert isinstance(item["id"], int)
            assert item["age_hours"] >= 0
        assert set(provenance["circuits"]) == {"polymarket", "twilio", "ais", "news",
                                               "database", "redis"}


def test_short_replay_lead_time(result):
    assert result.first_reroute_day is not None
    assert result.first_reroute_day < date(2023, 12, 28)
    assert result.lead_time_days >= 21


def test_end_before_start_rejected():
    with pytest.raises(BacktestError, match="end 2023-01-01 is before start 2023-02-01"):
        run_backtest(date(2023, 2, 1), date(2023, 1, 1))


def test_bad_date_option(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--out", "/tmp/unused", "--start", "15/12/2023"])

    assert stop.value.code == 2
    assert "'15/12/2023' is not an ISO date" in capsys.readouterr().err


def test_used_database_rejected(sqlite_env, capsys):
    from engine import book
    from engine.db import session_scope

    with session_scope() as session:
        book.load_demo_book(session, customers=1)

    code = main(["--out", "/tmp/unused", "--database-url", str(sqlite_env.url),
                 "--start", "2023-12-01", "--end", "2023-12-02"])

    assert code == 2
    assert "already contains customers or decisions" in capsys.readouterr().err
