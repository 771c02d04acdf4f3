"""Builders for decision tests: events, shipment frames and stored books."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd

from engine.decisions.events import ChokepointEvent
from engine.decisions.routes import plan_route
from engine.models import Customer, Shipment

AS_OF = datetime(2023, 12, 20, tzinfo=timezone.utc)


def event(chokepoint: str = "bab_el_mandeb", probability: float = 0.9,
          premium: float = 1_500.0, category: str = "security",
          status: str = "CONFIRMED", as_of: datetime = AS_OF) -> ChokepointEvent:
    return ChokepointEvent(
        chokepoint=chokepoint, as_of=as_of, signal_probability=0.8,
        transit_change_pct=-30.0, rate_change_pct=150.0, rate_premium_usd_teu=premium,
        probability=probability, status=status, category=category,
        evidence={"signals": 0.8, "transits": 0.6, "rates": 0.6, "corroborated": True},
        signal_inputs=[{"id": 11, "source": "gdelt", "category": category,
                        "probability": 0.8, "observed_at": as_of.isoformat(),
                        "age_hours": 24.0, "title": "GDELT yemen", "url": None}],
        observation_inputs=[{"id": 21, "source": "portwatch", "metric": "transits_7d",
                             "value": 50.0, "baseline": 72.0, "change_pct": -30.0,
                             "observed_at": as_of.isoformat(), "age_hours": 0.0}],
    )


def shipment(id: str, customer: str = "C1", lane: str = "ASIA_NEUR",
             origin: str = "CNSGH", destination: str = "NLRTM",
             etd: datetime | None = None, days: float = 32.0, value: float = 1_000_000.0,
             feu: int = 10, tolerance: str = "MEDIUM", status: str = "BOOKED") -> dict:
    etd = etd or AS_OF + timedelta(days=2)
    route = plan_route(lane, origin, destination).chokepoints if lane else ()
    return {"id": id, "customer_id": customer, "lane": lane, "origin_port": origin,
            "destination_port": destination, "route": tuple(route), "value": value,
            "feu": float(feu), "etd": etd, "eta": etd + timedelta(days=days),
            "status": status, "tolerance": tolerance}


def frame(*rows: dict) -> pd.DataFrame:
    data = pd.DataFrame(list(rows))
    for column in ("etd", "eta"):
        data[column] = pd.to_datetime(data[column], utc=True)
    return data


def store_book(session, shipments: list[dict], tolerance: str = "MEDIUM",
               min_severity: str = "LOW") -> None:
    """Insert the customers and shipments of ``shipments`` rows."""
    for customer in sorted({s["customer_id"] for s in shipments}):
        session.add(Customer(id=customer, name=f"Customer {customer}",
                             whatsapp_number="+447700900001", timezone="Europe/London",
                             risk_tolerance=tolerance, min_severity=min_severity,
                             critical_breaks_quiet=True, daily_alert_cap=20))
    session.flush()
    for row in shipments:
        session.add(Shipment(id=row["id"], customer_id=row["customer_id"], lane=row["lane"],
                             origin_port=row["origin_port"],
                             destination_port=row["destination_port"],
                             route=list(row["route"]), cargo_value_usd=row["value"],
                             container_count=int(row["feu"]), etd=row["etd"],
                             eta=row["eta"], status=row["status"]))
    session.flush()
