"""SQLAlchemy models, one module per area; importing this registers every table."""

from engine.models.alerts import Alert, ConversationWindow, InboundMessage, MessageEvent
from engine.models.base import Base
from engine.models.book import Customer, Shipment
from engine.models.decisions import Decision, SourceForecast
from engine.models.ops import (
    ApiKey,
    AuditEntry,
    CircuitEvent,
    JobPeriod,
    PipelineRun,
    ReplayState,
    WorkerHeartbeat,
)
from engine.models.sources import (
    RealityObservation,
    Reconciliation,
    Signal,
    SourceStatus,
    VesselSighting,
)

__all__ = [
    "Alert",
    "ApiKey",
    "AuditEntry",
    "Base",
    "CircuitEvent",
    "ConversationWindow",
    "Customer",
    "Decision",
    "JobPeriod",
    "InboundMessage",
    "MessageEvent",
    "PipelineRun",
    "RealityObservation",
    "Reconciliation",
    "ReplayState",
    "Shipment",
    "Signal",
    "SourceForecast",
    "SourceStatus",
    "VesselSighting",
    "WorkerHeartbeat",
]
