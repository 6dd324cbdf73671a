"""The project's loopback receiver (`deployments.receiver`) standing in for the units'
webhook channels, in a process of its own (as the real receivers are elsewhere): it
answers every POST like a robot that accepted it and counts them (``GET /count``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx

from bench.province import ROOT, free_port


@contextlib.contextmanager
def receiver() -> Iterator[str]:
    """The receiver's base URL while it runs in its own process group (stopped by pid)."""
    port = free_port()
    argv = [sys.executable, "-m", "deployments.receiver", "--port", str(port)]
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
