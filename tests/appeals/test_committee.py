"""Force majeure and innovation appeals: the expert panel recommends, the committee decides.

The committee's step is a paused flow run waiting for typed input (the form in the
UI); the tests run the flow in a thread and resume it through the API as the UI does.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

import pytest
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run
from prefect.states import State
from sqlalchemy import Engine

from deployments.explain_cli import explain_command
from flows.rule_on_appeal import rule_on_appeal
from models.rules import Ruling, RulingKind
from tests.appeals.support import (
    assert_matches_fresh,
    file_appeal,
    ledger_sums,
    pick_cell,
    pick_rank_moving_cell,
    rows,
    ruling_form,
)

pytestmark = [
    pytest.mark.flow,
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning"),
]

RECOMMENDATION: dict[str, Any] = {
    "ruling": "waived",
    "reason": "受特大洪涝灾害影响，项目停工属不可抗力，建议免予扣分",
    "document_ref": "青考专〔2027〕2号",
    "ruled_by": "专家组（张、李、王）",
}


def _in_thread(**params: Any) -> tuple[threading.Thread, dict[str, State[Any]]]:
    out: dict[str, State[Any]] = {}

    def run() -> None:
        out["state"] = rule_on_appeal(form=ruling_form(**params), return_state=True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _paused_run(name: str, wait: float = 60) -> UUID:
    deadline = time.monotonic() + wait
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    name=FlowRunFilterName(any_=[name]),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])),
                )
            )
            if runs:
                return runs[0].id
            time.sleep(0.3)
    raise AssertionError(f"no paused run {name}")


def _status(engine: Engine, appeal: int) -> str:
    return str(rows(engine, "SELECT status FROM appeal WHERE id = :a", a=appeal)[0][0])


def test_a_force_majeure_waiver_takes_effect_only_once_the_committee_approves(
    prefect_server: None, year_db: Engine
) -> None:
    engine = year_db
    unit, indicator, _ = pick_rank_moving_cell(engine)
    appeal = file_appeal(engine, unit, indicator, "2026-12", kind="force_majeure")
    sums = ledger_sums(engine)
    [(platform_id,)] = rows(engine, "SELECT platform_id FROM appeal WHERE id = :a", a=appeal)
    thread, out = _in_thread(appeal_id=platform_id, committee_timeout_seconds=60, **RECOMMENDATION)
    run_id = _paused_run(f"申诉裁定-{platform_id}-免于扣分")  # found by its platform id

    # while the committee has not decided, the case is open and nothing is booked
    assert _status(engine, appeal) == "awaiting_committee"
    assert rows(engine, "SELECT kind, effective_at FROM ruling") == [("waived", None)]
    assert rows(engine, "SELECT experts FROM expert_recommendation") == [
        (RECOMMENDATION["ruled_by"],)
    ]
    assert ledger_sums(engine) == sums
    waiting = Artifact.get(f"appeal-{appeal}-committee")
    assert waiting is not None and "待考核委审定" in str(waiting.data)

    resume_flow_run(
        run_id,
        run_input={"approved": True, "document_ref": "青考委〔2027〕1号", "note": "同意专家组意见"},
    )
    thread.join(timeout=120)
    state = out["state"]
    assert state.is_completed(), state.message

    assert _status(engine, appeal) == "ruled"
    assert rows(engine, "SELECT approved, document_ref, note FROM committee_decision") == [
        (True, "青考委〔2027〕1号", "同意专家组意见")
    ]
    assert rows(engine, "SELECT effective_at IS NOT NULL FROM ruling") == [(True,)]
    [(told,)] = rows(engine, "SELECT body_text FROM message WHERE kind = 'appeal_outcome'")
    assert "青考委〔2027〕1号" in told and RECOMMENDATION["document_ref"] not in told
    assert_matches_fresh(engine, {(unit, indicator, "2026-12"): Ruling(RulingKind.WAIVED)}, [unit])


def test_without_the_committees_decision_the_case_stays_open_and_can_wait_again(
    prefect_server: None, year_db: Engine
) -> None:
    engine = year_db
    unit, indicator, _, _ = pick_cell(engine, "2026-12")
    appeal = file_appeal(engine, unit, indicator, "2026-12", kind="innovation")
    sums = ledger_sums(engine)

    form = ruling_form(appeal, committee_timeout_seconds=3, **RECOMMENDATION)
    state = rule_on_appeal(form=form, return_state=True)
    assert state.is_failed()  # Prefect fails a pause that timed out; the case is not lost
    assert _status(engine, appeal) == "awaiting_committee"
    assert rows(engine, "SELECT effective_at FROM ruling") == [(None,)]
    assert rows(engine, "SELECT COUNT(*) FROM committee_decision") == [(0,)]
    assert ledger_sums(engine) == sums
    notice = Artifact.get(f"appeal-{appeal}-committee")
    assert notice is not None and "仍待审定" in str(notice.data)

    # waiting again keeps the open recommendation; a refusal sends the case back to the office
    thread, out = _in_thread(appeal_id=appeal, committee_timeout_seconds=60, **RECOMMENDATION)
    run_id = _paused_run(f"申诉裁定-{appeal}-免于扣分")
    resume_flow_run(
        run_id,
        run_input={"approved": False, "document_ref": "青考委〔2027〕2号", "note": "证据不足"},
    )
    thread.join(timeout=120)
    assert out["state"].name == "NotApproved"
    assert _status(engine, appeal) == "registered"
    assert rows(engine, "SELECT COUNT(*), MAX(effective_at) FROM ruling") == [(1, None)]
    assert rows(engine, "SELECT approved FROM committee_decision") == [(False,)]
    code, ind_code = rows(
        engine,
        "SELECT u.code, i.code FROM unit u, indicator i WHERE u.id = :u AND i.id = :i",
        u=unit,
        i=indicator,
    )[0]
    explained = explain_command(code, ind_code, "2026-12")
    assert "考核委未批准" in explained and "待考核委审定" not in explained
    assert ledger_sums(engine) == sums
    assert rows(engine, "SELECT COUNT(*) FROM message WHERE kind = 'appeal_outcome'") == [(0,)]
