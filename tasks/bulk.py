"""Bulk reads and writes that skip SQLAlchemy's per-row type processing.

At province scale a month is hundreds of thousands of rows; binding each value
through the column types costs more than the database's own work. These helpers
convert values once, the way the column types would (``UTCDateTime``: UTC, naive on
SQLite; ``Numeric``: float on SQLite, Decimal on PostgreSQL), and hand the driver
plain tuples (SQLite) or a COPY stream (PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Final

from sqlalchemy import Connection, DateTime, Numeric, Table
from sqlalchemy.exc import DBAPIError

from models.persistence.types import UTCDateTime

DEDUCTION_COLUMNS: Final = (
    "year",
    "period",
    "unit_id",
    "indicator_id",
    "kind",
    "stage",
    "amount",
    "level",
    "completion",
    "cycle_run_id",
    "corrects_id",
    "ruling_id",
    "revision_id",
    "created_at",
    "note",
)
"""The columns of a ``deduction_entry`` a cycle (ruling_id, revision_id None), a
recomputation after a ruling (ruling_id) or after a catalog revision (revision_id) books
with ``bulk_insert``: each row gives them in this order."""

WARNING_COLUMNS: Final = (
    "period",
    "unit_id",
    "indicator_id",
    "level",
    "completion",
    "expected",
    "actual",
    "cycle_run_id",
    "corrects_id",
    "ruling_id",
    "revision_id",
    "created_at",
)
"""The columns of a ``warning_entry`` (see ``DEDUCTION_COLUMNS`` for who sets ruling_id
and revision_id) booked with ``bulk_insert``: each row gives them in this order."""

NEGATIVE_COLUMNS: Final = ("period", "unit_id", "event", "cycle_run_id", "ruling_id",
                           "revision_id", "created_at")  # fmt: skip
"""The columns of a ``negative_list_entry`` booked with ``bulk_insert``, in this order."""


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _times(values: Sequence[Any], sqlite: bool) -> list[Any]:
    """A ``UTCDateTime`` column's values as the type binds them (each distinct one once:
    a batch's timestamps are mostly the same ``now``)."""
    seen: dict[datetime, Any] = {}
    out: list[Any] = []
    for value in values:
        if not isinstance(value, datetime):
            out.append(value)
            continue
        converted = seen.get(value)
        if converted is None:
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime {value!r} refused: pass an aware datetime")
            converted = seen[value] = _utc_text(value) if sqlite else value
        out.append(converted)
    return out


def _numbers(values: Sequence[Any]) -> list[Any]:
    """A ``Numeric`` column's values for SQLite: floats, as the type binds them there."""
    return [float(v) if isinstance(v, Decimal) else v for v in values]


def _column_converters(
    table: Table, columns: Sequence[str], sqlite: bool
) -> list[Callable[[Sequence[Any]], list[Any]] | None]:
    out: list[Callable[[Sequence[Any]], list[Any]] | None] = []
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, UTCDateTime | DateTime):
            out.append(partial(_times, sqlite=sqlite))
        elif sqlite and isinstance(kind, Numeric):
            out.append(_numbers)
        else:
            out.append(None)
    return out


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """INSERT ``rows`` (tuples in ``columns`` order); return the count.

    Values are converted column by column, by the column's type. SQLite: one
    ``executemany``. PostgreSQL: ``COPY ... FROM STDIN`` (insert triggers fire as for
    INSERT).
    """
    batch = rows if isinstance(rows, list) else list(rows)
    if not batch:
        return 0
    sqlite = conn.dialect.name == "sqlite"
    converters = _column_converters(table, columns, sqlite)
    if any(converters):
        by_column: list[Sequence[Any]] = list(zip(*batch, strict=True))
        if len(by_column) != len(columns):
            raise ValueError(f"{table.name}: rows have {len(by_column)} values, not {len(columns)}")
        for k, convert in enumerate(converters):
            if convert is not None:
                by_column[k] = convert(by_column[k])
        params: list[tuple[Any, ...]] = list(zip(*by_column, strict=True))
    else:
        params = [tuple(row) for row in batch]
    names = ", ".join(columns)
    if sqlite:
        marks = ", ".join(["?"] * len(columns))
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", params)
        return len(params)
    sql = f"COPY {table.name} ({names}) FROM STDIN"
    cursor: Any = conn.connection.cursor()  # psycopg's
    try:
        with cursor.copy(sql) as copy:
            for row in params:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy reports driver errors
        raise DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
    return len(params)


def parse_time(value: Any) -> datetime | None:
    """A time column read raw: SQLite gives naive UTC text, PostgreSQL aware datetimes."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def parse_decimal(value: Any) -> Decimal | None:
    """A numeric column read raw: SQLite gives floats, PostgreSQL Decimals."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))
