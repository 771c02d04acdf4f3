#!/usr/bin/env bash
# Set up a virtual environment with the test tools and run the test suite
# against the PostgreSQL and Redis servers named by TEST_POSTGRES_URL and
# TEST_REDIS_URL (defaults: the local servers). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt

exec "$VENV/bin/python" -m pytest "$@"
