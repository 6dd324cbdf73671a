"""申诉复查裁定: the office rules on an appeal from the Prefect UI (``RulingForm``, flows/forms.py).

Data-error and other appeals: the ruling takes effect at once and the flow runs
``recompute_after_appeal`` as a subflow.

Force majeure (规划政策调整、自然灾害) and reform/innovation (改革创新) appeals: the
ruling entered is the expert panel's recommendation (``ExpertRecommendation``);
the appeal waits for the assessment committee (``awaiting_committee``) and the run
pauses for the committee's typed input (``CommitteeInput``: approved, document_ref,
note), shown as a form on the paused run in the UI. Approved: the ruling takes
effect and the recomputation runs. Not approved: the appeal goes back to the office
(``registered``). No decision within the form's working days (until 18:00 Beijing
time of the last one): the case stays open and visible — the appeal stays
``awaiting_committee``, the run's artifact and log say so — and the run ends
(Prefect marks a pause that timed out as failed); running the flow again with the
same recommendation waits for the committee again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Completed
from pydantic import Field

from flows.common import clock
from flows.forms import RulingForm
from flows.recompute_after_appeal import recompute_after_appeal
from models.plans.appeal_intake import KIND_LABELS
from models.plans.committee import CommitteeDeadline, committee_deadline
from models.rules import Ruling, RulingKind, to_decimal
from tasks.appeals.rulings import (
    RulingRecord,
    find_appeal_task,
    record_committee_task,
    record_ruling_task,
)
from tasks.artifacts import publish_artifacts_task
from tasks.runtime import current_runtime


class CommitteeInput(RunInput):
    """考核委审定意见：是否批准专家组建议（批准后裁定生效并重新核算）。"""

    approved: bool = Field(
        title="批准专家组建议", description="勾选即批准：裁定生效并重新核算；不勾选即退回考核办"
    )
    document_ref: str = Field(title="考核委审定文号", description="如 青考委〔2027〕1号")
    note: str = Field(default="", title="审定意见", description="考核委的审定意见（可不填）")


class CommitteeTimeout(RuntimeError):
    """The committee did not decide in time: the case stays open (awaiting_committee)."""


def make_ruling(kind: str, corrected_value: float | None, share: float | None) -> Ruling:
    """The ruling the form describes; a ``RulingError`` names what is inconsistent."""
    return Ruling(
        RulingKind(kind),
        None if corrected_value is None else to_decimal(corrected_value, name="corrected_value"),
        None if share is None else to_decimal(share, name="share"),
    )


def _number(value: Decimal | None) -> str:
    return "—" if value is None else format(value.normalize(), "f")


def _ruling_text(record: RulingRecord, ruling: Ruling) -> str:
    text = RulingKind(record.kind).label
    if ruling.corrected_value is not None:
        text += f"（更正数值 {_number(ruling.corrected_value)}）"
    if ruling.share is not None:
        text += f"（减轻比例 {_number(ruling.share * 100)}%）"
    return text


def _case_lines(record: RulingRecord) -> list[str]:
    a = record.appeal
    return [
        f"- 单位：{a.unit_name}（{a.unit_code}）",
        f"- 指标：{a.indicator_name}（{a.indicator_code}），考核月份 {a.period}",
        f"- 申诉类型：{KIND_LABELS.get(a.kind, a.kind)}；平台编号 {a.platform_id}",
        f"- 申诉理由：{a.reason}",
    ]


def waiting_markdown(
    record: RulingRecord,
    ruling: Ruling,
    reason: str,
    document_ref: str,
    deadline: CommitteeDeadline,
) -> str:
    lines = [f"# 申诉 {record.appeal.platform_id}（内部编号 {record.appeal.id}）：待考核委审定", ""]
    lines += _case_lines(record)
    lines += [
        f"- 专家组建议（裁定 {record.ruling_id}）：{_ruling_text(record, ruling)}。{reason}"
        f"（文号：{document_ref or '—'}）",
        "",
        "考核委审定后方可生效。请在本运行页面点击“Resume”，填写：",
        "",
        "- 批准专家组建议：勾选即批准，不勾选即退回考核办；",
        "- 考核委审定文号；",
        "- 审定意见。",
        "",
        f"审定期限：{deadline.label}。逾期未审定的，案件保持“待考核委审定”，"
        "以相同建议重新运行本流程即可再次等待审定。",
    ]
    return "\n".join(lines) + "\n"


def timeout_markdown(record: RulingRecord, deadline: CommitteeDeadline) -> str:
    lines = [
        f"# 申诉 {record.appeal.platform_id}（内部编号 {record.appeal.id}）："
        "考核委未在期限内审定，案件仍待审定",
        "",
    ]
    lines += _case_lines(record)
    lines += [
        f"- 审定期限 {deadline.label} 已过，未收到考核委审定意见。",
        f"- 案件状态保持“待考核委审定”（awaiting_committee）；专家组建议（裁定 {record.ruling_id}）"
        "尚未生效，未重新核算，未通知单位。",
        "- 以相同建议重新运行 rule_on_appeal 即可再次等待考核委审定。",
    ]
    return "\n".join(lines) + "\n"


def _poll_seconds(timeout: int) -> int:
    """Check for the committee's input often enough for short waits, rarely for long ones."""
    return max(1, min(30, timeout // 20))


@flow(
    name="rule_on_appeal",
    flow_run_name="申诉裁定-{form.appeal}-{form.ruling}",
    description=(
        "申诉复查裁定：驳回、更正数据、免于扣分或减轻扣分；不可抗力与改革创新类申诉经专家组建议、"
        "考核委审定后生效；生效后重新核算并告知单位。"
    ),
)
def rule_on_appeal(form: RulingForm) -> State[dict[str, Any]]:
    """Rule on the appeal the form names (platform or internal id): ``corrected`` needs
    ``corrected_value``, ``reduced`` a ``share`` of the deduction removed (0 to 1)."""
    logger = get_run_logger()
    runtime = current_runtime()
    decided = make_ruling(form.ruling.kind.value, form.corrected_value, form.share)
    appeal_id = find_appeal_task(runtime, form.appeal)
    now = clock(runtime)
    record = record_ruling_task(
        runtime,
        appeal_id,
        decided.kind.value,
        decided.corrected_value,
        decided.share,
        form.reason,
        form.document_ref,
        form.ruled_by,
        now,
    )
    key = f"appeal-{appeal_id}-committee"
    if not record.effective:
        deadline = committee_deadline(now, form.committee_working_days, runtime.calendar)
        timeout = form.committee_timeout_seconds or deadline.seconds_from(now)
        waiting = waiting_markdown(record, decided, form.reason, form.document_ref, deadline)
        publish_artifacts_task(key, f"申诉 {record.appeal.platform_id} 待考核委审定", waiting)
        logger.info(
            "appeal %s: expert recommendation %s (ruling %s) waits for the committee until %s",
            appeal_id,
            record.kind,
            record.ruling_id,
            deadline.due.isoformat(),
        )
        try:
            decision = pause_flow_run(
                wait_for_input=CommitteeInput.with_initial_data(description=waiting),
                timeout=timeout,
                poll_interval=_poll_seconds(timeout),
                key=f"committee-{record.ruling_id}",
            )
        except FlowPauseTimeout:
            publish_artifacts_task(
                key,
                f"申诉 {record.appeal.platform_id} 仍待审定",
                timeout_markdown(record, deadline),
            )
            logger.warning(
                "appeal %s: the committee did not decide within %ss; the case stays open "
                "(awaiting_committee, ruling %s not in effect)",
                appeal_id,
                timeout,
                record.ruling_id,
            )
            raise CommitteeTimeout(
                f"appeal {appeal_id} stays awaiting_committee: no decision within "
                f"{timeout}s; run rule_on_appeal again to wait again"
            ) from None
        record = record_committee_task(
            runtime,
            record.ruling_id,
            decision.approved,
            decision.document_ref,
            decision.note,
            clock(runtime),
        )
        if not record.effective:
            logger.info("appeal %s: the committee did not approve; back to the office", appeal_id)
            return Completed(
                name="NotApproved",
                message=f"appeal {appeal_id}: committee did not approve ruling {record.ruling_id}",
                data={"appeal_id": appeal_id, "ruling_id": record.ruling_id, "approved": False},
            )
    state = recompute_after_appeal(ruling_id=record.ruling_id, return_state=True)
    if not state.is_completed():
        raise RuntimeError(
            f"ruling {record.ruling_id} is in effect but its recomputation ended {state.name}: "
            f"{state.message}; run recompute_after_appeal({record.ruling_id}) again"
        )
    result = state.result()
    return Completed(
        message=f"appeal {appeal_id}: {record.kind} (ruling {record.ruling_id}) in effect",
        data={
            "appeal_id": appeal_id,
            "ruling_id": record.ruling_id,
            "kind": record.kind,
            "recompute": result if isinstance(result, dict) else {},
        },
    )
