"""Circuit breaker states, and resetting one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.mutations import Outcome, execute, idempotency_key_header
from api.problems import Problem
from api.responses import MUTATION_PROBLEMS, problems
from api.schemas import CircuitResetResponse, CircuitsResponse
from api.security import enforce_rate_limit
from engine import breakers
from engine.apikeys import Principal

router = APIRouter(tags=["circuits"])


# Unset fields are left out, so that opened_at appears only when the breaker records it.
@router.get("/circuits", response_model=CircuitsResponse, response_model_exclude_unset=True)
def list_circuits() -> dict:
    """Return every circuit breaker with its state, failure count and thresholds."""
    return {"circuit_breakers": breakers.snapshot()}


@router.post(
    "/circuits/{name}/reset", response_model=CircuitResetResponse,
    responses={**MUTATION_PROBLEMS, **problems(404)},
    dependencies=[Depends(idempotency_key_header)],
)
def reset_circuit(
    request: Request,
    name: str = Path(max_length=64, description="A circuit name, for example `polymarket`."),
    principal: Principal = Depends(enforce_rate_limit),
) -> Response:
    """Close the named circuit and clear its failure count."""

    def perform(_session: Session) -> Outcome:
        try:
            before = breakers.snapshot().get(name)
            after = breakers.reset(name)
        except breakers.UnknownBreakerError as exc:
            raise Problem(404, "Unknown circuit", str(exc), slug="unknown-circuit") from None
        previous = str(before["state"]) if before else "unknown"
        return Outcome(
            {"name": name, "previous_state": previous, "circuit": after},
            audit={"previous_state": previous, "state": after["state"]},
        )

    return execute(request, principal, "circuit.reset", f"circuit:{name}", perform)
