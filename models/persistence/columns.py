"""The column kinds the tables share: points, platform values, UTC times, JSON."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Numeric
from sqlmodel import Field

from models.persistence.types import UTCDateTime

POINTS = Numeric(12, 2)
VALUE = Numeric(20, 6)


def _points(**kw: Any) -> Any:
    return Field(sa_type=POINTS, **kw)


def _value(**kw: Any) -> Any:
    return Field(sa_type=VALUE, **kw)


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


def _json(**kw: Any) -> Any:
    return Field(sa_column=Column(JSON, nullable=kw.pop("nullable", False)), **kw)
