"""The office's tables: appeals and their rulings, on-site checks, uses of results.

Re-exported by ``models.persistence.tables`` (import them from there).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.persistence.columns import _json, _ts, _value

# --------------------------------------------------------------------------- appeals


class Appeal(SQLModel, table=True):
    """An appeal (申诉) filed on the platform."""

    __table_args__ = (UniqueConstraint("platform_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform_id: str = Field(max_length=120)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    indicator_id: int = Field(foreign_key="indicator.id")
    period: str = Field(max_length=7)
    kind: str = Field(max_length=20)
    claimed_value: Decimal | None = _value(default=None, nullable=True)
    reason: str = Field(max_length=2000)
    filed_at: datetime = _ts()
    received_at: datetime = _ts()
    status: str = Field(
        default="registered",
        max_length=30,
        description="registered | refused | expert_review | awaiting_committee | ruled | expired",
    )
    refusal_reason: str = Field(default="", max_length=500)


class Ruling(SQLModel, table=True):
    """The office's ruling on an appeal."""

    id: int | None = Field(default=None, primary_key=True)
    appeal_id: int = Field(foreign_key="appeal.id", index=True)
    kind: str = Field(max_length=20, description="rejected | corrected | waived | reduced")
    corrected_value: Decimal | None = _value(default=None, nullable=True)
    share: Decimal | None = _value(default=None, nullable=True)
    reason: str = Field(max_length=2000)
    document_ref: str = Field(default="", max_length=200)
    ruled_by: str = Field(default="", max_length=200)
    ruled_at: datetime = _ts()
    effective_at: datetime | None = _ts(default=None, nullable=True)


class ExpertRecommendation(SQLModel, table=True):
    """The expert panel's (专家组) recommendation on a force-majeure or innovation case."""

    __tablename__ = "expert_recommendation"

    id: int | None = Field(default=None, primary_key=True)
    appeal_id: int = Field(foreign_key="appeal.id", index=True)
    ruling_id: int | None = Field(default=None, foreign_key="ruling.id")
    recommendation: str = Field(max_length=2000)
    experts: str = Field(default="", max_length=500)
    recommended_at: datetime = _ts()


class CommitteeDecision(SQLModel, table=True):
    """The assessment committee's (考核委) approval or refusal of a recommended ruling."""

    __tablename__ = "committee_decision"

    id: int | None = Field(default=None, primary_key=True)
    appeal_id: int = Field(foreign_key="appeal.id", index=True)
    ruling_id: int = Field(foreign_key="ruling.id")
    approved: bool
    document_ref: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=2000)
    decided_at: datetime = _ts()


# -------------------------------------------------------------------- on-site checks


class OnsiteCheckPlan(SQLModel, table=True):
    """A confidential plan of unannounced on-site checks (四不两直) drawn at a quarter."""

    __tablename__ = "onsite_check_plan"
    __table_args__ = (UniqueConstraint("period"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7)
    seed: int
    candidates: list[dict[str, Any]] = _json(default_factory=list)
    sample: list[str] = _json(default_factory=list)
    drawn_at: datetime = _ts()


class OnsiteCheckFinding(SQLModel, table=True):
    """What an on-site check found at a unit."""

    __tablename__ = "onsite_check_finding"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="onsite_check_plan.id", index=True)
    unit_id: int = Field(foreign_key="unit.id")
    checked_on: date
    description: str = Field(max_length=2000)
    rectify_by: date
    recorded_at: datetime = _ts()


# ------------------------------------------------------------------ uses of results


class ResultUse(SQLModel, table=True):
    """A use of a unit's annual result (七关联), e.g. a promotion recommendation."""

    __tablename__ = "result_use"

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    unit_id: int = Field(foreign_key="unit.id")
    use: str = Field(max_length=20)
    reference: str = Field(default="", max_length=200)
    recorded_at: datetime = _ts()
    people: int = Field(
        default=0,
        sa_column_kwargs={"server_default": "0"},
        description="people the use concerned (e.g. cadres recommended for promotion)",
    )


class ShareRecord(SQLModel, table=True):
    """An export shared with a supervisor (巡察, livelihood, major projects)."""

    __tablename__ = "share_record"

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(max_length=40)
    kind: str = Field(max_length=40)
    period: str = Field(max_length=7)
    content_hash: str = Field(max_length=64)
    unit_codes: list[str] = _json(default_factory=list)
    shared_at: datetime = _ts()
