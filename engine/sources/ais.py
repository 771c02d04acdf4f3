"""AIS adapters: an aisstream-style WebSocket and a bounding-box HTTP export live,
the bundled NOAA MarineCadastre samples in replay.

The WebSocket subscription asks for position and static reports inside every
chokepoint area and listens for ``AIS_WS_WINDOW_SECONDS`` (or until
``AIS_WS_MAX_MESSAGES``) per tick. The export is asked for each area's
bounding box since the last tick and answers in the MarineCadastre CSV layout.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect

from engine import http
from engine.geography import DATASETS
from engine.reality import ais
from engine.reality.areas import AREAS
from engine.settings import Settings
from engine.sources.base import Fetched, Guard, Parsed

log = logging.getLogger(__name__)

REPLAY_FILES = (
    DATASETS / "marinecadastre_2022-03-31_small_example.csv",
    DATASETS / "marinecadastre_2024-01-01_csv2_sample.csv",
)
STREAM_TYPES = ["PositionReport", "StandardClassBPositionReport", "ShipStaticData"]


class AisAdapter:
    name = ais.SOURCE
    circuit = "ais"

    def __init__(self, settings: Settings, mode: str) -> None:
        self.settings = settings
        self.mode = mode

    def missing_configuration(self) -> str | None:
        if self.mode == "live" and not (self._stream_on() or self.settings.AIS_EXPORT_URL):
            return "neither AIS_API_KEY (for AIS_WS_URL) nor AIS_EXPORT_URL is set"
        return None

    def _stream_on(self) -> bool:
        return self.settings.AIS_API_KEY is not None and bool(self.settings.AIS_WS_URL)

    def fetch(self, as_of: datetime, guard: Guard) -> Fetched:
        if self.mode == "replay":
            return Fetched({"export": [_replay_bytes(path) for path in REPLAY_FILES]})
        payload: dict[str, list] = {"stream": [], "export": []}
        errors: list[str] = []
        attempts = 0
        if self._stream_on():
            attempts += 1
            try:
                payload["stream"] = guard(self._listen)
            except http.SourceUnavailable as exc:
                errors.append(str(exc))
        if self.settings.AIS_EXPORT_URL:
            attempts += 1
            try:
                payload["export"] = guard(self._export, as_of)
            except http.SourceUnavailable as exc:
                errors.append(str(exc))
        if errors and len(errors) == attempts:
            raise http.SourceUnavailable(self.name, "; ".join(errors))
        return Fetched(payload, errors)

    def subscription(self) -> dict:
        return {
            "APIKey": self.settings.AIS_API_KEY.get_secret_value(),
            "BoundingBoxes": [area.bounding_box() for area in AREAS.values()],
            "FilterMessageTypes": STREAM_TYPES,
        }

    def _listen(self) -> list[str]:
        settings = self.settings
        url = settings.AIS_WS_URL
        messages: list[str] = []
        try:
            with connect(
                url,
                open_timeout=settings.SOURCE_CONNECT_TIMEOUT_SECONDS,
                close_timeout=1,
                max_size=2**20,
                proxy=None,
            ) as socket:
                socket.send(json.dumps(self.subscription()))
                deadline = time.monotonic() + settings.AIS_WS_WINDOW_SECONDS
                while len(messages) < settings.AIS_WS_MAX_MESSAGES:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        message = socket.recv(timeout=remaining)
                    except TimeoutError:
                        break
                    messages.append(message if isinstance(message, str)
                                    else message.decode("utf-8", "replace"))
        except ConnectionClosed as exc:
            if not messages:
                raise http.SourceUnavailable(self.name, f"{url} closed the stream: {exc}") from exc
            log.info("source ais: %s closed the stream after %d messages: %s",
                     url, len(messages), exc)
        except TimeoutError as exc:
            raise http.SourceUnavailable(
                self.name, f"{url} did not complete the WebSocket handshake within "
                f"{settings.SOURCE_CONNECT_TIMEOUT_SECONDS:g}s") from exc
        except (OSError, InvalidHandshake, InvalidURI) as exc:
            raise http.SourceUnavailable(self.name, f"{url} failed: {type(exc).__name__}: {exc}"
                                         ) from exc
        return messages

    def _export(self, as_of: datetime) -> list[bytes]:
        settings = self.settings
        start = as_of - timedelta(seconds=max(settings.PIPELINE_INTERVAL_SECONDS, 60) * 2)
        bodies = []
        for area in AREAS.values():
            params = {
                "bbox": f"{area.west},{area.south},{area.east},{area.north}",
                "start": start.isoformat(),
                "end": as_of.isoformat(),
            }
            bodies.append(http.get(http.client(), self.name, settings.AIS_EXPORT_URL, params,
                                   None, settings.SOURCE_READ_TIMEOUT_SECONDS * 2))
        return bodies

    def parse(self, payload: dict, as_of: datetime) -> Parsed:
        parsed = Parsed()
        if payload.get("stream"):
            positions, rejected = ais.parse_stream(payload["stream"])
            parsed.extend(Parsed(positions=positions, rejected=rejected))
        for body in payload.get("export") or []:
            positions, rejected = _csv(body) if self.mode == "replay" else ais.parse_csv(body)
            parsed.extend(Parsed(positions=list(positions), rejected=list(rejected)))
        return parsed


@functools.lru_cache(maxsize=4)
def _replay_bytes(path: Path) -> bytes:
    return path.read_bytes()


@functools.lru_cache(maxsize=4)
def _csv(body: bytes) -> tuple[tuple, tuple]:
    positions, rejected = ais.parse_csv(body)
    return tuple(positions), tuple(rejected)
