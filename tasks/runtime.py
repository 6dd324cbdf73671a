"""The composition root: the one place running code builds engines and work calendars.

A process builds its `Runtime` (settings, database engine, work calendar, clock) once
per settings with `build_runtime` at its entry point and passes it down:

- a flow obtains it once at its top (``runtime = current_runtime()``) and hands it to
  the tasks it calls as their first parameter (every task is ``NO_CACHE``: Prefect
  neither hashes nor stores it; a task run records only upstream references);
- a CLI command or the main job builds it where it starts;
- tasks use ``runtime.engine``, ``runtime.calendar``, ``runtime.settings``; plain
  ``load_``/``save_`` functions keep taking a ``Session`` and values.

Nothing else in running code calls ``make_engine`` or ``load_work_calendar``
(``tests/test_architecture.py`` checks it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import Engine

from models.persistence.database import make_engine
from models.rules import WorkCalendar
from tasks.calendar import load_work_calendar
from tasks.settings import Settings, get_settings


def wall_clock() -> datetime:
    """The process's clock: aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, eq=False)
class Runtime:
    """What running code shares in a process: read-only once built.

    ``clock``: where the shell reads the time (ledger timestamps, a run's ``now``
    when none is given or scheduled); logic still receives ``now`` as a value.
    """

    settings: Settings
    engine: Engine
    calendar: WorkCalendar
    clock: Callable[[], datetime] = wall_clock

    def batch_concurrency(self) -> int:
        """How many batches of one cycle are worked on at once (``ASSESS_BATCH_CONCURRENCY``,
        default 1). Batches run in threads: more than one pays only when the database works
        on another host (one batch's database time overlaps another's Python); measured on
        one 2-core host with PostgreSQL, 2 was slower than 1 (bench/README.md)."""
        if self.engine.dialect.name == "sqlite":
            return 1  # one writer at a time
        return self.settings.batch_concurrency

    def __repr__(self) -> str:  # never the settings' values (a URL may hold a password)
        return f"Runtime({self.engine.dialect.name})"


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    """One engine (one connection pool) per database URL and process."""
    return make_engine(url)


def _key(settings: Settings) -> str:
    """The settings' values, secrets included: equal settings share one runtime."""
    values = settings.model_dump(mode="json")
    values["platform_token"] = settings.platform_token.get_secret_value()
    values["ops_channels"] = [c.get_secret_value() for c in settings.ops_channels]
    values["database"] = settings.resolved_database_url()  # data_dir is relative to the cwd
    return repr(sorted(values.items()))


_runtimes: dict[str, Runtime] = {}
_lock = threading.Lock()
_KEEP = 8  # settings kept (tests switch databases often; a process has one)


def build_runtime(settings: Settings | None = None) -> Runtime:
    """The runtime for ``settings`` (default: read from the environment now), built once
    per process and settings: equal settings give the same object, engine included.

    The calendar overrides file is read when the runtime is built: a deployment's run
    (a process of its own under the process worker) reads it at its start."""
    settings = settings or get_settings()
    key = _key(settings)
    with _lock:
        found = _runtimes.get(key)
        if found is None:
            found = Runtime(
                settings=settings,
                engine=_engine(settings.resolved_database_url()),
                calendar=load_work_calendar(settings.calendar_overrides),
            )
            while len(_runtimes) >= _KEEP:
                del _runtimes[next(iter(_runtimes))]
            _runtimes[key] = found
        return found


def current_runtime() -> Runtime:
    """The runtime for the settings in the environment now (a flow's first line)."""
    return build_runtime()
