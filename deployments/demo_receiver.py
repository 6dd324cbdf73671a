"""The demo's message receiver: a loopback HTTP server standing in for every channel."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class DemoReceiver:
    """A loopback HTTP server standing in for every message channel of the demo.

    Apprise's ``json://`` posts land here: ``/units/<code>`` for the units'
    reminders and warnings, ``/ops`` for the office's operations alerts. Each post
    is logged (one JSON line) and answered like a robot that accepted it.
    """

    def __init__(self, host: str, port: int, log: Path, echo: Callable[[str], None]) -> None:
        self.log = log
        self.echo = echo
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.record(self.path, self.rfile.read(length))
                body = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, path: str, raw: bytes) -> None:
        try:
            payload: Any = json.loads(raw.decode("utf-8"))
        except ValueError:
            payload = raw.decode("utf-8", errors="replace")
        title = payload.get("title", "") if isinstance(payload, dict) else ""
        line = {"at": datetime.now(UTC).isoformat(), "path": path, "payload": payload}
        with self._lock:
            self.counts[path] = self.counts.get(path, 0) + 1
            with self.log.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
        if path.startswith("/ops"):
            self.echo(f"[ops channel] {title or 'alert'}  (full text: {self.log})")

    def __enter__(self) -> DemoReceiver:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
