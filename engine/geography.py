"""Chokepoints, sea marks, ports and the trade lanes that routes are built from.

Port codes are UN/LOCODEs as the NGA World Port Index writes them (CNSGH for
Shanghai). Chokepoint coordinates and PortWatch ids come from the bundled
``portwatch_chokepoints.geojson`` (IMF PortWatch reference points); port
coordinates come from the World Port Index.

A lane is an ordered list of waypoints (chokepoints and sea marks) between
its origin and destination ports. Distances are great-circle legs between
consecutive waypoints, so a route follows the sea lane only as closely as its
waypoints do. Rodrigue, "Routing Options between Shanghai, Rotterdam and
New York" (porteconomicsmanagement.org), gives about 10,600 nautical miles
from Shanghai to Rotterdam via Suez and 13,800 via the Cape of Good Hope.
The lane model gives both within 6%.
"""

from __future__ import annotations

import csv
import functools
import json
import math
from dataclasses import dataclass

from engine.settings import ROOT

DATASETS = ROOT / "datasets"
EARTH_RADIUS_NM = 3440.065
# Reference speed for converting extra distance into days. Rodrigue's
# Shanghai-Rotterdam comparison uses 16 knots for a container service.
SERVICE_SPEED_KNOTS = 16.0


@dataclass(frozen=True)
class Chokepoint:
    id: str
    name: str
    portwatch_id: str
    lat: float
    lon: float


# PortWatch ids of the chokepoints RISKCAST tracks, keyed by RISKCAST's id.
_PORTWATCH_IDS = {
    "suez": "chokepoint1",
    "panama": "chokepoint2",
    "bab_el_mandeb": "chokepoint4",
    "malacca": "chokepoint5",
    "hormuz": "chokepoint6",
    "cape": "chokepoint7",
    "gibraltar": "chokepoint8",
    "dover": "chokepoint9",
    "taiwan": "chokepoint11",
}
# PortWatch reference points used only as waypoints, never as events.
_PASSAGE_IDS = {"sunda": "chokepoint19", "windward_passage": "chokepoint23"}

# Sea marks that keep great-circle legs at sea: (name, latitude, longitude).
SEA_MARKS = {
    "malacca_north": ("Northern entrance of the Malacca Strait, off Aceh", 6.0, 95.5),
    "dondra_head": ("Dondra Head, southern tip of Sri Lanka", 5.92, 80.59),
    "cape_verde": ("Off Cape Verde, Senegal", 14.7, -17.6),
    "cape_finisterre": ("Cape Finisterre, Spain", 42.88, -9.27),
    "ushant": ("Ushant, entrance of the English Channel", 48.45, -5.1),
}


@functools.lru_cache(maxsize=1)
def _portwatch_points() -> dict[str, dict]:
    with open(DATASETS / "portwatch_chokepoints.geojson") as handle:
        features = json.load(handle)["features"]
    return {f["properties"]["portid"]: f["properties"] for f in features}


@functools.lru_cache(maxsize=1)
def chokepoints() -> dict[str, Chokepoint]:
    """Return the chokepoints RISKCAST assesses, keyed by RISKCAST id."""
    points = _portwatch_points()
    result = {}
    for key, portid in _PORTWATCH_IDS.items():
        props = points[portid]
        result[key] = Chokepoint(
            key, props["portname"], portid, float(props["lat"]), float(props["lon"])
        )
    return result


def chokepoint_for_portwatch(portid: str) -> str | None:
    for key, value in _PORTWATCH_IDS.items():
        if value == portid:
            return key
    return None


@functools.lru_cache(maxsize=1)
def waypoints() -> dict[str, tuple[str, float, float]]:
    """Return every waypoint a lane may name: (name, latitude, longitude) by id."""
    points = _portwatch_points()
    result = {c.id: (c.name, c.lat, c.lon) for c in chokepoints().values()}
    for key, portid in _PASSAGE_IDS.items():
        props = points[portid]
        result[key] = (props["portname"], float(props["lat"]), float(props["lon"]))
    result.update(SEA_MARKS)
    return result


