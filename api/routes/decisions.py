"""Regenerating decisions on request."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.mutations import Outcome, execute, idempotency_key_header
from api.problems import Problem
from api.responses import MUTATION_PROBLEMS, problems
from api.schemas import (
    CUSTOMER_ID_PATTERN,
    DecisionOut,
    GenerateRequest,
    GenerateResponse,
)
from api.security import enforce_rate_limit
from engine.apikeys import Principal
from engine.decisions import service
from engine.settings import get_settings

router = APIRouter(tags=["decisions"])

DEFAULT_LIMIT = 100
MAX_LIMIT = 5000


@router.post(
    "/decisions/generate", response_model=GenerateResponse,
    responses={**MUTATION_PROBLEMS, **problems(400, 404)},
    dependencies=[Depends(idempotency_key_header)],
)
def generate_decisions(
    request: Request,
    body: GenerateRequest | None = Body(None),
    customer_id: str | None = Query(
        None, min_length=1, max_length=64, pattern=CUSTOMER_ID_PATTERN,
        description="Regenerate for this customer only; the JSON body may name it instead.",
    ),
    limit: int = Query(
        DEFAULT_LIMIT, ge=1, le=MAX_LIMIT,
        description="Maximum number of decisions to return, highest expected loss first.",
    ),
    principal: Principal = Depends(enforce_rate_limit),
) -> Response:
    """Regenerate decisions now, for one customer or all, and return the active ones."""
    customer = _customer(body, customer_id)

    def perform(session: Session) -> Outcome:
        try:
            decisions = service.generate(session, get_settings(), customer_id=customer)
        except service.UnknownCustomerError as exc:
            raise Problem(404, "Unknown customer", str(exc),
                          slug="unknown-customer") from None
        returned = [DecisionOut.model_validate(d, from_attributes=True)
                    for d in decisions[:limit]]
        return Outcome(
            {"customer_id": customer, "total": len(decisions), "returned": len(returned),
             "decisions": [d.model_dump(mode="json") for d in returned]},
            audit={"active_decisions": len(decisions)},
        )

    target = f"customer:{customer}" if customer else "customers:all"
    return execute(request, principal, "decisions.generate", target, perform,
                   request_body=body.model_dump() if body else None)


def _customer(body: GenerateRequest | None, query_value: str | None) -> str | None:
    body_value = body.customer_id if body else None
    for value in (body_value, query_value):
        if value is not None and not _encodable(value):
            raise Problem(422, "Invalid customer id",
                          f"customer id {value!r} is not valid UTF-8 text", slug="invalid-request")
    if body_value and query_value and body_value != query_value:
        raise Problem(
            422, "Conflicting customer ids",
            f"the body names customer {body_value!r} and the query names {query_value!r}; "
            "send one of them",
            slug="invalid-request",
        )
    return body_value or query_value


def _encodable(value: str) -> bool:
    # JSON can carry unpaired surrogates, which no database text column accepts.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

