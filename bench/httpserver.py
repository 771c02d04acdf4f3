"""A minimal asyncio HTTP/1.1 server with keep-alive, for baselines and fake upstreams.

``python -m bench.httpserver --port P`` serves a static ``{"status":"ok"}`` on
every path: the cheapest HTTP response Python can give, the API benchmark's
baseline. ``bench.fake_twilio`` reuses ``serve`` with its own handler.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable

Handler = Callable[[str, str, dict[str, str], bytes], Awaitable[tuple[int, bytes]]]
REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found"}
MAX_HEADER_BYTES = 64 * 1024


async def _handle_connection(handler: Handler, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if len(head) > MAX_HEADER_BYTES:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(length) if length else b""
            status, payload = await handler(method, path, headers, body)
            writer.write(
                f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
            )
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    finally:
        writer.close()


async def serve(handler: Handler, host: str, port: int,
                started: asyncio.Event | None = None) -> None:
    server = await asyncio.start_server(
        lambda r, w: _handle_connection(handler, r, w), host, port, backlog=1024
    )
    if started is not None:
        started.set()
    async with server:
        await server.serve_forever()


async def static_ok(_method: str, _path: str, _headers: dict[str, str],
                    _body: bytes) -> tuple[int, bytes]:
    return 200, b'{"status":"ok"}'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a static JSON response on every path.")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    args = parser.parse_args(argv)
    asyncio.run(serve(static_ok, "127.0.0.1", args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
