"""A loopback platform that serves hand-written page bodies byte for byte.

The simulator serializes its data with a JSON library, so it cannot send what a broken
or hostile platform might: ``NaN`` and ``Infinity`` literals, numbers beyond a double,
items that are not objects. This server answers ``/api/v1/progress`` and
``/api/v1/appeals`` from pages of raw bytes (cursor = the next page's index), checks
the bearer token and records every query it was asked.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TOKEN = "hostile-records-token"


def body(items: list[str], next_cursor: str | None) -> bytes:
    """A page from items already written as JSON text (so they may hold NaN literals)."""
    cursor = "null" if next_cursor is None else json.dumps(next_cursor)
    return ('{"items": [' + ", ".join(items) + '], "next_cursor": ' + cursor + "}").encode()


def paged(items: list[str], size: int) -> list[bytes]:
    """``items`` as pages of ``size``, chained by cursor."""
    chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
    return [
        body(chunk, None if n == len(chunks) - 1 else str(n + 1)) for n, chunk in enumerate(chunks)
    ]


@dataclass
class RawPlatform:
    progress: dict[str, list[bytes]] = field(default_factory=dict)
    appeals: list[bytes] = field(default_factory=lambda: [body([], None)])
    queries: list[dict[str, str]] = field(default_factory=list)

    def _answer(self, request: Request, pages: list[bytes]) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Response(b'{"error": {"code": "unauthorized"}}', status_code=401)
        self.queries.append(dict(request.query_params))
        index = int(request.query_params.get("cursor") or 0)
        return Response(pages[index], media_type="application/json")

    async def _progress(self, request: Request) -> Response:
        return self._answer(request, self.progress[request.query_params["period"]])

    async def _appeals(self, request: Request) -> Response:
        return self._answer(request, self.appeals)

    def app(self) -> Any:
        return Starlette(
            routes=[
                Route("/api/v1/progress", self._progress),
                Route("/api/v1/appeals", self._appeals),
            ]
        )


@contextmanager
def serving(platform: RawPlatform) -> Iterator[str]:
    """Serve ``platform`` on a free loopback port; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(platform.app(), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the raw platform did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
