"""Request and response bodies, as they appear in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ProblemDetail(BaseModel):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


class Open(BaseModel):
    """A body that may carry more fields than the ones listed."""

    model_config = ConfigDict(extra="allow")


class LiveResponse(BaseModel):
    status: Literal["ok"]


class ReadyResponse(Open):
    status: Literal["ready", "ready (degraded)"]
    database: dict
    redis: dict


class HealthResponse(Open):
    status: Literal["ok", "degraded", "down"]
    database: dict
    redis: dict
    circuits: dict
    worker: dict | None = None
    last_tick: dict | None = None
    sources: dict | None = None
    alert_queue_depth: int | None = None


class CircuitState(Open):
    state: str
    failure_count: int
    fail_max: int
    reset_timeout: float
    opened_at: str | float | None = None


class CircuitsResponse(BaseModel):
    circuit_breakers: dict[str, CircuitState]


class CircuitResetResponse(BaseModel):
    name: str
    previous_state: str
    circuit: CircuitState


# Customer ids are free text, but never contain control characters (which
# PostgreSQL text columns reject).
CUSTOMER_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class GenerateRequest(BaseModel):
    """The customer whose decisions to regenerate; every customer when omitted."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str | None = Field(None, min_length=1, max_length=64,
                                    pattern=CUSTOMER_ID_PATTERN)


class DecisionOut(BaseModel):
    id: int
    customer_id: str
    event_key: str
    chokepoint: str
    version: int
    status: str
    severity: str
    recommended_action: str
    exposure_usd: float
    expected_loss_usd: float
    action_cost_usd: float
    net_benefit_usd: float
    probability: float
    confidence: float
    shipment_count: int
    deadline: datetime | None
    expires_at: datetime
    as_of: datetime
    created_at: datetime
    answers: dict


class GenerateResponse(BaseModel):
    customer_id: str | None
    total: int = Field(description="Active decisions in scope after generation.")
    returned: int = Field(description="Decisions in this response (at most `limit`).")
    decisions: list[DecisionOut]


class CleanupResponse(BaseModel):
    as_of: datetime
    removed: int
    exposure_usd: float
    decision_ids: list[int] = Field(description="The first 100 ids removed.")


class SourceHealth(Open):
    status: str
    last_success_at: str | None = None
    newest_data_at: str | None = None
    seconds_since_success: float | None = None
    circuit: str | None = None


class SourcesHealthResponse(BaseModel):
    status: Literal["ok", "degraded", "down"] = Field(
        description="down when every source of this stage is failing or has no data."
    )
    sources: dict[str, SourceHealth]
