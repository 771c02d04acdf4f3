"""Liveness, readiness and the full health report."""

from __future__ import annotations

import functools

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.problems import Problem
from api.responses import problems
from api.schemas import HealthResponse, LiveResponse, ReadyResponse
from engine import health, liveness
from engine.db import current_revision, get_engine, head_revision

router = APIRouter(tags=["probes"])


@functools.lru_cache(maxsize=1)
def _head_revision() -> str:
    # The migration scripts of a running process never change; parse them once.
    return head_revision()


@router.get("/live", response_model=LiveResponse, responses=problems(503))
async def live() -> dict:
    # Async: the checks are in-process and cheap, so the probe skips the threadpool.
    """Report whether the process can serve requests (no dependency is checked)."""
    failed = liveness.failing()
    if failed:
        raise Problem(503, "Not live", f"liveness checks failed: {', '.join(failed)}",
                      slug="not-live", failed=failed)
    return {"status": "ok"}


@router.get("/ready", response_model=ReadyResponse, responses=problems(503))
def ready() -> dict:
    """Check that the database responds and its schema is at the latest migration.

    Redis down leaves the API ready, reported as "ready (degraded)".
    """
    database = health.database_check()
    if database["state"] != "ok":
        raise Problem(503, "Not ready",
                      f"the database does not answer: {database.get('error', 'unknown error')}",
                      slug="not-ready", database=database)
    current, head = current_revision(get_engine()), _head_revision()
    if current != head:
        raise Problem(503, "Not ready",
                      f"the schema is at revision {current}, expected {head}: "
                      "run `alembic upgrade head`",
                      slug="not-ready", database=database)
    redis_state = health.redis_check()
    status = "ready" if redis_state["state"] == "ok" else "ready (degraded)"
    return {"status": status, "database": database, "redis": redis_state}


@router.get(
    "/health", response_model=HealthResponse,
    responses={503: {"model": HealthResponse,
                     "description": "The database is down; the body is the same report."}},
)
async def full_health() -> JSONResponse:
    """Report every dependency with its state and latency, and an overall ok, degraded or down."""
    report = await run_in_threadpool(health.cached_full_health)
    return JSONResponse(report, status_code=503 if report["status"] == "down" else 200)
