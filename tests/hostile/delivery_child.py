"""One outbox delivery in a process of its own, as a second worker would run it (the
hostile delivery tests start it, and may kill it mid-way).

    python -m tests.hostile.delivery_child DATABASE_URL 2026-10-09T10:00:00+08:00 4
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from models.persistence.database import make_engine, session_scope
from tasks.delivery import deliver_due


def main(argv: list[str]) -> int:
    url, at, concurrency = argv
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            run = deliver_due(session, now=datetime.fromisoformat(at), concurrency=int(concurrency))
    finally:
        engine.dispose()
    print(json.dumps(run.counts()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
