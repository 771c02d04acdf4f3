"""Prometheus metrics of every RISKCAST process on this host."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from engine import metrics_export

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics", response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                     "description": "Prometheus text exposition format."}},
)
def prometheus_metrics() -> Response:
    """Counters and histograms summed over processes, and gauges refreshed now."""
    metrics_export.refresh_shared_gauges()
    body, content_type = metrics_export.render()
    return Response(body, media_type=content_type)
