"""Named locks held until the transaction ends, so writers of the same data never interleave.

- ``serialize(session, name)``: exclusive. A recompute after an appeal holds its
  category's lock while it rewrites the category's months and ranks;
  ``serialize_all(session, names)``: a recompute after a catalog revision holds every
  category's.
- ``share(session, names)``: shared. A monthly-analysis batch holds its units'
  categories shared while it reads the ledgers and books on them, so it never
  interleaves with a recompute of one of those categories, while batches (shared with
  each other) still run side by side.

PostgreSQL: advisory transaction locks on a stable hash of the name
(``pg_advisory_xact_lock`` / ``pg_advisory_xact_lock_shared``, taken in sorted order
so that two holders of several never deadlock). SQLite: the database write lock
(``BEGIN IMMEDIATE``), for both kinds: SQLite has one writer anyway. Call them before
the transaction writes anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlmodel import Session


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``."""
    digest = hashlib.sha256(f"assessment-calendar:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def category_lock(category: str) -> str:
    """The lock of a category's results (its units' months, ranks and grades)."""
    return f"category:{category}"


def serialize(session: Session, name: str) -> None:
    """Hold the lock ``name`` exclusively until the session's transaction ends."""
    _hold(session, [name], "pg_advisory_xact_lock")


def serialize_all(session: Session, names: Iterable[str]) -> None:
    """Hold the locks ``names`` exclusively until the session's transaction ends (a
    recompute after a catalog revision holds every category it may move)."""
    _hold(session, sorted(set(names)), "pg_advisory_xact_lock")


def share(session: Session, names: Iterable[str]) -> None:
    """Hold the locks ``names`` shared until the session's transaction ends."""
    _hold(session, sorted(set(names)), "pg_advisory_xact_lock_shared")


def _hold(session: Session, names: list[str], function: str) -> None:
    bind = session.connection()
    dialect = bind.dialect.name
    if dialect == "postgresql":
        for key in sorted(lock_key(name) for name in names):
            session.execute(text(f"SELECT {function}(:key)"), {"key": key})
    elif dialect == "sqlite":
        raw: Any = bind.connection.dbapi_connection
        if not raw.in_transaction:
            session.execute(text("BEGIN IMMEDIATE"))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise ValueError(f"unsupported database dialect {dialect!r}")
