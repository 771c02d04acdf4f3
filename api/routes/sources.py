"""Freshness of OMEN's signal sources and ORACLE's reality sources."""

from __future__ import annotations

from fastapi import APIRouter

from api.responses import problems
from api.schemas import SourcesHealthResponse
from engine import freshness
from engine.db import session_scope

router = APIRouter(tags=["sources"])


@router.get("/signals/health", response_model=SourcesHealthResponse, responses=problems(503))
def signals_health() -> dict:
    """Per signal source: last success, newest data, last error and its circuit."""
    with session_scope() as session:
        return freshness.signals_health(session)


@router.get("/oracle/health", response_model=SourcesHealthResponse, responses=problems(503))
def oracle_health() -> dict:
    """Per reality source: last success, newest data, last error and its circuit."""
    with session_scope() as session:
        return freshness.oracle_health(session)
