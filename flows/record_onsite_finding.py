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
from tasks.runtime import current_runtime


class OnsiteFindingForm(BaseModel):
    """实地核查发现（考核办在 Prefect 界面填写，整改通知只含问题与整改期限）。"""

    unit_code: str = Field(
        min_length=1, max_length=64, title="单位编码", description="被核查单位编码，如 C04"
    )
    checked_on: date = Field(title="核查日期", description="实地核查当天（北京时间）")
    description: str = Field(
        min_length=1,
        max_length=2000,
        title="发现的问题",
        description="只写问题本身，不写抽样、计划等核查安排（会发给单位）",
    )
    rectify_by: date = Field(title="整改期限", description="单位须在此日前完成整改")
    plan_period: str | None = Field(
        default=None,
        title="所属抽样季度",
        description="如 2026-Q3；不填则取核查日已抽取的最近一期",
    )
    allow_outside_sample: bool = Field(
        default=False, title="登记抽样范围以外的单位", description="勾选后可登记未被抽中的单位"
    )

    @model_validator(mode="after")
    def _check(self) -> OnsiteFindingForm:
        check_finding(self.as_finding())
        return self

    def as_finding(self) -> FindingForm:
        return FindingForm(self.unit_code, self.checked_on, self.description, self.rectify_by)


@flow(
    name="record_onsite_finding",
    flow_run_name="实地核查发现-{form.unit_code}-{form.checked_on}",
    description="录入实地核查发现：登记问题台账（含整改期限），并向被核查单位发送整改通知。",
)
def record_onsite_finding(form: OnsiteFindingForm) -> dict[str, Any]:
    """Record one finding; returns the finding's and the problem's ids."""
    runtime = current_runtime()
    return record_finding_task(
        runtime, form.as_finding(), clock(runtime), form.plan_period, form.allow_outside_sample
    )
