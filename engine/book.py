"""The demo book: customers and shipments generated from real ports and lanes.

Customer data is never public, so the demo book is generated with a fixed
seed. Ports come from the World Port Index and lanes from ``engine.geography``;
each shipment's route is the chokepoint sequence its lane and ports give.
Sailings spread from December 2022 to April 2024, so every day of the
bundled replay (and of the backtest from January 2023) has open shipments.
A container is one FEU. WhatsApp numbers use the +44 7700 900xxx range that
Ofcom reserves for fiction, so no real phone can receive a demo alert.
"""

from __future__ import annotations

import argparse
import logging
import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from engine.decisions.routes import plan_route
from engine.geography import LANES, ports
from engine.models import Customer, Shipment
from engine.storage import insert_ignore

log = logging.getLogger(__name__)

DEFAULT_SEED = 20231219
DEFAULT_CUSTOMERS = 40
FIRST_SAILING = datetime(2022, 12, 1, tzinfo=timezone.utc)
LAST_SAILING = datetime(2024, 4, 30, tzinfo=timezone.utc)

_NAME_PARTS = (
    ("Baltic", "Harbour", "Lindqvist", "Meridian", "Northwind", "Pacific", "Rhein",
     "Sakura", "Sierra", "Tasman", "Vistula", "Zephyr", "Orion", "Kestrel", "Aurora"),
    ("Home Goods", "Electronics", "Apparel", "Auto Parts", "Furniture", "Foods",
     "Chemicals", "Toys", "Retail", "Machinery", "Outdoor", "Pharma Supplies"),
)
_TIMEZONES = ("Europe/Berlin", "Europe/London", "Europe/Amsterdam",
              "Asia/Shanghai", "Asia/Singapore", "America/New_York", "Asia/Dubai", "Asia/Kolkata")
_CARRIERS = ("Maersk", "MSC", "CMA CGM", "COSCO", "Hapag-Lloyd", "ONE", "Evergreen")
_TOLERANCES = ("LOW", "MEDIUM", "MEDIUM", "HIGH")


def generate(seed: int = DEFAULT_SEED, customers: int = DEFAULT_CUSTOMERS,
             sailings_per_customer: int = 40) -> tuple[list[dict], list[dict]]:
    """Return customer and shipment rows; the same seed gives the same book."""
    rng = random.Random(seed)
    known_ports = ports()
    lanes = list(LANES.values())
    customer_rows: list[dict] = []
    shipment_rows: list[dict] = []
    span_days = (LAST_SAILING - FIRST_SAILING).days

    for index in range(1, customers + 1):
        customer_id = f"CUST-{index:04d}"
        name = f"{rng.choice(_NAME_PARTS[0])} {rng.choice(_NAME_PARTS[1])}"
        quiet = rng.random() < 0.5
        customer_rows.append(
            {
                "id": customer_id,
                "name": name,
                "whatsapp_number": f"+447700900{index % 1000:03d}",
                "timezone": rng.choice(_TIMEZONES),
                "risk_tolerance": rng.choice(_TOLERANCES),
                "min_severity": rng.choice(("LOW", "MEDIUM", "MEDIUM", "HIGH")),
                "quiet_hours_start": 22 if quiet else None,
                "quiet_hours_end": 7 if quiet else None,
                "critical_breaks_quiet": True,
                "daily_alert_cap": 20,
            }
        )
        customer_lanes = rng.sample(lanes, k=rng.randint(1, 3))
        for number in range(1, sailings_per_customer + 1):
            lane = rng.choice(customer_lanes)
            origin = rng.choice([p for p in lane.origins if p in known_ports])
            destination = rng.choice([p for p in lane.destinations if p in known_ports])
            etd = FIRST_SAILING + timedelta(
                days=rng.uniform(0, span_days), hours=rng.choice((6, 12, 18))
            )
            transit = lane.transit_days + rng.randint(-2, 3)
            containers = rng.randint(1, 24)
            shipment_rows.append(
                {
                    "id": f"{customer_id}-S{number:03d}",
                    "customer_id": customer_id,
                    "origin_port": origin,
                    "destination_port": destination,
                    "lane": lane.id,
                    "route": list(plan_route(lane.id, origin, destination).chokepoints),
                    "cargo_value_usd": round(containers * rng.uniform(30_000, 120_000), 2),
                    "container_count": containers,
                    "etd": etd,
                    "eta": etd + timedelta(days=transit),
                    "status": "BOOKED",
                    "carrier": rng.choice(_CARRIERS),
                    "vessel": None,
                }
            )
    return customer_rows, shipment_rows


def load_demo_book(session: Session, seed: int = DEFAULT_SEED,
                   customers: int = DEFAULT_CUSTOMERS) -> tuple[int, int]:
    """Insert the demo book; rows that already exist are left untouched."""
    customer_rows, shipment_rows = generate(seed, customers)
    added_customers = insert_ignore(session, Customer.__table__, customer_rows, ["id"])
    added_shipments = insert_ignore(session, Shipment.__table__, shipment_rows, ["id"])
    return added_customers, added_shipments


def refresh_statuses(session: Session, now: datetime) -> None:
    """Set BOOKED, IN_TRANSIT or DELIVERED from ETD and ETA at domain time ``now``."""
    status = case(
        (Shipment.etd > now, "BOOKED"),
        (Shipment.eta > now, "IN_TRANSIT"),
        else_="DELIVERED",
    )
    # One pass over the book that rewrites only the shipments whose status changes.
    session.execute(
        update(Shipment)
        .where(Shipment.status.in_(("BOOKED", "IN_TRANSIT", "DELIVERED")),
               Shipment.status != status)
        .values(status=status)
        # No loaded shipment needs refreshing, so skip the ORM's RETURNING of
        # every updated id.
        .execution_options(synchronize_session=False)
    )


def book_size(session: Session) -> tuple[int, int]:
    customers = session.scalar(select(func.count()).select_from(Customer)) or 0
    shipments = session.scalar(select(func.count()).select_from(Shipment)) or 0
    return customers, shipments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load the demo book of customers and shipments.")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                        help="number of customers (default %(default)s)")
    args = parser.parse_args(argv)

    from engine.db import session_scope
    from engine.logs import configure_logging

    configure_logging()
    with session_scope() as session:
        added = load_demo_book(session, args.seed, args.customers)
        total = book_size(session)
    print(f"demo book: {added[0]} customers and {added[1]} shipments added; "
          f"{total[0]} customers and {total[1]} shipments in total")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
