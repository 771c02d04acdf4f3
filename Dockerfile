# One image for the worker, the ops API and the dashboard; the command picks the role:
#   python -m api                      ops API on PORT (8000), the default
#   python -m scheduler                worker, probes on WORKER_HEALTH_PORT (8001)
#   streamlit run app.py               dashboard on 8501
#   alembic upgrade head               migrations (the Kubernetes Job and compose "migrate")
# HEALTHCHECK_URL names the probe the health check calls, so each role sets its own.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --requirement /tmp/requirements.txt

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 riskcast \
    && useradd --system --uid 10001 --gid riskcast --create-home --home-dir /home/riskcast \
       --shell /usr/sbin/nologin riskcast
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code stays owned by root, so the running process cannot change it; only
# data/ (the SQLite default) is writable.
COPY . .
RUN mkdir -p /app/data && chown riskcast:riskcast /app/data
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEALTHCHECK_URL=http://127.0.0.1:8000/live
USER 10001:10001
EXPOSE 8000 8001 8501
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$HEALTHCHECK_URL"
CMD ["python", "-m", "api"]
