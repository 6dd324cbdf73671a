"""A real row of any table, made from the schema alone (so a new ledger needs no new code).

``RowMaker(conn).row("problem_closure")`` inserts one row with every NOT NULL column
filled by its type (``year`` 2026, ``period`` 2026-03), after the rows its non-null
foreign keys point to (made the same way, once per table); nullable columns stay NULL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Table
from sqlmodel import SQLModel

import models.persistence.tables  # noqa: F401 (registers the tables)

NOW = datetime(2026, 4, 2, 1, 0, tzinfo=UTC)


def schema_table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def base_type(column: sa.Column[Any]) -> Any:
    """The column's type, under its decorator (``AutoString``: ``String``)."""
    kind = column.type
    return kind.impl_instance if isinstance(kind, sa.types.TypeDecorator) else kind


def value_for(column: sa.Column[Any]) -> Any:
    """A valid value of ``column``'s type."""
    kind = base_type(column)
    if column.name == "year":
        return 2026
    if column.name == "period":
        return "2026-03"
    if isinstance(kind, sa.DateTime):
        return NOW
    if isinstance(kind, sa.Date):
        return date(2026, 3, 31)
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.Numeric):
        return Decimal("3.00")
    if isinstance(kind, sa.JSON):
        return {}
    if isinstance(kind, sa.String):
        return "甲"
    raise TypeError(f"{column.table.name}.{column.name}: no value for type {kind!r}")


def _generated(column: sa.Column[Any]) -> bool:
    return (
        column.primary_key
        and isinstance(column.type, sa.Integer)
        and column.autoincrement is not False
    )


class RowMaker:
    """Makes (once per table) a valid row and returns its values, keys included."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.made: dict[str, dict[str, Any]] = {}

    def row(self, name: str) -> dict[str, Any]:
        if name in self.made:
            return self.made[name]
        table = schema_table(name)
        values: dict[str, Any] = {}
        for column in table.columns:
            if _generated(column) or column.nullable:
                continue
            keys = list(column.foreign_keys)
            if keys:
                target = keys[0].column
                if target.table.name == name:
                    raise ValueError(f"{name}.{column.name}: a NOT NULL key to its own table")
                values[column.name] = self.row(target.table.name)[target.name]
            else:
                values[column.name] = value_for(column)
        inserted = self.conn.execute(
            table.insert().values(values).returning(*table.primary_key.columns)
        ).one()
        values.update(inserted._mapping)
        self.made[name] = values
        return values


def key_columns(table: Table) -> set[str]:
    """Columns of the primary key, of a unique constraint or index, or of a foreign key."""
    keys = {c.name for c in table.primary_key.columns}
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint | sa.ForeignKeyConstraint):
            keys |= {c.name for c in constraint.columns}
    for index in table.indexes:
        if index.unique:
            keys |= {c.name for c in index.columns}
    return keys


def unique_keys(table: Table) -> list[tuple[str, ...]]:
    """The table's unique keys other than its primary key."""
    out = [
        tuple(c.name for c in u.columns)
        for u in table.constraints
        if isinstance(u, sa.UniqueConstraint) and not isinstance(u, sa.PrimaryKeyConstraint)
    ]
    out += [tuple(c.name for c in i.columns) for i in table.indexes if i.unique]
    return out


def changed_expression(table: Table, source: str = "") -> tuple[str, str]:
    """A column outside every key and an SQL expression giving it another value (from
    ``source``'s row: ``excluded.`` in an upsert, empty for the row itself)."""
    keys = key_columns(table)
    plain = [c for c in table.columns if c.name not in keys]
    for column in plain:
        if isinstance(base_type(column), sa.Integer | sa.Numeric):
            return column.name, f"{source}{column.name} + 1"
    for column in plain:
        if isinstance(base_type(column), sa.String):
            return column.name, f"{source}{column.name} || '改'"
    raise ValueError(f"{table.name}: no column outside its keys to change")
