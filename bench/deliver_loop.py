"""A second worker delivering the outbox while the monthly analysis runs (the bench's
``--overlap-delivery``): as the ``deliver_outbox`` deployment does on another worker
during working hours, it sends what is due, again and again, until told to stop and
nothing is left.

    python -m bench.deliver_loop --at 2026-04-09T09:00:00+08:00 --stop-file /tmp/stop
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

from models.persistence.database import session_scope
from tasks.delivery import deliver_due
from tasks.runtime import build_runtime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--at", required=True, help="the delivery time (aware ISO 8601)")
    parser.add_argument("--stop-file", type=Path, required=True)
    args = parser.parse_args(argv)
    at = datetime.fromisoformat(args.at)
    runtime = build_runtime()
    engine = runtime.engine
    delivered = 0
    while True:
        stopping = args.stop_file.exists()  # read first: a stop means all is queued
        with session_scope(engine) as session:
            run = deliver_due(session, now=at, ops_channels=[], calendar=runtime.calendar)
        sent = run.counts().get("delivered", 0)
        delivered += sent
        if stopping and not sent:
            break
        if not sent:
            time.sleep(0.5)
    engine.dispose()
    print(delivered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
