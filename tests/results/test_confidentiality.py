"""No part of an on-site check plan reaches a unit, an artifact or a unit-facing export."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from deployments.results_cli import onsite_app, share_app
from flows.quarterly_monitoring import quarterly_monitoring
from flows.record_onsite_finding import OnsiteFindingForm, record_onsite_finding
from flows.remind_rectifications import remind_rectifications
from models.plans.office_lists import unit_artifact_key
from models.plans.onsite import Candidate, OnsiteDraw, onsite_artifact_note, verify_draw
from models.rules import WorkCalendar
from tests.results.support import (
    artifacts_of,
    leaks,
    rows,
    stored_plan,
    unit_codes_in,
)

pytestmark = [pytest.mark.flow, pytest.mark.db, pytest.mark.http]

SEED = 1_946_382_711
RECTIFY_BY = date(2026, 12, 31)


@pytest.fixture
def quarter(settings_env: Engine, prefect_server: None, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """2026-Q3 monitored with a known seed; its artifacts are checked by the test."""
    monkeypatch.setattr("tasks.onsite_tasks.fresh_seed", lambda: SEED)
    return settings_env


def test_the_quarterly_draw_is_stored_reproducible_and_absent_from_every_artifact(
    quarter: Engine,
) -> None:
    state = quarterly_monitoring(period="2026-Q3", return_state=True)
    assert state.is_completed(), state.message
    plan = stored_plan(quarter, "2026-Q3")
    assert plan.seed == SEED and plan.sample
    draw = OnsiteDraw(
        "2026-Q3",
        plan.seed,
        tuple(Candidate(c, n) for c, n in sorted(plan.candidates.items())),
        plan.sample,
    )
    assert verify_draw(draw)
    red = dict(
        rows(
            quarter,
            "SELECT u.code, COUNT(*) FROM monthly_assessment m JOIN unit u ON u.id = m.unit_id "
            "WHERE m.period IN ('2026-07', '2026-08', '2026-09') "
            "AND m.level IN ('red', 'missing') GROUP BY u.code",
        )
    )
    assert plan.candidates == {code: int(n) for code, n in red.items()}

    artifacts = artifacts_of(state.state_details.flow_run_id)
    keys = {key for key, _ in artifacts}
    assert {"quarterly-monitoring-2026-q3", "quarterly-monitoring-2026-q3-report"} <= keys
    on_list = {
        name for (name,) in rows(
            quarter,
            "SELECT u.name FROM negative_list_entry n JOIN unit u ON u.id = n.unit_id "
            "WHERE n.id IN (SELECT MAX(id) FROM negative_list_entry GROUP BY unit_id) "
            "AND n.event = 'on'",
        )
    }  # fmt: skip
    for key, text in artifacts:
        if key == "quarterly-monitoring-2026-q3-report":
            assert onsite_artifact_note().strip() in text  # says a draw was made, no more
            head, _, tail = text.partition("## 负面清单复核")
            listed, _, rest = tail.partition("\n## ")
            names = {line[2:].strip() for line in listed.splitlines() if line.startswith("- ")}
            assert names == on_list  # the negative list, computed apart from the draw
            text = head + rest
        own = {c for c in plan.units() if key == unit_artifact_key(c, 2026)}  # a unit's year
        cleaned = text.replace(onsite_artifact_note().strip(), "")
        assert leaks(cleaned, plan, allowed_units=own) == [], key


def test_findings_reminders_and_exports_tell_units_only_their_own_problems(
    quarter: Engine, tmp_path: Path
) -> None:
    assert quarterly_monitoring(period="2026-Q3", return_state=True).is_completed()
    plan = stored_plan(quarter, "2026-Q3")
    checked = plan.sample[0]
    result = record_onsite_finding(
        form=OnsiteFindingForm(
            unit_code=checked,
            checked_on=date(2026, 10, 21),
            description="重点任务推进台账与现场实际进度不符，部分节点无佐证材料",
            rectify_by=RECTIFY_BY,
            plan_period="2026-Q3",
        )
    )
    assert result["notice_queued"] is True
    reminder_day = WorkCalendar().add_working_days(RECTIFY_BY, -3)
    assert remind_rectifications(day=reminder_day)["reminders_queued"] == 1
    assert remind_rectifications(day=reminder_day)["reminders_queued"] == 0

    messages = rows(
        quarter,
        "SELECT u.code, m.kind, m.subject, m.body_markdown, m.body_text, m.body_html "
        "FROM message m JOIN unit u ON u.id = m.unit_id WHERE m.audience = 'unit'",
    )
    kinds = {m[1] for m in messages}
    assert {"rectification_notice", "rectification_reminder"} <= kinds
    for code, kind, *texts in messages:
        found = leaks("\n".join(texts), plan, allowed_units={code})
        assert found == [], (code, kind, found)
    (notice,) = [m for m in messages if m[1] == "rectification_notice"]
    assert notice[0] == checked and "部分节点无佐证材料" in notice[4]

    runner = CliRunner()
    out = tmp_path / "inspection.json"
    shared = runner.invoke(
        share_app, ["export", "--recipient", "inspection", "--period", "2026-09", str(out)]
    )
    assert shared.exit_code == 0, shared.output
    text = out.read_text(encoding="utf-8")
    data = json.loads(text)
    explained = {u["unit_code"] for u in data["negative_list"]} | {
        p["unit_code"] for p in data["open_problems"]
    }
    assert unit_codes_in(text) == explained  # no unit is there for any other reason
    assert leaks(text, plan, allowed_units=explained) == []

    office = tmp_path / "plan.json"
    exported = runner.invoke(onsite_app, ["export", "--period", "2026-Q3", str(office)])
    assert exported.exit_code == 0, exported.output
    payload = json.loads(office.read_text(encoding="utf-8"))
    assert payload["seed"] == SEED and payload["reproduced"] is True
    assert [s["单位编码"] for s in payload["sample"]] == list(plan.sample)
    assert payload["findings"][0]["单位编码"] == checked
