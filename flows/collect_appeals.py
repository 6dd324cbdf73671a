"""申诉受理: collect the units' appeals from the platform, refuse the late, register the rest.

Scheduled in ``prefect.yaml`` (Asia/Shanghai working hours). Each run reads the appeals filed
since the watermark (``collection_watermark`` source ``appeals``, period ``all``),
checks each against its window — 5 working days after the month's result was
sent to the unit: the latest delivery of the unit's monthly-analysis message for
that month, else the month's analysis run time (``models.plans.appeal_intake``) —
and stores it once (unique ``platform_id``): ``registered``, or ``refused`` with
the reason in Chinese, the unit being told why once (digest ``appeal_refused``).
Records that cannot be attributed to a unit, indicator and month are set aside in
``quarantined_record`` (source ``appeals``). Running it again stores nothing twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.common import clock
from models.plans.appeal_intake import QUARANTINE_LABELS
from models.rules.periods import to_shanghai
from tasks.appeals.intake import IntakeOutcome, collect_appeals_task
from tasks.artifacts import publish_artifacts_task
from tasks.runtime import current_runtime


def intake_markdown(outcome: IntakeOutcome, day: str) -> str:
    """The run's artifact (Chinese): what was registered, refused and set aside."""
    lines = [
        f"# 申诉受理（{day}）",
        "",
        f"- 读取平台申诉 {outcome.records} 条（含已受理过的重复条目 {outcome.duplicates} 条）",
        f"- 新受理 {len(outcome.registered)} 条，待复查裁定",
        f"- 不予受理 {len(outcome.refused)} 条，已通知申诉单位原因",
        f"- 无法识别、已隔离 {outcome.quarantined} 条（见 quarantined_record，来源 appeals）",
    ]
    if outcome.refused:
        lines += ["", "## 不予受理", "", "| 平台编号 | 原因 |", "| --- | --- |"]
        lines += [f"| {pid} | {why} |" for pid, why in outcome.refused]
    if outcome.reasons:
        lines += ["", "## 隔离原因", "", "| 原因 | 条数 |", "| --- | --- |"]
        lines += [
            f"| {QUARANTINE_LABELS.get(reason, reason)} | {count} |"
            for reason, count in outcome.reasons.items()
        ]
    if outcome.registered:
        lines += ["", "## 新受理", ""]
        lines += [f"- {pid}" for pid in outcome.registered]
    return "\n".join(lines) + "\n"


@flow(
    name="collect_appeals",
    flow_run_name="collect-appeals",
    description="申诉受理：从考核平台读取各单位申诉，逾期或不合规的不予受理并告知原因，其余登记待复查。",
)
def collect_appeals() -> State[dict[str, Any]]:
    """Take in the appeals filed since the last run."""
    logger = get_run_logger()
    runtime = current_runtime()
    now = clock(runtime)
    outcome = collect_appeals_task(runtime, now)
    summary = outcome.as_dict()
    logger.info(
        "appeals: %s read, %s registered, %s refused, %s quarantined, %s already known",
        outcome.records,
        len(outcome.registered),
        len(outcome.refused),
        outcome.quarantined,
        outcome.duplicates,
    )
    day = to_shanghai(now).date().isoformat()
    publish_artifacts_task("collect-appeals", "申诉受理", intake_markdown(outcome, day))
    return Completed(
        message=(
            f"{len(outcome.registered)} registered, {len(outcome.refused)} refused, "
            f"{outcome.quarantined} quarantined"
        ),
        data=summary,
    )
