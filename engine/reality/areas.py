"""Areas around each chokepoint, for counting AIS positions.

Each area is a latitude/longitude rectangle around the IMF PortWatch
reference point that spans the passage ships must use.
NOTE: the rectangles are hand-drawn approximations from the charted
passages, not surveyed polygons; a vessel anchored at the edge of an area
counts as a transit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Area:
    chokepoint: str
    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    def bounding_box(self) -> list[list[float]]:
        """The area as aisstream writes a box: [[lat, lon], [lat, lon]]."""
        return [[self.south, self.west], [self.north, self.east]]


AREAS: dict[str, Area] = {
    area.chokepoint: area
    for area in (
        Area("suez", 29.85, 32.25, 31.35, 32.65),
        Area("bab_el_mandeb", 12.35, 43.05, 13.0, 43.65),
        Area("hormuz", 25.9, 55.9, 27.0, 57.2),
        Area("malacca", 1.0, 100.5, 3.2, 103.2),
        Area("panama", 8.85, -79.95, 9.4, -79.5),
        Area("cape", -36.5, 17.0, -33.8, 21.5),
        Area("gibraltar", 35.8, -5.9, 36.2, -5.3),
        Area("dover", 50.8, 1.2, 51.25, 1.9),
        Area("taiwan", 22.5, 118.5, 25.5, 121.0),
    )
}


def area_of(lat: float, lon: float) -> str | None:
    """Return the chokepoint whose area contains the point, if any."""
    for area in AREAS.values():
        if area.contains(lat, lon):
            return area.chokepoint
    return None
