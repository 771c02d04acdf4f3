#!/usr/bin/env bash
# Set up and run RISKCAST on this machine: worker, ops API and dashboard.
# Stops everything on Ctrl-C. Configuration comes from the environment
# (see README.md); with nothing set it runs on SQLite and replayed data.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt

"$VENV/bin/alembic" upgrade head
"$VENV/bin/python" -m engine.book

pids=()
stop() {
    trap - INT TERM EXIT
    echo "stopping RISKCAST..."
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

"$VENV/bin/python" -m scheduler --no-migrate &
pids+=($!)
"$VENV/bin/python" -m api &
pids+=($!)
DASHBOARD_METRICS_URL="${DASHBOARD_METRICS_URL:-http://localhost:${PORT:-8000}/metrics}" \
    "$VENV/bin/streamlit" run app.py --server.port "${DASHBOARD_PORT:-8501}" &
pids+=($!)

echo "RISKCAST is running: dashboard http://localhost:${DASHBOARD_PORT:-8501}," \
     "ops API http://localhost:${PORT:-8000}/health. Press Ctrl-C to stop."
wait -n "${pids[@]}"
