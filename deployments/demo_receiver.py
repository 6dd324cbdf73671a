"""The demo's message receiver: the project's loopback receiver standing in for every channel.

Apprise's ``json://`` posts land there: ``/units/<code>`` for the units' reminders and
warnings, ``/ops`` for the office's operations alerts. Each post is logged (one JSON
line) and answered like a robot that accepted it; an office alert is also echoed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from deployments.receiver import Received, Receiver


def demo_receiver(host: str, port: int, log: Path, echo: Callable[[str], None]) -> Receiver:
    """The receiver on ``host:port`` logging to ``log``; ``with`` it to serve it."""

    def on_post(received: Received) -> None:
        if not received.path.startswith("/ops"):
            return
        try:
            payload = json.loads(received.body.decode("utf-8"))
        except ValueError:
            payload = None
        title = payload.get("title", "") if isinstance(payload, dict) else ""
        echo(f"[ops channel] {title or 'alert'}  (full text: {log})")

    return Receiver(host, port, log=log, on_post=on_post)
