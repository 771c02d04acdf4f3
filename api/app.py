"""FastAPI application for the ops API."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api import webhooks
from engine import health

log = logging.getLogger(__name__)


def create_app() -> FastAPI:
    app = FastAPI(title="RISKCAST ops API", version="1.0")
    app.include_router(webhooks.router)

    @app.get("/live")
    def live() -> dict:
        """The process is up and can serve requests."""
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> JSONResponse:
        """The database answers and its schema is at the latest migration."""
        database = health.database_check()
        if database["state"] != "ok":
            return JSONResponse({"status": "not ready", "database": database}, status_code=503)
        at_head, current, head = health.schema_at_head()
        if not at_head:
            return JSONResponse(
                {"status": "not ready",
                 "detail": f"schema at {current}, expected {head}: run alembic upgrade head"},
                status_code=503,
            )
        redis_state = health.redis_check()
        status = "ready" if redis_state["state"] == "ok" else "ready (degraded)"
        return JSONResponse({"status": status, "database": database, "redis": redis_state})

    @app.get("/health")
    def full() -> JSONResponse:
        """Every dependency with its state and latency, and an overall status."""
        checks = health.full_health()
        code = 503 if checks["status"] == "down" else 200
        return JSONResponse(checks, status_code=code)

    return app


app = create_app()
