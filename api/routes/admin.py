"""Maintenance: taking expired decisions out of the active book."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.mutations import Outcome, execute, idempotency_key_header
from api.responses import MUTATION_PROBLEMS
from api.schemas import CleanupResponse
from api.security import enforce_rate_limit
from engine.apikeys import Principal
from engine.clock import domain_now
from engine.decisions import lifecycle
from engine.settings import get_settings

router = APIRouter(prefix="/admin", tags=["maintenance"])


@router.post("/cleanup-expired", response_model=CleanupResponse, responses=MUTATION_PROBLEMS,
             dependencies=[Depends(idempotency_key_header)])
def cleanup_expired(
    request: Request, principal: Principal = Depends(enforce_rate_limit)
) -> Response:
    """Mark every decision past its expiry as expired; repeating it removes nothing more."""

    def perform(session: Session) -> Outcome:
        now = domain_now(session, get_settings())
        result = lifecycle.cleanup_expired(session, now)
        summary = result.as_dict()
        return Outcome(
            {"as_of": now.isoformat(), **summary},
            audit={"removed": result.removed, "exposure_usd": summary["exposure_usd"]},
        )

    return execute(request, principal, "decisions.cleanup_expired", "decisions", perform)
