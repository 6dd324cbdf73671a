"""The assessment domain's tables (SQLModel).

Groups, in the rulebook's order:

- catalog: ``Unit``, ``AssessmentYear``, ``Item``, ``Indicator``, ``IndicatorLineage``
- collection: ``ProgressRecord``, ``CollectionWatermark``, ``QuarantinedRecord``,
  ``UnavailableValue``
- cycles: ``CycleRun`` (one claim per (cycle, period))
- ledgers (append-only, enforced by database triggers, see ``LEDGER_TABLES``):
  ``DeductionEntry``, ``WarningEntry``, ``ProblemEntry``, ``ProblemClosure``,
  ``NegativeListEntry``, ``ResultEntry``, ``DeliveryAttempt``
- notifications: ``Message`` (the outbox) and its ``DeliveryAttempt`` rows
- appeals: ``Appeal``, ``Ruling``, ``ExpertRecommendation``, ``CommitteeDecision``
- on-site checks: ``OnsiteCheckPlan``, ``OnsiteCheckFinding``
- uses of results: ``ResultUse``, ``ShareRecord``

(the last three groups are defined in ``office_tables``, the column kinds in ``columns``;
all are imported from here)

Datetimes are aware and stored in UTC (``UTCDateTime``); money-like points are
``Numeric(12, 2)``; platform values and completions ``Numeric(20, 6)``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, Table, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from models.persistence.columns import POINTS as POINTS
from models.persistence.columns import VALUE as VALUE
from models.persistence.columns import _json, _points, _ts, _value
from models.persistence.office_tables import (
    Appeal as Appeal,
)
from models.persistence.office_tables import (
    CommitteeDecision as CommitteeDecision,
)
from models.persistence.office_tables import (
    ExpertRecommendation as ExpertRecommendation,
)
from models.persistence.office_tables import (
    OnsiteCheckFinding as OnsiteCheckFinding,
)
from models.persistence.office_tables import (
    OnsiteCheckPlan as OnsiteCheckPlan,
)
from models.persistence.office_tables import (
    ResultUse as ResultUse,
)
from models.persistence.office_tables import (
    Ruling as Ruling,
)
from models.persistence.office_tables import (
    ShareRecord as ShareRecord,
)

# --------------------------------------------------------------------------- catalog


class UnitBase(SQLModel):
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20, description="county | department")
    category: str = Field(max_length=40, index=True)
    on_platform: bool = False
    onboarded_on: date | None = None


class Unit(UnitBase, table=True):
    """An assessed unit (被考核单位)."""

    id: int | None = Field(default=None, primary_key=True)
    channels: list[str] = _json(default_factory=list)


class AssessmentYear(SQLModel, table=True):
    """A year and its rules; rules are frozen once the year's first cycle has run."""

    __tablename__ = "assessment_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str = Field(default="", max_length=200)
    rules: dict[str, Any] = _json(default_factory=dict)
    frozen_at: datetime | None = _ts(default=None, nullable=True)
    published_at: datetime | None = _ts(default=None, nullable=True)


