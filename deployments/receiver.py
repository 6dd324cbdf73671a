"""One loopback HTTP receiver standing in for webhook channels (robots, ``json://``).

A Starlette app served by uvicorn, used by the demo (every unit's and the office's
channel), the tests (scripted answers, recorded requests) and the benchmarks (in a
process of its own, counting posts):

- every ``POST`` is recorded (path, query, body) and answered from the path's script
  (a queue of ``(status, body)`` consumed in order), else the path's default, else
  ``200 {"errcode": 0, "errmsg": "ok"}`` — what a robot that accepted the message says;
- ``GET /count`` answers how many posts arrived (for a receiver in another process);
- with a log file, each post is also appended to it as one JSON line, and ``on_post``
  is told of it (the demo echoes the office's alerts).

In a thread: ``with Receiver() as r: ...`` (``r.url``, ``r.script``, ``r.received``).
In a process: ``python -m deployments.receiver --port 8790 [--log FILE]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

OK_JSON = '{"errcode": 0, "errmsg": "ok"}'


@dataclass(frozen=True)
class Received:
    """One post as it arrived."""

    path: str
    query: dict[str, list[str]]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class Receiver:
    """The receiver's state and app; ``start()`` serves it on 127.0.0.1 in a thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log: Path | None = None,
        on_post: Callable[[Received], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log = log
        self.on_post = on_post
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[tuple[int, str]]] = defaultdict(deque)
        self._defaults: dict[str, tuple[int, str]] = {}
        self.app = Starlette(
            routes=[
                Route("/count", self._count, methods=["GET"]),
                Route("/{path:path}", self._post, methods=["POST"]),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- the app

    async def _post(self, request: Request) -> Response:
        received = Received(request.url.path, parse_qs(request.url.query), await request.body())
        # In a worker thread: a test's hook may block one post while others are answered.
        status, body = await run_in_threadpool(self._record, received)
        return Response(body, status_code=status, media_type="application/json; charset=utf-8")

    async def _count(self, _request: Request) -> Response:
        return PlainTextResponse(str(self.count()))

    def _record(self, received: Received) -> tuple[int, str]:
        with self._lock:
            self.requests.append(received)
            if self.log is not None:
                with self.log.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(_log_line(received), ensure_ascii=False) + "\n")
            script = self._scripts[received.path]
            answer = script.popleft() if script else None
            answer = answer or self._defaults.get(received.path, (200, OK_JSON))
        if self.on_post is not None:
            self.on_post(received)
        return answer

    # -- what tests and the demo ask of it

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, path: str, *answers: tuple[int, str]) -> None:
        """Answer the next posts to `path` with these, in order."""
        with self._lock:
            self._scripts[path].extend(answers)

    def always(self, path: str, status: int, body: str = OK_JSON) -> None:
        """Answer every post to `path` (once its script is used up) with this."""
        with self._lock:
            self._defaults[path] = (status, body)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def count(self, path: str | None = None) -> int:
        return len(self.received(path))

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._defaults.clear()
            self.requests.clear()

    def json_url(self, path: str) -> str:
        """An Apprise ``json://`` channel posting to `path` here."""
        return f"json://{self.host}:{self.port}{path}"

    def endpoint(self, path: str, template: str) -> str:
        """A robot endpoint template (``...?access_token={token}``) pointing here."""
        return f"http://{self.host}:{self.port}{path}?{template}"

    # -- serving

    def start(self) -> Receiver:
        """Serve in a daemon thread; returns once the port accepts connections."""
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            backlog=512,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the receiver did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _log_line(received: Received) -> dict[str, Any]:
    try:
        payload: Any = json.loads(received.body.decode("utf-8"))
    except ValueError:
        payload = received.body.decode("utf-8", errors="replace")
    return {"at": datetime.now(UTC).isoformat(), "path": received.path, "payload": payload}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, default=None, help="append each post as JSON")
    args = parser.parse_args(argv)
    receiver = Receiver(args.host, args.port, log=args.log)
    uvicorn.run(
        receiver.app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=512,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
