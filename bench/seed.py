"""Bulk-load benchmark rows with PostgreSQL COPY, so setup stays fast at a million rows."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg

from engine.alerting.keys import reference_for

from engine.geography import LANES

RED_SEA_CHOKEPOINT = "bab_el_mandeb"
TOLERANCES = ("LOW", "MEDIUM", "MEDIUM", "HIGH")
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
TIMEZONES = ("Europe/Berlin", "Asia/Shanghai", "America/New_York", "Asia/Singapore")

CUSTOMER_COLUMNS = (
    "id", "name", "whatsapp_number", "timezone", "risk_tolerance", "min_severity",
    "quiet_hours_start", "quiet_hours_end", "critical_breaks_quiet", "daily_alert_cap",
    "created_at",
)
SHIPMENT_COLUMNS = (
    "id", "customer_id", "origin_port", "destination_port", "lane", "route",
    "cargo_value_usd", "container_count", "etd", "eta", "status", "carrier", "vessel",
    "created_at",
)


def customer_id(index: int) -> str:
    return f"BENCH-{index:07d}"


def copy_customers(connection: psycopg.Connection, count: int, seed: int = 7) -> None:
    """COPY ``count`` customers with min_severity LOW, so every decision queues an alert."""
    rng = np.random.default_rng(seed)
    tolerances = rng.integers(0, len(TOLERANCES), count)
    zones = rng.integers(0, len(TIMEZONES), count)
    now = datetime.now(timezone.utc)
    columns = ", ".join(CUSTOMER_COLUMNS)
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY customers ({columns}) FROM STDIN") as copy:
            for index in range(count):
                # +44 7700 900xxx is Ofcom's range for fiction: no real phone receives these.
                copy.write_row((
                    customer_id(index), f"Bench customer {index}",
                    f"+447700900{index % 1000:03d}", TIMEZONES[zones[index]],
                    TOLERANCES[tolerances[index]], "LOW", None, None, True, 1000, now,
                ))
    connection.commit()


@functools.lru_cache(maxsize=None)
def _red_sea_progress(lane_id: str, origin: str, destination: str) -> float:
    """Share of the voyage at which a shipment on this lane reaches Bab el-Mandeb."""
    from engine.decisions.routes import plan_route

    for leg in plan_route(lane_id, origin, destination).legs:
        if leg.chokepoint == RED_SEA_CHOKEPOINT:
            return leg.progress
    raise ValueError(f"lane {lane_id} from {origin} to {destination} avoids {RED_SEA_CHOKEPOINT}")


def copy_shipments(connection: psycopg.Connection, count: int, customers: int,
                   as_of: datetime, affected_share: float = 0.4, seed: int = 11) -> int:
    """COPY ``count`` open shipments spread evenly over ``customers``.

    A share ``affected_share`` sails lanes through Bab el-Mandeb and reaches it
    1 to 28 days after ``as_of`` (inside the decision horizon). The rest sail
    lanes that avoid the Red Sea. Returns how many go through Bab el-Mandeb.
    """
    rng = np.random.default_rng(seed)
    red_sea = [lane for lane in LANES.values() if RED_SEA_CHOKEPOINT in lane.route]
    elsewhere = [lane for lane in LANES.values() if RED_SEA_CHOKEPOINT not in lane.route]
    through = rng.random(count) < affected_share
    lane_pick = rng.integers(0, 1 << 30, count)
    days = rng.uniform(1.0, 28.0, count)
    containers = rng.integers(1, 25, count)
    unit_value = rng.uniform(30_000, 120_000, count)
    now = datetime.now(timezone.utc)
    columns = ", ".join(SHIPMENT_COLUMNS)
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY shipments ({columns}) FROM STDIN") as copy:
            for index in range(count):
                pool = red_sea if through[index] else elsewhere
                lane = pool[lane_pick[index] % len(pool)]
                origin = lane.origins[index % len(lane.origins)]
                destination = lane.destinations[index % len(lane.destinations)]
                if through[index]:
                    # Place the Bab el-Mandeb passage ``days`` after as_of.
                    progress = _red_sea_progress(lane.id, origin, destination)
                    etd = as_of + timedelta(days=days[index] - lane.transit_days * progress)
                else:
                    etd = as_of + timedelta(days=days[index] - 8.0)
                copy.write_row((
                    f"BENCH-S{index:08d}", customer_id(index % customers),
                    origin, destination,
                    lane.id, json.dumps(list(lane.route)),
                    round(float(containers[index] * unit_value[index]), 2),
                    int(containers[index]), etd, etd + timedelta(days=lane.transit_days),
                    "BOOKED", "Bench Line", None, now,
                ))
    connection.commit()
    return int(through.sum())


ALERT_COLUMNS = (
    "decision_id", "decision_version", "customer_id", "recipient", "kind", "urgency",
    "status", "attempts", "next_attempt_at", "idempotency_key", "reference", "body",
    "simulated", "created_at", "updated_at",
)


def copy_pending_alerts(connection: psycopg.Connection, count: int, customers: int) -> None:
    """COPY ``count`` PENDING alerts that are due now, each with its own idempotency key and body."""
    now = datetime.now(timezone.utc)
    due = now - timedelta(minutes=1)
    columns = ", ".join(ALERT_COLUMNS)
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY alerts ({columns}) FROM STDIN") as copy:
            for index in range(count):
                customer = index % customers
                recipient = f"+447700900{customer % 1000:03d}"
                key = f"bench:{index}:v1:{recipient}"
                copy.write_row((
                    None, 1, customer_id(customer), recipient, "DECISION", "urgent",
                    "PENDING", 0, due, key, reference_for(key),
                    f"RISKCAST bench alert {index}: Bab-el-Mandeb Strait (HIGH)", False,
                    now, now,
                ))
        # Each recipient wrote in recently, so free text may go out inside
        # WhatsApp's 24-hour window without an approved template.
        cursor.executemany(
            "INSERT INTO conversation_windows (recipient, last_inbound_at) VALUES (%s, %s) "
            "ON CONFLICT (recipient) DO UPDATE SET last_inbound_at = EXCLUDED.last_inbound_at",
            [(f"+447700900{c % 1000:03d}", now) for c in range(min(customers, 1000))],
        )
    connection.commit()
