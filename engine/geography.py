"""Chokepoints, ports and trade lanes that routes are built from.

Port codes are the UN/LOCODEs as the World Port Index writes them (for
example CNSGH for Shanghai). Chokepoint coordinates and PortWatch ids come from the bundled
``portwatch_chokepoints.geojson`` (IMF PortWatch reference points). Port
coordinates come from the NGA World Port Index. Lane transit days and the
extra days of a Cape of Good Hope diversion are published figures, cited on
each lane.
"""

from __future__ import annotations

import csv
import functools
import json
from dataclasses import dataclass

from engine.settings import ROOT

DATASETS = ROOT / "datasets"


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


@functools.lru_cache(maxsize=1)
def chokepoints() -> dict[str, Chokepoint]:
    with open(DATASETS / "portwatch_chokepoints.geojson") as handle:
        features = json.load(handle)["features"]
    by_portid = {f["properties"]["portid"]: f["properties"] for f in features}
    result = {}
    for key, portid in _PORTWATCH_IDS.items():
        props = by_portid[portid]
        result[key] = Chokepoint(
            key, props["portname"], portid, float(props["lat"]), float(props["lon"])
        )
    return result


def chokepoint_for_portwatch(portid: str) -> str | None:
    for key, value in _PORTWATCH_IDS.items():
        if value == portid:
            return key
    return None


@dataclass(frozen=True)
class Lane:
    id: str
    name: str
    origins: tuple[str, ...]
    destinations: tuple[str, ...]
    route: tuple[str, ...]
    # Fraction of the voyage elapsed when the vessel reaches each chokepoint.
    route_progress: tuple[float, ...]
    transit_days: int
    # Alternative when a chokepoint on the route closes.
    alternative: str | None
    alternative_extra_days: int
    source: str


# Port-to-port times are typical published schedules; the Cape diversion adds
# 10 to 14 days on Asia-North Europe (UNCTAD, "Navigating Troubled Waters",
# February 2024) and about 7 to 10 days on Asia-Mediterranean because the
# vessel re-enters through Gibraltar (same report).
LANES: dict[str, Lane] = {
    lane.id: lane
    for lane in (
        Lane(
            "ASIA_NEUR",
            "Far East to North Europe",
            ("CNSGH", "CNNBO", "SGKEP", "KRPUS"),
            ("NLRTM", "DEHAM", "BEANR", "GBFXT"),
            ("malacca", "bab_el_mandeb", "suez", "gibraltar", "dover"),
            (0.25, 0.45, 0.52, 0.72, 0.93),
            32,
            "CAPE_NEUR",
            12,
            "UNCTAD Navigating Troubled Waters (2024): +10-14 days via the Cape",
        ),
        Lane(
            "ASIA_MED",
            "Far East to Mediterranean",
            ("CNSGH", "CNNBO", "SGKEP"),
            ("ITGOA", "GRPIR", "ESVLC"),
            ("malacca", "bab_el_mandeb", "suez"),
            (0.3, 0.55, 0.65),
            26,
            "CAPE_MED",
            9,
            "UNCTAD Navigating Troubled Waters (2024): about +7-10 days via the Cape",
        ),
        Lane(
            "INDIA_NEUR",
            "Indian Subcontinent to North Europe",
            ("INNSA", "LKCMB"),
            ("NLRTM", "DEHAM", "GBFXT"),
            ("bab_el_mandeb", "suez", "gibraltar", "dover"),
            (0.2, 0.3, 0.6, 0.9),
            22,
            "CAPE_NEUR",
            12,
            "UNCTAD Navigating Troubled Waters (2024): +10-14 days via the Cape",
        ),
        Lane(
            "ASIA_GULF",
            "Far East to Arabian Gulf",
            ("CNSGH", "SGKEP", "KRPUS"),
            ("AEJEA", "QADOH"),
            ("malacca", "hormuz"),
            (0.35, 0.95),
            18,
            None,
            0,
            "no sea alternative: the Gulf ports lie inside Hormuz",
        ),
        Lane(
            "ASIA_USEC",
            "Far East to US East Coast via Panama",
            ("CNSGH", "KRPUS", "TWKHH"),
            ("USNYC", "USSAV"),
            ("taiwan", "panama"),
            (0.05, 0.8),
            33,
            "ASIA_USEC_SUEZ",
            6,
            "Panama Canal Authority draught restrictions 2023: Suez routing adds ~6 days",
        ),
        Lane(
            "NEUR_USEC",
            "North Europe to US East Coast",
            ("NLRTM", "DEHAM", "BEANR"),
            ("USNYC", "USSAV"),
            ("dover",),
            (0.05,),
            12,
            None,
            0,
            "transatlantic, no alternative needed",
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
def ports() -> dict[str, Port]:
    """Ports named by the lanes, read from the World Port Index."""
    wanted = {p for lane in LANES.values() for p in lane.origins + lane.destinations}
    found: dict[str, Port] = {}
    with open(DATASETS / "world_port_index_UpdatedPub150.csv", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            locode = (row.get("UN/LOCODE") or "").replace(" ", "")
            if locode in wanted and locode not in found:
                found[locode] = Port(
                    locode,
                    row["Main Port Name"],
                    row["Country Code"],
                    float(row["Latitude"]),
                    float(row["Longitude"]),
                )
    return found
