"""Write the backtest report: Markdown summary, CSV tables and a Plotly chart."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.backtest.runner import FOCUS, QUIET_END, BacktestResult

SEVERITY_COLOURS = {"low": "#9ecae1", "medium": "#fdae6b", "high": "#e6550d",
                    "critical": "#a50f15"}
DECISION_COLUMNS = [
    "id", "customer_id", "event_key", "version", "status", "created_on", "as_of", "severity",
    "recommended_action", "exposure_usd", "expected_loss_usd", "action_cost_usd",
    "net_benefit_usd", "probability", "confidence", "shipment_count", "deadline",
    "through_focus",
]


def write_report(result: BacktestResult, out: Path) -> list[Path]:
    """Write every report file into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "daily.csv", out / "chokepoints.csv", out / "decisions.csv",
             out / "report.html", out / "report.md"]
    result.daily.to_csv(paths[0], index=False)
    result.chokepoints.to_csv(paths[1], index=False)
    _decision_table(result.decisions).to_csv(paths[2], index=False)
    chart(result).write_html(paths[3], include_plotlyjs=True, full_html=True)
    paths[4].write_text(markdown(result))
    return paths


def _decision_table(decisions: pd.DataFrame) -> pd.DataFrame:
    table = decisions[DECISION_COLUMNS].copy()
    table["disrupted"] = [o.get("disrupted") if o else None for o in decisions["outcome"]]
    table["action_was_right"] = [
        o.get("action_was_right") if o else None for o in decisions["outcome"]
    ]
    return table


def chart(result: BacktestResult) -> go.Figure:
    """Plot transits, probabilities and active decisions, marking the two key days."""
    figure = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
        subplot_titles=("Bab el-Mandeb transits, 7-day mean (IMF PortWatch)",
                        "Signals and the engine's disruption probability",
                        "Active decisions by severity"),
    )

    transits = result.transits.rolling(7).mean()
    transits = transits[(transits.index >= result.start) & (transits.index <= result.end)]
    figure.add_trace(go.Scatter(x=list(transits.index), y=transits.values,
                                name="transits, 7-day mean"), row=1, col=1)
    half = 0.5 * result.baseline_2023
    figure.add_trace(go.Scatter(x=[result.start, result.end], y=[half, half],
                                name="50% of the 2023 mean", line={"dash": "dash"}),
                     row=1, col=1)

    daily = result.daily
    for column, name in (("event_probability", "event probability"),
                         ("gdelt_probability", "GDELT signal"),
                         ("signal_probability", "strongest signal")):
        figure.add_trace(go.Scatter(x=daily["date"], y=daily[column], name=name), row=2, col=1)
    for severity, colour in SEVERITY_COLOURS.items():
        figure.add_trace(go.Bar(x=daily["date"], y=daily[severity], name=severity.upper(),
                                marker_color=colour), row=3, col=1)

    markers = ((result.first_reroute_day, "first HIGH/CRITICAL REROUTE", "top left"),
               (result.drop_day, "transits below 50%", "top right"))
    for day, label, position in markers:
        if day is None:
            continue
        x = pd.Timestamp(day).timestamp() * 1000
        figure.add_vline(x=x, line_dash="dot", row=1, col=1, annotation_text=label,
                         annotation_position=position)
        for row in (2, 3):
            figure.add_vline(x=x, line_dash="dot", row=row, col=1)

    figure.update_layout(barmode="stack", height=900,
                         title=f"RISKCAST backtest {result.start} to {result.end}")
    return figure


def markdown(result: BacktestResult) -> str:
    decisions = result.decisions
    daily = result.daily
    lead = result.lead_time_days
    lines = [
        f"# RISKCAST backtest, {result.start} to {result.end}",
        "",
        "Replayed day by day against the demo book, with only the data known on each day.",
        f"Run time: {result.seconds:.0f} s.",
        "",
        "## Lead time",
        "",
        f"- 2023 mean of daily Bab el-Mandeb transits: {result.baseline_2023:.1f}",
        f"- First day the 7-day mean is below 50% of it: {result.drop_day}",
        f"- First HIGH or CRITICAL REROUTE for a shipment through Bab el-Mandeb: "
        f"{result.first_reroute_day}",
        f"- Lead time: {lead if lead is not None else 'none'} days",
        f"- HIGH or CRITICAL REROUTE decisions before {QUIET_END}: "
        f"{result.quiet_severe_reroutes}",
        "",
        "## Decisions",
        "",
        f"{len(decisions)} decision versions for {decisions['customer_id'].nunique()} "
        f"customers.",
        "",
        _counts_table(decisions),
        "",
        "## First decisions at each severity",
        "",
        _first_table(decisions),
        "",
        "## Month by month at Bab el-Mandeb",
        "",
        _monthly_table(daily),
        "",
        "## Outcomes and source scores",
        "",
        _scores_table(result.scores),
        "",
        f"Files: `daily.csv` (one row per day, {FOCUS} inputs and the active book), "
        "`chokepoints.csv` (every chokepoint assessment), `decisions.csv` (every "
        "decision version with its outcome) and `report.html` (chart).",
        "",
    ]
    return "\n".join(lines)


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(
        index=False)]
    return "\n".join([header, rule, *rows])


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def _counts_table(decisions: pd.DataFrame) -> str:
    if decisions.empty:
        return "No decisions."
    counts = pd.crosstab(decisions["severity"], decisions["recommended_action"])
    order = [s for s in ("LOW", "MEDIUM", "HIGH", "CRITICAL") if s in counts.index]
    return _table(counts.loc[order].reset_index())


def _first_table(decisions: pd.DataFrame) -> str:
    rows = []
    for severity in ("MEDIUM", "HIGH", "CRITICAL"):
        subset = decisions[(decisions["severity"] == severity) & decisions["through_focus"]]
        subset = subset.sort_values(["created_on", "id"])
        if subset.empty:
            continue
        first = subset.iloc[0]
        rows.append({"severity": severity, "created_on": first["created_on"].date(),
                     "customer": first["customer_id"], "action": first["recommended_action"],
                     "decision": int(first["id"]), "version": int(first["version"])})
    return _table(pd.DataFrame(rows)) if rows else "None through Bab el-Mandeb."


def _monthly_table(daily: pd.DataFrame) -> str:
    frame = daily.assign(month=pd.to_datetime(daily["date"]).dt.strftime("%Y-%m"))
    monthly = frame.groupby("month").agg(
        event_probability=("event_probability", "max"),
        transit_change_pct=("transit_change_pct", "min"),
        rate_change_pct=("rate_change_pct", "max"),
        high=("high", "max"), critical=("critical", "max"),
        severe_reroutes=("severe_reroutes", "max"), created=("created", "sum"),
    ).reset_index()
    return _table(monthly)


def _scores_table(scores: list[dict]) -> str:
    if not scores:
        return "No outcome windows closed within the period."
    return _table(pd.DataFrame(scores))


def summary_json(result: BacktestResult) -> str:
    return json.dumps({
        "drop_day": str(result.drop_day),
        "first_reroute_day": str(result.first_reroute_day),
        "lead_time_days": result.lead_time_days,
        "quiet_severe_reroutes": result.quiet_severe_reroutes,
    })
