"""A loopback HTTP receiver standing in for the units' webhook channels, in a process of
its own (as the real receivers are elsewhere): it answers every POST with ``{}`` and
counts them; ``GET /count`` returns the count.

    python -m bench.receiver --port 8790
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from bench.province import ROOT, free_port


class _Counting(BaseHTTPRequestHandler):
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with _Counting.lock:
            _Counting.count += 1
        self._answer(b"{}")

    def do_GET(self) -> None:
        self._answer(str(_Counting.count).encode())

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 refuses connections under concurrent delivery
    daemon_threads = True


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    """The receiver's base URL while it runs in its own process group (stopped by pid)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.receiver", "--port", str(port)]
    proc = subprocess.Popen(argv, cwd=ROOT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/count", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def received(url: str) -> int:
    return int(httpx.get(f"{url}/count", timeout=5).text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    _Server(("127.0.0.1", args.port), _Counting).serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
