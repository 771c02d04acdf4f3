"""The ops API's routers, one module per area."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import admin, circuits, decisions, metrics, probes, sources

ROUTERS: tuple[APIRouter, ...] = (
    probes.router,
    circuits.router,
    decisions.router,
    admin.router,
    sources.router,
    metrics.router,
)
