"""The forms staff fill in the Prefect UI: one pydantic model per flow, Chinese titles.

Prefect titles a top-level flow parameter by its own name, but keeps ``Field(title=…,
description=…)`` on the fields of a pydantic-model parameter (and of a ``RunInput``);
so each on-demand flow takes one model parameter and the UI shows these titles.
Enums carry their Chinese label as value, so the drop-downs read in Chinese; the
English names are accepted as well (tests, scripts).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from models.rules import RulingKind

__all__ = ["ProblemClosureForm", "RulingChoice", "RulingForm"]

DEFAULT_COMMITTEE_WORKING_DAYS = 5


class RulingChoice(StrEnum):
    """裁定结果"""

    REJECTED = "驳回"
    CORRECTED = "更正数据"
    WAIVED = "免于扣分"
    REDUCED = "减轻扣分"

    @property
    def kind(self) -> RulingKind:
        return RulingKind(self.name.lower())

    @classmethod
    def of(cls, value: object) -> RulingChoice:
        """From the Chinese label or the English name (``waived``)."""
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        return cls(str(value))


class RulingForm(BaseModel):
    """申诉复查裁定（考核办在 Prefect 界面填写的表单）。"""

    appeal: str = Field(
        min_length=1,
        max_length=120,
        title="申诉编号",
        description="平台申诉编号（如 ap-202610-01，见申诉受理记录）或内部编号（如 12）",
    )
    ruling: RulingChoice = Field(
        title="裁定结果",
        description="驳回；更正数据（须填更正后数值）；免于扣分；减轻扣分（须填减轻比例）",
    )
    reason: str = Field(min_length=1, title="裁定理由", description="复查结论与依据")
    document_ref: str = Field(
        default="", title="文号", description="裁定或专家组建议的文号，如 青考办〔2026〕12号"
    )
    corrected_value: float | None = Field(
        default=None, title="更正后数值", description="仅“更正数据”填写：核实后的指标数值"
    )
    share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        title="减轻比例",
        description="仅“减轻扣分”填写：免去的扣分比例，0 到 1 之间（如 0.5 即免去一半）",
    )
    ruled_by: str = Field(default="考核办", title="裁定人", description="考核办或专家组成员")
    committee_working_days: int = Field(
        default=DEFAULT_COMMITTEE_WORKING_DAYS,
        ge=1,
        le=60,
        title="考核委审定期限（工作日）",
        description="不可抗力、改革创新类申诉等待考核委审定的工作日数；逾期案件保持待审定",
    )
    committee_timeout_seconds: SkipJsonSchema[int | None] = Field(
        default=None, description="Tests only: a wait in seconds instead of working days."
    )

    @field_validator("ruling", mode="before")
    @classmethod
    def _ruling(cls, value: Any) -> RulingChoice:
        return RulingChoice.of(value)

    @field_validator("appeal", mode="before")
    @classmethod
    def _appeal(cls, value: Any) -> str:
        return str(value).strip()


class ProblemClosureForm(BaseModel):
    """问题销号（整改完成后考核办填写）。"""

    problem_id: int = Field(
        ge=1, title="问题编号", description="问题台账中的编号（assess problems list 可查）"
    )
    note: str = Field(default="", title="销号说明", description="整改情况与复核意见")
