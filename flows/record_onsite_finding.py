"""录入实地核查发现: record what an on-site check found, then tell the unit what to rectify.

The office fills a typed form (``OnsiteFindingForm``: unit code, day of the check,
the problem found, the rectification deadline). The flow records the finding
(``OnsiteCheckFinding``, linked to the quarter's plan in force that day) and its
problem in the problem ledger (``ProblemEntry``, source ``onsite_check``), then
queues the unit's rectification notice (整改通知): the problem and its deadline only,
nothing about the plan. A description that would betray a check plan to the unit is
refused before anything is recorded.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow
from pydantic import BaseModel, Field, model_validator

from flows.common import clock
from models.plans.onsite import FindingForm, check_finding
from tasks.onsite_tasks import record_finding_task


class OnsiteFindingForm(BaseModel):
    """一条实地核查发现（the form the office fills in the Prefect UI)."""

    unit_code: str = Field(min_length=1, max_length=64, description="被核查单位编码")
    checked_on: date = Field(description="核查日期")
    description: str = Field(min_length=1, max_length=2000, description="发现的问题")
    rectify_by: date = Field(description="整改期限")
    plan_period: str | None = Field(
        default=None, description="所属抽样季度（如 2026-Q3）；不填则取核查日已抽取的最近一期"
    )
    allow_outside_sample: bool = Field(default=False, description="登记抽样范围以外的单位")

    @model_validator(mode="after")
    def _check(self) -> OnsiteFindingForm:
        check_finding(self.as_finding())
        return self

    def as_finding(self) -> FindingForm:
        return FindingForm(self.unit_code, self.checked_on, self.description, self.rectify_by)


@flow(
    name="record_onsite_finding",
    description="录入实地核查发现：登记问题台账（含整改期限），并向被核查单位发送整改通知。",
)
def record_onsite_finding(form: OnsiteFindingForm) -> dict[str, Any]:
    """Record one finding; returns the finding's and the problem's ids."""
    return record_finding_task(
        form.as_finding(), clock(), form.plan_period, form.allow_outside_sample
    )
