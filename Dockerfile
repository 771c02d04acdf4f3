# One image for the worker, the ops API and the dashboard.
FROM python:3.11-slim AS build
WORKDIR /app
COPY requirements.txt .
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 riskcast
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=riskcast:riskcast . .
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1
USER riskcast
EXPOSE 8000 8501
HEALTHCHECK --interval=15s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/live', timeout=2)" || exit 1
CMD ["python", "-m", "api"]
