"""Times people read are Beijing time (``2026-10-09 10:00``), never a UTC ISO string.

Storage stays UTC; the one helper ``models.rules.local_text`` turns an instant into
the text a message, an alert, an artifact or the command line shows. Workbooks hold
Beijing-local datetime cells instead (``tests/hostile/test_workbooks.py``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from typer.testing import CliRunner

from deployments import results_cli
from deployments.cli import app
from deployments.results_cli import problems_app
from flows.common import skipped_run
from models.messages.render import build_office_alert
from models.persistence.database import session_scope
from models.persistence.tables import ProblemEntry
from models.plans.result_versions import RankChange, ResultVersionPlan, restatement_notice
from models.rules import Cycle, Period, local_text
from tasks.cycle_runs import Claim

SENT = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
RETRIED = datetime(2026, 10, 9, 16, 30, tzinfo=UTC)  # 00:30 on 10 October in Beijing
UTC_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\+00:00|UTC|\bZ\b")


def test_a_time_people_read_is_beijing_wall_time_to_the_minute() -> None:
    assert local_text(SENT) == "2026-10-09 10:00"
    assert local_text(RETRIED) == "2026-10-10 00:30"  # the Beijing day, not the UTC day
    assert local_text(SENT.astimezone(timezone(timedelta(hours=-5)))) == "2026-10-09 10:00"
    assert local_text(None) == "—"
    assert local_text(None, empty="未知时间") == "未知时间"


def test_a_time_without_a_zone_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_text(datetime(2026, 10, 9, 10, 0))


def test_the_unreachable_unit_alert_gives_its_attempts_in_beijing_time() -> None:
    alert = build_office_alert(
        unit_code="C04",
        unit_name="青岚县",
        message_subject="【考核提醒】2026年9月",
        message_kind="digest",
        period_key="2026-09",
        attempts=5,
        channels=("wecom://***",),
        last_error="HTTP 503",
        first_attempt_at=SENT,
        last_attempt_at=RETRIED,
    )
    for body in (alert.text, alert.markdown, alert.html):
        assert "首次尝试：2026-10-09 10:00" in body
        assert "最近尝试：2026-10-10 00:30" in body
        assert not UTC_ISO.search(body), body


def test_a_restatement_notice_gives_its_recorded_time_in_beijing_time() -> None:
    change = RankChange(1, 2, 1, "good", "excellent", Decimal("90.10"), Decimal("93.96"))
    plan = ResultVersionPlan(2, "ruling", (), (change,))
    notice = restatement_notice("annual_assessment", "2026", plan, {1: ("C04", "青岚县")}, RETRIED)
    assert notice is not None
    assert "记录时间 2026-10-10 00:30（北京时间）" in notice.text
    assert not UTC_ISO.search(notice.markdown)


def test_a_run_that_finds_its_period_busy_says_since_when_in_beijing_time() -> None:
    claim = Claim(7, "busy", "running", f"run-1@{SENT.isoformat()}")
    state = skipped_run(Cycle.MONTHLY_ANALYSIS, Period.parse("2026-09"), claim)
    assert "北京时间 2026-10-09 10:00 起" in (state.message or "")
    assert not UTC_ISO.search(state.message or "")


def test_assess_calendar_prints_each_run_in_beijing_time() -> None:
    out = CliRunner().invoke(app, ["calendar", "--year", "2026"])
    assert out.exit_code == 0, out.output
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    runs = [line for line in lines if "monthly_analysis" in line]
    assert len(runs) == 12
    assert all(re.match(r"20\d\d-\d\d-\d\d \d\d:\d\d ", line) for line in runs), runs
    assert runs[0].startswith("2026-02-06 09:00 ")  # January's analysis, 09:00 in Beijing
    for line in lines:
        assert not UTC_ISO.search(line) and "+08:00" not in line, line


@pytest.mark.db
def test_closing_a_problem_answers_with_the_beijing_time_it_was_closed(
    db_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(results_cli, "wall_clock", lambda: RETRIED)
    with session_scope(db_env) as session:
        conn = session.connection()
        unit = conn.execute(sa.text("SELECT id FROM unit WHERE code = 'C04'")).one()[0]
        problem = ProblemEntry(unit_id=unit, source="analysis", period="2026-09",
                               description="台账缺失", rectify_by=date(2026, 10, 31),
                               created_at=SENT)  # fmt: skip
        session.add(problem)
        session.flush()
        problem_id = problem.id
    runner = CliRunner()
    closed = runner.invoke(problems_app, ["close", str(problem_id), "--note", "已整改"])
    assert closed.exit_code == 0, closed.output
    assert closed.output.strip() == f"问题编号 {problem_id} 已销号（2026-10-10 00:30）。"
    again = runner.invoke(problems_app, ["close", str(problem_id), "--note", "已整改"])
    assert again.exit_code == 2
    assert "已于 2026-10-10 00:30 销号" in again.output


def test_no_module_formats_a_time_for_people_by_hand() -> None:
    """Minute-precision time text comes from ``local_text`` only; a ``%Z`` or a
    UTC ISO string in people's text would show UTC to the office."""
    root = Path(__file__).resolve().parents[2]
    allowed = {
        "models/rules/periods.py",  # local_text itself
        "tasks/files/workbook.py",  # a Beijing-local cell value joined into a list cell
        "deployments/prefect_setup.py",  # the failure alert's Jinja template (Prefect renders it)
    }
    by_hand = re.compile(r"%Y-%m-%d %H:%M|%Z|%z")
    found = [
        path.relative_to(root).as_posix()
        for folder in ("models", "tasks", "flows", "deployments")
        for path in (root / folder).rglob("*.py")
        if by_hand.search(path.read_text(encoding="utf-8"))
    ]
    assert sorted(set(found) - allowed) == []