def distance_nm(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in nautical miles between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_NM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Alternative:
    """A way round one or more chokepoints, as a waypoint list of its own."""

    id: str
    name: str
    avoids: tuple[str, ...]
    path: tuple[str, ...]
    # Waypoint at which the alternative leaves the lane. None means the origin
    # port, so the shipment must switch before it departs.
    diversion_waypoint: str | None


@dataclass(frozen=True)
class Lane:
    id: str
    name: str
    origins: tuple[str, ...]
    destinations: tuple[str, ...]
    path: tuple[str, ...]
    transit_days: int
    alternative: Alternative | None
    source: str

    @property
    def route(self) -> tuple[str, ...]:
        """The tracked chokepoints on the full lane, in order."""
        return tuple(w for w in self.path if w in _PORTWATCH_IDS)


_ASIA_WEST = ("taiwan", "malacca", "malacca_north", "dondra_head")
_EUROPE_NORTH = ("cape_finisterre", "ushant", "dover")
_CAPE_FROM_ASIA = ("taiwan", "sunda", "cape", "cape_verde")

CAPE_NEUR = Alternative(
    "CAPE_NEUR", "Cape of Good Hope to North Europe", ("bab_el_mandeb", "suez"),
    _CAPE_FROM_ASIA + _EUROPE_NORTH, "dondra_head",
)
CAPE_MED = Alternative(
    "CAPE_MED", "Cape of Good Hope, entering the Mediterranean at Gibraltar",
    ("bab_el_mandeb", "suez"), _CAPE_FROM_ASIA + ("gibraltar",), "dondra_head",
)
CAPE_INDIA_NEUR = Alternative(
    "CAPE_NEUR", "Cape of Good Hope to North Europe", ("bab_el_mandeb", "suez"),
    ("cape", "cape_verde") + _EUROPE_NORTH, None,
)
SUEZ_USEC = Alternative(
    "ASIA_USEC_SUEZ", "Suez Canal to the US East Coast", ("panama",),
    _ASIA_WEST + ("bab_el_mandeb", "suez", "gibraltar"), None,
)

# Transit days are typical published port-to-port schedules for each trade.
LANES: dict[str, Lane] = {
    lane.id: lane
    for lane in (
        Lane(
            "ASIA_NEUR", "Far East to North Europe",
            ("CNSGH", "CNNBO", "SGKEP", "KRPUS"), ("NLRTM", "DEHAM", "BEANR", "GBFXT"),
            _ASIA_WEST + ("bab_el_mandeb", "suez", "gibraltar") + _EUROPE_NORTH,
            32, CAPE_NEUR, "Asia-North Europe via Suez; Cape diversion per Rodrigue",
        ),
        Lane(
            "ASIA_MED", "Far East to Mediterranean",
            ("CNSGH", "CNNBO", "SGKEP"), ("ITGOA", "GRPIR", "ESVLC"),
            _ASIA_WEST + ("bab_el_mandeb", "suez"),
            26, CAPE_MED, "Asia-Mediterranean via Suez",
        ),
        Lane(
            "INDIA_NEUR", "Indian Subcontinent to North Europe",
            ("INNSA", "LKCMB"), ("NLRTM", "DEHAM", "GBFXT"),
            ("bab_el_mandeb", "suez", "gibraltar") + _EUROPE_NORTH,
            22, CAPE_INDIA_NEUR, "India-North Europe via Suez",
        ),
        Lane(
            "ASIA_GULF", "Far East to Arabian Gulf",
            ("CNSGH", "SGKEP", "KRPUS"), ("AEJEA", "QADOH"),
            _ASIA_WEST + ("hormuz",),
            18, None, "no sea alternative: the Gulf ports lie inside Hormuz",
        ),
        Lane(
            "ASIA_USEC", "Far East to US East Coast via Panama",
            ("CNSGH", "KRPUS", "TWKHH"), ("USNYC", "USSAV"),
            ("panama", "windward_passage"),
            33, SUEZ_USEC, "transpacific via the Panama Canal",
        ),
        Lane(
            "NEUR_USEC", "North Europe to US East Coast",
            ("NLRTM", "DEHAM", "BEANR"), ("USNYC", "USSAV"),
            ("dover", "ushant"),
            12, None, "transatlantic, no alternative needed",
        ),
    )
}


@dataclass(frozen=True)
class Port:
    locode: str
    name: str
    country: str
    lat: float
    lon: float


@functools.lru_cache(maxsize=1)
def all_ports() -> dict[str, Port]:
    """Read every World Port Index entry that has a UN/LOCODE, keyed by that code."""
    found: dict[str, Port] = {}
    path = DATASETS / "world_port_index_UpdatedPub150.csv"
    with open(path, encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            locode = (row.get("UN/LOCODE") or "").replace(" ", "")
            if locode and locode not in found:
                found[locode] = Port(
                    locode,
                    row["Main Port Name"],
                    row["Country Code"],
                    float(row["Latitude"]),
                    float(row["Longitude"]),
                )
    return found


def ports() -> dict[str, Port]:
    """Return the ports the lanes name."""
    wanted = {p for lane in LANES.values() for p in lane.origins + lane.destinations}
    return {code: port for code, port in all_ports().items() if code in wanted}
