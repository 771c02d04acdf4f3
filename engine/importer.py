"""Load customers and shipments from CSV, row by row.

Every row is checked on its own. A bad row is rejected with its row number
(the header is row 1), the column and the reason. The good rows are stored in
one transaction, inserted when the id is new and updated when it exists.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine import audit
from engine.decisions.severity import SEVERITIES
from engine.geography import LANES
from engine.models import Customer, Shipment
from engine.models.base import utcnow

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
TOLERANCES = ("LOW", "MEDIUM", "HIGH")
SHIPMENT_STATUSES = ("BOOKED", "IN_TRANSIT", "DELIVERED", "CANCELLED")
TRUE_WORDS = {"true", "yes", "1", "y"}
FALSE_WORDS = {"false", "no", "0", "n"}


class ImportFileError(ValueError):
    """Raised when a whole file cannot be read: wrong encoding, size or header."""


@dataclass
class RowError:
    row: int
    column: str
    value: str
    reason: str


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated

    def summary(self) -> dict:
        return {"rows": self.rows, "inserted": self.inserted, "updated": self.updated,
                "rejected": self.rejected}


class _Row:
    """One CSV record being validated; collects errors instead of raising."""

    def __init__(self, number: int, values: dict[str, str], errors: list[RowError]) -> None:
        self.number = number
        self.values = values
        self.errors = errors
        self.ok = True

    def fail(self, column: str, reason: str) -> None:
        self.ok = False
        self.errors.append(RowError(self.number, column, self.values.get(column, ""), reason))

    def text(self, column: str, required: bool = False, max_length: int = 200) -> str | None:
        value = (self.values.get(column) or "").strip()
        if not value:
            if required:
                self.fail(column, "is required")
            return None
        if len(value) > max_length:
            self.fail(column, f"is longer than {max_length} characters")
            return None
        return value

    def choice(self, column: str, choices: tuple[str, ...], default: str) -> str:
        value = (self.values.get(column) or "").strip().upper()
        if not value:
            return default
        if value not in choices:
            self.fail(column, f"must be one of {', '.join(choices)}")
            return default
        return value

    def integer(self, column: str, low: int, high: int, default: int | None,
                required: bool = False) -> int | None:
        value = (self.values.get(column) or "").strip()
        if not value:
            if required:
                self.fail(column, "is required")
            return default
        try:
            number = int(value)
        except ValueError:
            self.fail(column, "must be a whole number")
            return default
        if not low <= number <= high:
            self.fail(column, f"must be between {low} and {high}")
            return default
        return number

    def decimal(self, column: str, low: float, high: float) -> float | None:
        value = (self.values.get(column) or "").strip().replace(",", "")
        if not value:
            self.fail(column, "is required")
            return None
        try:
            number = float(value)
        except ValueError:
            self.fail(column, "must be a number such as 125000.50")
            return None
        if not low < number <= high:
            self.fail(column, f"must be more than {low:g} and at most {high:g}")
            return None
        return number

    def boolean(self, column: str, default: bool) -> bool:
        value = (self.values.get(column) or "").strip().lower()
        if not value:
            return default
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        self.fail(column, "must be true or false")
        return default

    def moment(self, column: str) -> datetime | None:
        value = (self.values.get(column) or "").strip()
        if not value:
            self.fail(column, "is required")
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(column, "must be an ISO 8601 date or time such as 2024-01-31T18:00")
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


CUSTOMER_COLUMNS = (
    "id", "name", "whatsapp_number", "timezone", "risk_tolerance", "min_severity",
    "quiet_hours_start", "quiet_hours_end", "critical_breaks_quiet", "daily_alert_cap",
)
CUSTOMER_REQUIRED = ("id", "name", "whatsapp_number")
SHIPMENT_COLUMNS = (
    "id", "customer_id", "origin_port", "destination_port", "lane", "cargo_value_usd",
    "container_count", "etd", "eta", "status", "carrier", "vessel",
)
SHIPMENT_REQUIRED = ("id", "customer_id", "origin_port", "destination_port", "lane",
                     "cargo_value_usd", "container_count", "etd", "eta")


def _customer(row: _Row) -> dict | None:
    number = row.text("whatsapp_number", required=True, max_length=32)
    if number is not None and not E164.match(number):
        row.fail("whatsapp_number", "must be an E.164 number such as +447700900123")
    zone = row.text("timezone", max_length=64) or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        row.fail("timezone", "is not an IANA time zone such as Europe/Berlin")
    start = row.integer("quiet_hours_start", 0, 23, None)
    end = row.integer("quiet_hours_end", 0, 23, None)
    if (start is None) != (end is None):
        row.fail("quiet_hours_end" if end is None else "quiet_hours_start",
                 "quiet hours need both a start and an end hour, or neither")
    values = {
        "id": row.text("id", required=True, max_length=64),
        "name": row.text("name", required=True, max_length=200),
        "whatsapp_number": number,
        "timezone": zone,
        "risk_tolerance": row.choice("risk_tolerance", TOLERANCES, "MEDIUM"),
        "min_severity": row.choice("min_severity", SEVERITIES, "MEDIUM"),
        "quiet_hours_start": start,
        "quiet_hours_end": end,
        "critical_breaks_quiet": row.boolean("critical_breaks_quiet", True),
        "daily_alert_cap": row.integer("daily_alert_cap", 0, 1000, 20),
    }
    return values if row.ok else None


def _shipment(row: _Row, known_customers: set[str]) -> dict | None:
    customer_id = row.text("customer_id", required=True, max_length=64)
    if customer_id is not None and customer_id not in known_customers:
        row.fail("customer_id", "is not a known customer; import the customer first")
    ports = {}
    for column in ("origin_port", "destination_port"):
        value = row.text(column, required=True, max_length=8)
        value = value.replace(" ", "").upper() if value else value
        if value is not None and not LOCODE.match(value):
            row.fail(column, "must be a UN/LOCODE such as CNSGH or NLRTM")
        ports[column] = value
    lane_id = (row.text("lane", required=True, max_length=32) or "").upper()
    lane = LANES.get(lane_id)
    if lane_id and lane is None:
        row.fail("lane", f"must be one of {', '.join(LANES)}")
    etd, eta = row.moment("etd"), row.moment("eta")
    if etd and eta and eta <= etd:
        row.fail("eta", "must be later than etd")
    values = {
        "id": row.text("id", required=True, max_length=64),
        "customer_id": customer_id,
        "origin_port": ports["origin_port"],
        "destination_port": ports["destination_port"],
        "lane": lane_id,
        "route": list(lane.route) if lane else [],
        "cargo_value_usd": row.decimal("cargo_value_usd", 0, 1e10),
        "container_count": row.integer("container_count", 1, 10_000, None, required=True),
        "etd": etd,
        "eta": eta,
        "status": row.choice("status", SHIPMENT_STATUSES, "BOOKED"),
        "carrier": row.text("carrier", max_length=64),
        "vessel": row.text("vessel", max_length=128),
    }
    return values if row.ok else None


def _read(data: bytes, columns: tuple[str, ...], required: tuple[str, ...],
          report: ImportReport) -> list[tuple[int, dict[str, str]]]:
    if len(data) > MAX_BYTES:
        raise ImportFileError(
            f"the file has {len(data):,} bytes, more than the {MAX_BYTES:,} allowed; "
            "split it into smaller files"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"the file is not UTF-8 text (invalid byte at position {exc.start}); "
            "save it as 'CSV UTF-8' and upload it again"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise ImportFileError("the file is empty; download the template for the header row")
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportFileError(
            f"the header lacks required column(s) {', '.join(missing)}; "
            f"expected columns: {', '.join(columns)}"
        )
    report.ignored_columns = [c for c in header if c not in columns]
    records = []
    for index, values in enumerate(reader):
        if index >= MAX_ROWS:
            raise ImportFileError(
                f"the file has more than {MAX_ROWS:,} rows; split it into smaller files"
            )
        if values.get(None):
            report.errors.append(RowError(index + 2, "-", "", "has more cells than the header"))
            continue
        cleaned = {k: (v or "") for k, v in values.items() if k is not None}
        if not any(v.strip() for v in cleaned.values()):
            continue
        records.append((index + 2, cleaned))
    return records


def _upsert(session: Session, model, rows: list[dict]) -> tuple[int, int]:
    if not rows:
        return 0, 0
    ids = [r["id"] for r in rows]
    existing: set[str] = set()
    for start in range(0, len(ids), 1000):
        chunk_ids = ids[start:start + 1000]
        existing.update(session.scalars(select(model.id).where(model.id.in_(chunk_ids))))
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        statement = dialect.insert(model.__table__).values(chunk)
        updates = {c: statement.excluded[c] for c in chunk[0] if c != "id"}
        session.execute(statement.on_conflict_do_update(index_elements=["id"], set_=updates))
    updated = len(existing)
    return len(rows) - updated, updated


def _import(session: Session, data: bytes, kind: str, columns, required,
            validate: Callable[[_Row], dict | None], model, actor: str,
            filename: str | None) -> ImportReport:
    report = ImportReport(kind)
    records = _read(data, columns, required, report)
    report.rows = len(records) + report.rejected
    good: list[dict] = []
    first_seen: dict[str, int] = {}
    for number, values in records:
        row = _Row(number, values, report.errors)
        clean = validate(row)
        if clean is None:
            continue
        if clean["id"] in first_seen:
            row.fail("id", f"repeats the id of row {first_seen[clean['id']]}")
            continue
        first_seen[clean["id"]] = number
        clean["created_at"] = utcnow()
        good.append(clean)
    report.inserted, report.updated = _upsert(session, model, good)
    audit.record(session, actor, f"import.{kind}", filename or kind, report.summary())
    log.info("import of %s from %s by %s: %d rows, %d inserted, %d updated, %d rejected",
             kind, filename or "-", actor, report.rows, report.inserted, report.updated,
             report.rejected)
    return report


def import_customers(session: Session, data: bytes, actor: str,
                     filename: str | None = None) -> ImportReport:
    """Validate and store customers from CSV bytes; return the row-by-row report."""
    return _import(session, data, "customers", CUSTOMER_COLUMNS, CUSTOMER_REQUIRED,
                   _customer, Customer, actor, filename)


def import_shipments(session: Session, data: bytes, actor: str,
                     filename: str | None = None) -> ImportReport:
    """Validate and store shipments from CSV bytes; customers must already exist."""
    known = set(session.scalars(select(Customer.id)))
    return _import(session, data, "shipments", SHIPMENT_COLUMNS, SHIPMENT_REQUIRED,
                   lambda row: _shipment(row, known), Shipment, actor, filename)


_TEMPLATE_ROWS = {
    "customers": (CUSTOMER_COLUMNS, [
        "CUST-9001", "Example Home Goods", "+447700900901", "Europe/Berlin", "MEDIUM",
        "MEDIUM", "22", "7", "true", "20",
    ]),
    "shipments": (SHIPMENT_COLUMNS, [
        "CUST-9001-S001", "CUST-9001", "CNSGH", "NLRTM", "ASIA_NEUR", "480000", "6",
        "2024-01-10T12:00:00+00:00", "2024-02-11T12:00:00+00:00", "BOOKED", "Maersk", "",
    ]),
}


def template_csv(kind: str) -> bytes:
    """Build a CSV with the header and one example row, for ``customers`` or ``shipments``."""
    if kind not in _TEMPLATE_ROWS:
        raise ValueError(f"unknown import kind {kind!r}; use customers or shipments")
    columns, example = _TEMPLATE_ROWS[kind]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerow(example)
    return buffer.getvalue().encode("utf-8")