class Item(SQLModel, table=True):
    """An assessment item (考核事项) of one year with its approval or filing record."""

    __table_args__ = (UniqueConstraint("year", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(foreign_key="assessment_year.year", index=True)
    code: str = Field(max_length=64)
    name: str = Field(max_length=200)
    key: bool = False
    status: str = Field(max_length=20, description="approved | filed | proposed | rejected")
    decided_by: str = Field(default="", max_length=200)
    decided_on: date | None = None
    document_ref: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=500)
    revision_id: int | None = Field(default=None, description="catalog_revision.id that added it")


class Indicator(SQLModel, table=True):
    """An indicator (考核指标) of one year.

    ``lifecycle``: active | adapted (an active variant for some categories) |
    merged (retired into ``merged_into``) | simplified (retired with ``reason``).
    Lineage is kept in ``IndicatorLineage``; rows are never deleted.
    """

    __table_args__ = (UniqueConstraint("year", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(foreign_key="assessment_year.year", index=True)
    code: str = Field(max_length=64)
    item_id: int = Field(foreign_key="item.id", index=True)
    name: str = Field(max_length=200)
    weight: Decimal = _points()
    direction: str = Field(max_length=20, description="increase | decrease | milestone")
    target: Decimal | None = _value(default=None, nullable=True)
    baseline: Decimal | None = _value(default=None, nullable=True)
    unit_of_measure: str = Field(default="", max_length=40)
    plan: list[str] | None = _json(default=None, nullable=True)
    milestones: list[dict[str, Any]] = _json(default_factory=list)
    categories: list[str] = _json(default_factory=list)
    source_field: str = Field(default="", max_length=120)
    lifecycle: str = Field(default="active", max_length=20)
    reason: str = Field(default="", max_length=200)
    merged_into_id: int | None = Field(default=None, foreign_key="indicator.id")
    adapted_from_id: int | None = Field(default=None, foreign_key="indicator.id")
    revision_id: int | None = Field(default=None, description="catalog_revision.id that added it")


class CatalogRevision(SQLModel, table=True):
    """An audited change of a frozen year's catalog, effective from a month (append-only).

    ``changes``: the difference it carries (``models.catalog.revision``), each change with
    its row before and after; rows it added name it in ``revision_id``.
    """

    __tablename__ = "catalog_revision"

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(foreign_key="assessment_year.year", index=True)
    document_ref: str = Field(max_length=200)
    effective_month: str = Field(max_length=7)
    reason: str = Field(default="", max_length=500)
    recorded_by: str = Field(default="", max_length=100)
    recorded_at: datetime = _ts()
    content_hash: str = Field(max_length=64)
    changes: list[dict[str, Any]] = _json(default_factory=list)


class IndicatorLineage(SQLModel, table=True):
    """An edge from an indicator to one it came from (merged_from | adapted_from)."""

    __tablename__ = "indicator_lineage"
    __table_args__ = (UniqueConstraint("indicator_id", "source_id", "relation"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    source_id: int = Field(foreign_key="indicator.id", index=True)
    relation: str = Field(max_length=20)


# ------------------------------------------------------------------------ collection


class ProgressRecord(SQLModel, table=True):
    """One version of a platform progress record: a resubmission adds a version.

    The platform keeps no history, so versions are what we have seen; the monthly
    analysis picks the latest one updated by the upload deadline.
    """

    __tablename__ = "progress_record"
    __table_args__ = (
        UniqueConstraint("record_id", "updated_at"),
        Index("ix_progress_period_unit_indicator", "period", "unit_id", "indicator_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(max_length=120)
    period: str = Field(max_length=7)
    unit_id: int = Field(description="unit.id (no foreign key: a bulk table, see 0003)")
    indicator_id: int = Field(description="indicator.id (no foreign key)")
    value: Decimal | None = _value(default=None, nullable=True)
    status: str = Field(max_length=20, description="submitted | draft | withdrawn")
    reported_at: datetime | None = _ts(default=None, nullable=True)
    updated_at: datetime = _ts()
    collected_at: datetime = _ts()
    evidence_count: int = 0
    note: str | None = None


class CollectionWatermark(SQLModel, table=True):
    """How far a source has been read: the latest ``updated_at`` seen per (source, period)."""

    __tablename__ = "collection_watermark"

    source: str = Field(primary_key=True, max_length=20)
    period: str = Field(primary_key=True, max_length=7)
    high_water: datetime | None = _ts(default=None, nullable=True)
    last_run_at: datetime | None = _ts(default=None, nullable=True)
    records_seen: int = 0


class QuarantinedRecord(SQLModel, table=True):
    """A platform record set aside with its reason and the raw record."""

    __tablename__ = "quarantined_record"
    __table_args__ = (UniqueConstraint("fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)
    period: str | None = Field(default=None, max_length=7, index=True)
    record_id: str | None = Field(default=None, max_length=120)
    reason: str = Field(max_length=40)
    detail: str = Field(default="", max_length=500)
    raw: dict[str, Any] = _json(default_factory=dict)
    fingerprint: str = Field(max_length=64)
    first_seen_at: datetime = _ts()


class UnavailableValue(SQLModel, table=True):
    """A month the platform could not be read for a unit (unit NULL: every unit)."""

    __tablename__ = "unavailable_value"

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7, index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    reason: str = Field(max_length=500)
    recorded_at: datetime = _ts()
    resolved_at: datetime | None = _ts(default=None, nullable=True)


# ---------------------------------------------------------------------------- cycles


class MonthlyAssessment(SQLModel, table=True):
    """The latest computed state of a (unit, indicator, month); the ledgers keep history."""

    __tablename__ = "monthly_assessment"
    __table_args__ = (
        UniqueConstraint("period", "unit_id", "indicator_id"),
        Index("ix_monthly_assessment_unit", "unit_id", "period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    period: str = Field(max_length=7)
    unit_id: int = Field(description="unit.id (no foreign key: a bulk table, see 0003)")
    indicator_id: int = Field(description="indicator.id (no foreign key)")
    level: str = Field(max_length=20)
    expected: Decimal | None = _value(default=None, nullable=True)
    actual: Decimal | None = _value(default=None, nullable=True)
    completion: Decimal | None = _value(default=None, nullable=True)
    pre_deduction: Decimal = _points()
    cycle_run_id: int | None = Field(default=None, description="cycle_run.id (no foreign key)")
    computed_at: datetime = _ts()


class CycleRun(SQLModel, table=True):
    """The claim of one (cycle, period): a second claim of a completed one is a no-op."""

    __tablename__ = "cycle_run"
    __table_args__ = (UniqueConstraint("cycle", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle: str = Field(max_length=40)
    period: str = Field(max_length=7)
    status: str = Field(
        max_length=20, description="queued | running | completed | partial | failed"
    )
    flow_run_id: str | None = Field(default=None, max_length=64)
    claimed_at: datetime = _ts()
    finished_at: datetime | None = _ts(default=None, nullable=True)
    attempts: int = 1
    summary: dict[str, Any] = _json(default_factory=dict)


# --------------------------------------------------------------------------- ledgers


class DeductionEntry(SQLModel, table=True):
    """A signed entry of the deduction ledger (扣分台账).

    The sum of a (unit, indicator, year)'s entries is its current deduction.
    ``stage``: pre (预扣分) or final (annual confirmed deduction).
    """

    __tablename__ = "deduction_entry"
    __table_args__ = (Index("ix_deduction_unit_indicator_year", "unit_id", "indicator_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    period: str = Field(max_length=7)
    unit_id: int = Field(foreign_key="unit.id")
    indicator_id: int = Field(foreign_key="indicator.id")
    kind: str = Field(max_length=20, description="new | adjusted | released | settled")
    stage: str = Field(default="pre", max_length=10)
    amount: Decimal = _points()
    level: str = Field(max_length=20)
    completion: Decimal | None = _value(default=None, nullable=True)
    cycle_run_id: int | None = Field(default=None, foreign_key="cycle_run.id")
    corrects_id: int | None = Field(default=None, foreign_key="deduction_entry.id")
    ruling_id: int | None = Field(default=None, foreign_key="ruling.id")
    revision_id: int | None = Field(
        default=None, description="catalog_revision.id of a recompute after a catalog change"
    )
    created_at: datetime = _ts()
    note: str = Field(default="", max_length=500)


class WarningEntry(SQLModel, table=True):
    """An orange or red state recorded in the warning ledger (预警台账)."""

    __tablename__ = "warning_entry"
    __table_args__ = (Index("ix_warning_unit_period", "unit_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7)
    unit_id: int = Field(foreign_key="unit.id")
    indicator_id: int = Field(foreign_key="indicator.id")
    level: str = Field(max_length=20)
    completion: Decimal | None = _value(default=None, nullable=True)
    expected: Decimal | None = _value(default=None, nullable=True)
    actual: Decimal | None = _value(default=None, nullable=True)
    cycle_run_id: int | None = Field(default=None, foreign_key="cycle_run.id")
    corrects_id: int | None = Field(default=None, foreign_key="warning_entry.id")
    ruling_id: int | None = Field(default=None, foreign_key="ruling.id")
    revision_id: int | None = Field(
        default=None, description="catalog_revision.id of a recompute after a catalog change"
    )
    created_at: datetime = _ts()


class ProblemEntry(SQLModel, table=True):
    """A problem in the problem ledger (问题台账) with its rectification deadline."""

    __tablename__ = "problem_entry"

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    source: str = Field(max_length=20, description="onsite_check | analysis | inspection")
    period: str = Field(max_length=7)
    indicator_id: int | None = Field(default=None, foreign_key="indicator.id")
    finding_id: int | None = Field(default=None, foreign_key="onsite_check_finding.id")
    description: str = Field(max_length=2000)
    rectify_by: date
    created_at: datetime = _ts()


class ProblemClosure(SQLModel, table=True):
    """The closing of a problem (appended, the problem row is never edited)."""

    __tablename__ = "problem_closure"
    __table_args__ = (UniqueConstraint("problem_id"),)

    id: int | None = Field(default=None, primary_key=True)
    problem_id: int = Field(foreign_key="problem_entry.id")
    closed_at: datetime = _ts()
    note: str = Field(default="", max_length=2000)


class NegativeListEntry(SQLModel, table=True):
    """A unit going on (``on``) or off (``off``) the negative list (负面清单) in a month."""

    __tablename__ = "negative_list_entry"
    __table_args__ = (Index("ix_negative_unit_period", "unit_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7)
    unit_id: int = Field(foreign_key="unit.id")
    event: str = Field(max_length=10)
    cycle_run_id: int | None = Field(default=None, foreign_key="cycle_run.id")
    ruling_id: int | None = Field(default=None, foreign_key="ruling.id")
    revision_id: int | None = Field(
        default=None, description="catalog_revision.id of a recompute after a catalog change"
    )
    created_at: datetime = _ts()


class ResultEntry(SQLModel, table=True):
    """A unit's score, rank and grade at a cycle; a restatement appends a new entry.

    ``version``: the (cycle, period)'s result version the row belongs to (1 for the
    first run; each restatement that changes a row adds the next version holding the
    rows it changed); a unit's current result is its row of the highest version.
    ``cause``: what made the version (``run:<cycle run id>``, ``rerun:<id>``,
    ``ruling:<id>``); ``created_at``: when it was recorded.
    """

    __tablename__ = "result_entry"
    __table_args__ = (Index("ix_result_cycle_period_unit", "cycle", "period", "unit_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cycle: str = Field(max_length=40)
    period: str = Field(max_length=7)
    unit_id: int = Field(foreign_key="unit.id")
    category: str = Field(max_length=40)
    score: Decimal = _points()
    deductions: Decimal = _points()
    total_weight: Decimal = _points()
    rank: int
    grade: str | None = Field(default=None, max_length=20)
    cycle_run_id: int | None = Field(default=None, foreign_key="cycle_run.id")
    ruling_id: int | None = Field(default=None, foreign_key="ruling.id")
    created_at: datetime = _ts()
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    cause: str = Field(default="", max_length=60, sa_column_kwargs={"server_default": ""})


# --------------------------------------------------------------------- notifications


class Message(SQLModel, table=True):
    """One message to one unit (or to the office) in the outbox."""

    __table_args__ = (
        UniqueConstraint("key"),
        Index("ix_message_kind_period_unit", "kind", "period", "unit_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, description="unit, kind, period and content hash")
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    audience: str = Field(default="unit", max_length=20, description="unit | office")
    kind: str = Field(max_length=40)
    period: str = Field(max_length=7)
    content_hash: str = Field(max_length=64)
    subject: str = Field(max_length=300)
    body_markdown: str
    body_text: str
    body_html: str
    supersedes_id: int | None = Field(default=None, foreign_key="message.id")
    merged_into_id: int | None = Field(
        default=None,
        foreign_key="message.id",
        index=True,
        description="status merged: the newer message of its kind that speaks for it",
    )
    content: str | None = Field(
        default=None, description="the digest's canonical JSON (to merge it later)"
    )
    status: str = Field(default="pending", max_length=20)
    due_at: datetime = _ts()
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts(default=None, nullable=True)
    cycle_run_id: int | None = Field(default=None, foreign_key="cycle_run.id")
    claimed_by: str | None = Field(
        default=None,
        max_length=64,
        description="the delivery run that claimed it last (kept after release)",
    )
    lease_until: datetime | None = _ts(
        default=None, nullable=True, description="set while a delivery run holds it"
    )


class DeliveryAttempt(SQLModel, table=True):
    """One attempt to deliver a message to one channel (channel stored redacted)."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    channel: str = Field(max_length=300)
    attempted_at: datetime = _ts()
    outcome: str = Field(max_length=20, description="delivered | failed")
    error: str = Field(default="", max_length=2000)
    resend: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": false()},
        description="sent again after an expired lease: an earlier post's answer was lost",
    )


LEDGER_TABLES: tuple[str, ...] = (
    "deduction_entry",
    "warning_entry",
    "problem_entry",
    "problem_closure",
    "negative_list_entry",
    "result_entry",
    "delivery_attempt",
    "catalog_revision",
)
"""Tables whose rows are never updated, deleted or replaced: the database refuses it
(``ledger_trigger_sql``; on SQLite also ``ledger_replace_guard_sql``, migration 0007). A
new ledger's migration adds both; ``tests/hostile/test_db_guards.py`` probes every table
listed here."""


def table_of(model: type[SQLModel]) -> Table:
    """The model's table: Core statements on it skip the ORM's per-row bookkeeping."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def columns_of(model: type[SQLModel]) -> Any:
    """The table's columns, typed loosely enough for SQLAlchemy Core statements."""
    return table_of(model).c
