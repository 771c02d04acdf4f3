"""Load the open book: shipments that can meet a disruption within the horizon."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import case, func, null, or_, select
from sqlalchemy.orm import Session

from engine.geography import LANES
from engine.models import Customer, Shipment
from engine.storage import is_postgres

HORIZON = timedelta(days=30)
LOAD_BATCH = 20_000
# Shipments drafted together. Parts bound the tick's memory on a large book
# and cost little time: every step inside a part is vectorised.
PART_SHIPMENTS = 5_000
SHIPMENT_COLUMNS = [
    "id", "customer_id", "lane", "origin_port", "destination_port", "route", "value",
    "feu", "etd", "eta", "status", "tolerance",
]


def _open_book(as_of: datetime, horizon: timedelta, through: set[str] | None) -> list:
    """Return the conditions that pick the open shipments of ``load_open_shipments``."""
    conditions = [
        Shipment.status.in_(("BOOKED", "IN_TRANSIT")),
        Shipment.eta > as_of,
        Shipment.etd < as_of + horizon,
    ]
    if through is not None:
        passing = sorted(lane.id for lane in LANES.values() if set(lane.path) & through)
        conditions.append(
            or_(Shipment.lane.in_(passing), Shipment.lane.not_in(sorted(LANES)))
        )
    return conditions


def customer_parts(session: Session, as_of: datetime, horizon: timedelta = HORIZON,
                   through: set[str] | None = None,
                   size: int | None = None) -> list[tuple[str, str]]:
    """Split the open book into ranges of customer ids of about ``size`` shipments each.

    A customer's shipments always fall in one range, so each range can be
    drafted on its own: decisions are per customer and event.
    """
    size = size or PART_SHIPMENTS
    counts = session.execute(
        select(Shipment.customer_id, func.count())
        .where(*_open_book(as_of, horizon, through))
        .group_by(Shipment.customer_id)
        .order_by(Shipment.customer_id)
    ).all()
    parts: list[tuple[str, str]] = []
    first, total = None, 0
    for customer_id, count in counts:
        first = customer_id if first is None else first
        total += count
        if total >= size:
            parts.append((first, customer_id))
            first, total = None, 0
    if first is not None:
        parts.append((first, counts[-1][0]))
    return parts


def load_open_shipments(session: Session, as_of: datetime, horizon: timedelta = HORIZON,
                        through: set[str] | None = None,
                        customers: tuple[str, str] | None = None) -> pd.DataFrame:
    """Load the booked and sailing shipments that can reach a chokepoint within ``horizon``.

    ``through`` keeps only shipments whose route may pass one of those
    chokepoints: lanes from the geography whose full path avoids them all
    are left in the database, and shipments on other lanes always load.
    ``customers`` keeps the customer ids from the first to the second, both
    included (see ``customer_parts``).
    """
    # A lane from the geography fixes the route, so only shipments on other
    # lanes need their stored route parsed.
    stored_route = case((Shipment.lane.in_(sorted(LANES)), null()), else_=Shipment.route)
    statement = (
        select(
            Shipment.id, Shipment.customer_id, Shipment.lane, Shipment.origin_port,
            Shipment.destination_port, stored_route, Shipment.cargo_value_usd,
            Shipment.container_count, Shipment.etd, Shipment.eta, Shipment.status,
            Customer.risk_tolerance,
        )
        .join(Customer, Customer.id == Shipment.customer_id)
        .where(*_open_book(as_of, horizon, through))
    )
    if customers is not None:
        statement = statement.where(Shipment.customer_id.between(*customers))
    if is_postgres(session):
        return _copy_out(session, statement)
    statement = statement.execution_options(yield_per=LOAD_BATCH)
    # Rows arrive in batches from one server-side cursor and become columns
    # at once, so a large book never sits in memory as Python row objects.
    parts = [_frame(rows) for rows in session.execute(statement).partitions()]
    return pd.concat(parts, ignore_index=True) if parts else _frame([])


def _frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=SHIPMENT_COLUMNS)
    frame["route"] = [tuple(r) if r else () for r in frame["route"].tolist()]
    for column in ("etd", "eta"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["value"] = frame["value"].astype(float)
    frame["feu"] = frame["feu"].astype(float)
    return frame


def _copy_out(session: Session, statement) -> pd.DataFrame:
    """Read the book with ``COPY ... TO STDOUT`` and pandas' CSV parser.

    On a book of 100,000 shipments this takes a fraction of the time that
    building the frame from row objects does, and no Python object exists
    per row until pandas makes the string columns.
    """
    compiled = statement.compile(dialect=session.get_bind().dialect,
                                 compile_kwargs={"render_postcompile": True})
    connection = session.connection().connection.driver_connection
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)",
                         compiled.params) as copy:
            for block in copy:
                buffer.write(block)
    buffer.seek(0)
    text_columns = {c: str for c in ("id", "customer_id", "lane", "origin_port",
                                     "destination_port", "route", "status", "tolerance")}
    frame = pd.read_csv(buffer, names=SHIPMENT_COLUMNS, header=None, dtype=text_columns,
                        keep_default_na=False, na_values={"route": [""]})
    routes = {text: tuple(json.loads(text)) for text in frame["route"].dropna().unique()}
    frame["route"] = [routes.get(r, ()) if isinstance(r, str) else () for r in frame["route"]]
    for column in ("etd", "eta"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame["value"] = frame["value"].astype(float)
    frame["feu"] = frame["feu"].astype(float)
    return frame
