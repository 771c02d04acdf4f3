"""AIS position reports from three layouts, with "not available" values as missing.

- NOAA MarineCadastre CSV exports, in the legacy (``MMSI,BaseDateTime,LAT,LON``)
  and the 2024 ``csv2`` (``mmsi,base_date_time,longitude,latitude``) schemas;
  a bounding-box HTTP export answers in the same layout.
- aisstream-style WebSocket messages (``PositionReport``,
  ``StandardClassBPositionReport`` and ``ShipStaticData``).
- Raw ``!AIVDM`` NMEA 0183 sentences, decoded with pyais.

ITU-R M.1371 reserves latitude 91, longitude 181, speed 102.3 kn and heading
511 for "not available". A report without a usable position is rejected; a
missing speed, course or heading only leaves that field empty.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from pyais import NMEAMessage
from pyais.exceptions import AISBaseException

from engine.records import RejectedRecord

SOURCE = "ais"
LAT_NOT_AVAILABLE = 91.0
LON_NOT_AVAILABLE = 181.0
SPEED_NOT_AVAILABLE = 102.3
HEADING_NOT_AVAILABLE = 511
COURSE_NOT_AVAILABLE = 360.0
POSITION_TYPES = {1, 2, 3, 18, 19, 27}


@dataclass(frozen=True)
class Position:
    mmsi: int
    at: datetime
    lat: float
    lon: float
    speed: float | None = None
    course: float | None = None
    heading: int | None = None
    ship_type: int | None = None
    destination: str | None = None
    name: str | None = None


class PositionError(ValueError):
    """Raised when a report has no usable vessel id, time or position."""


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    number = float(value)
    return number if math.isfinite(number) else None


def _mmsi(value) -> int:
    try:
        number = _number(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number != int(number) or not 0 < number < 1_000_000_000:
        raise PositionError(f"MMSI {value!r} is not a 9-digit vessel id")
    return int(number)


def _coordinate(value, limit: float, missing: float, name: str) -> float:
    try:
        number = _number(value)
    except (TypeError, ValueError) as exc:
        raise PositionError(f"{name} {value!r} is not a number") from exc
    if number is None or abs(number - missing) < 1e-6:
        raise PositionError(f"{name} is not available")
    if not -limit <= number <= limit:
        raise PositionError(f"{name} {number} is outside ±{limit:g}")
    return number


def _optional(value, missing: float, upper: float) -> float | None:
    try:
        number = _number(value)
    except (TypeError, ValueError):
        return None
    if number is None or abs(number - missing) < 1e-6 or not 0 <= number < upper:
        return None
    return number


def build(mmsi, at: datetime, lat, lon, speed=None, course=None, heading=None,
          ship_type=None, destination=None, name=None) -> Position:
    """Validate one report's fields into a Position; raise PositionError when unusable."""
    heading_value = _optional(heading, HEADING_NOT_AVAILABLE, 360)
    type_value = _optional(ship_type, 0, 100)
    return Position(
        mmsi=_mmsi(mmsi),
        at=at,
        lat=_coordinate(lat, 90, LAT_NOT_AVAILABLE, "latitude"),
        lon=_coordinate(lon, 180, LON_NOT_AVAILABLE, "longitude"),
        speed=_optional(speed, SPEED_NOT_AVAILABLE, SPEED_NOT_AVAILABLE),
        course=_optional(course, COURSE_NOT_AVAILABLE, COURSE_NOT_AVAILABLE),
        heading=None if heading_value is None else int(heading_value),
        ship_type=None if type_value is None else int(type_value),
        destination=_text(destination),
        name=_text(name),
    )


def _text(value) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = value.replace("@", " ").strip()[:64]
    return cleaned or None


def _utc(value) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise PositionError(f"time {value!r} is missing")
    text = value.strip().replace("Z", "+00:00")
    # aisstream writes Go's default layout: "2024-01-05 10:00:00.123456 +0000 UTC".
    match = re.fullmatch(r"(\S+ \d{2}:\d{2}:\d{2})(\.\d+)? \+0000 UTC", text)
    if match:
        text = match.group(1) + (match.group(2) or "")[:7] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PositionError(f"time {value!r} is not an ISO 8601 UTC time") from exc
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


# MarineCadastre column names: legacy schema first, csv2 schema second.
_COLUMNS = {
    "mmsi": ("MMSI", "mmsi"),
    "at": ("BaseDateTime", "base_date_time"),
    "lat": ("LAT", "latitude"),
    "lon": ("LON", "longitude"),
    "speed": ("SOG", "sog"),
    "course": ("COG", "cog"),
    "heading": ("Heading", "heading"),
    "ship_type": ("VesselType", "vessel_type"),
    "name": ("VesselName", "vessel_name"),
}


