"""Bulk reads and writes that skip SQLAlchemy's per-row type processing.

At province scale a month is hundreds of thousands of rows; binding each value
through the column types costs more than the database's own work. These helpers
convert values once, the way the column types would (``UTCDateTime``: UTC, naive on
SQLite; ``Numeric``: float on SQLite, Decimal on PostgreSQL), and hand the driver
plain tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} refused: pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, Decimal):
        return float(value)
    return value


def _pg_value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} refused: pass an aware datetime")
    return value


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """INSERT ``rows`` (tuples in ``columns`` order) in one executemany; return the count."""
    if conn.dialect.name == "sqlite":
        mark, convert = "?", _sqlite_value
    else:
        mark, convert = "%s", _pg_value
    params = [tuple(convert(v) for v in row) for row in rows]
    if not params:
        return 0
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    conn.exec_driver_sql(sql, params)
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