def parse_csv(payload: bytes | str) -> tuple[list[Position], list[RejectedRecord]]:
    """Parse a MarineCadastre CSV export (either schema) into positions."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return [], [RejectedRecord(SOURCE, "payload", f"body is not UTF-8: {exc}")]
    reader = csv.DictReader(io.StringIO(payload.lstrip("\ufeff"), newline=""))
    fields = set(reader.fieldnames or [])
    schema = 0 if "MMSI" in fields else 1
    needed = {_COLUMNS[key][schema] for key in ("mmsi", "at", "lat", "lon")}
    if not needed <= fields:
        return [], [RejectedRecord(SOURCE, "header",
                                   "expected MarineCadastre columns MMSI/mmsi, BaseDateTime/"
                                   "base_date_time, LAT/latitude and LON/longitude")]
    positions, rejected = [], []
    for line, row in enumerate(reader, start=2):
        values = {key: row.get(names[schema]) for key, names in _COLUMNS.items()}
        try:
            positions.append(build(at=_utc(values.pop("at")), **values))
        except (PositionError, TypeError, ValueError, OverflowError) as exc:
            rejected.append(RejectedRecord(SOURCE, f"line {line}", str(exc)))
    return positions, rejected


def parse_stream(messages: Iterable) -> tuple[list[Position], list[RejectedRecord]]:
    """Parse aisstream WebSocket messages (JSON text or decoded objects).

    Static data (ship type, destination) is joined onto the positions of the
    same MMSI in this batch.
    """
    positions: list[Position] = []
    static: dict[int, dict] = {}
    rejected: list[RejectedRecord] = []
    for index, raw in enumerate(messages):
        reference = f"message {index}"
        try:
            message = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
            if not isinstance(message, dict):
                raise PositionError("message is not a JSON object")
            kind = message.get("MessageType")
            meta = message.get("MetaData") or {}
            body = (message.get("Message") or {}).get(kind) if isinstance(kind, str) else None
            if not isinstance(meta, dict) or not isinstance(body, dict):
                raise PositionError(f"message type {kind!r} has no Message.{kind} object")
            if "error" in message:
                raise PositionError(f"server error: {message['error']}")
            if kind == "ShipStaticData":
                static[_mmsi(body.get("UserID", meta.get("MMSI")))] = body
                continue
            if kind not in ("PositionReport", "StandardClassBPositionReport",
                            "ExtendedClassBPositionReport"):
                continue
            positions.append(build(
                mmsi=body.get("UserID", meta.get("MMSI")),
                at=_utc(meta.get("time_utc")),
                lat=body.get("Latitude", meta.get("latitude")),
                lon=body.get("Longitude", meta.get("longitude")),
                speed=body.get("Sog"), course=body.get("Cog"),
                heading=body.get("TrueHeading"), name=meta.get("ShipName"),
            ))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            rejected.append(RejectedRecord(SOURCE, reference, f"not valid JSON: {exc}"))
        except (PositionError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            rejected.append(RejectedRecord(SOURCE, reference, str(exc)))
    return [_with_static(p, static.get(p.mmsi)) for p in positions], rejected


def _with_static(position: Position, data: dict | None) -> Position:
    if not data:
        return position
    ship_type = _optional(data.get("Type"), 0, 100)
    return replace(
        position,
        ship_type=int(ship_type) if ship_type is not None else position.ship_type,
        destination=_text(data.get("Destination")) or position.destination,
        name=position.name or _text(data.get("Name")),
    )


def parse_nmea(lines: Iterable[bytes | str], received_at: datetime
               ) -> tuple[list[Position], list[RejectedRecord]]:
    """Decode single-sentence ``!AIVDM`` position reports received at ``received_at``.

    Multi-sentence messages (static data) and other message types are
    skipped; sentences that fail to decode are rejected with pyais's reason.
    """
    positions, rejected = [], []
    for number, line in enumerate(lines, start=1):
        raw = line.strip() if isinstance(line, bytes) else str(line).strip().encode()
        if not raw:
            continue
        reference = f"line {number}"
        try:
            sentence = NMEAMessage(raw)
            if not sentence.is_single:
                continue
            if not sentence.payload:
                raise PositionError("sentence has an empty payload")
            decoded = sentence.decode()
            if decoded.msg_type not in POSITION_TYPES:
                continue
            values = decoded.asdict()
            positions.append(build(
                mmsi=values.get("mmsi"), at=received_at, lat=values.get("lat"),
                lon=values.get("lon"), speed=values.get("speed"),
                course=values.get("course"), heading=values.get("heading"),
                ship_type=values.get("ship_type"),
            ))
        except (AISBaseException, PositionError, TypeError, ValueError, IndexError,
                OverflowError) as exc:
            rejected.append(RejectedRecord(SOURCE, reference, str(exc) or type(exc).__name__))
    return positions, rejected
