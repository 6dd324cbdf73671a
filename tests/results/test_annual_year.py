"""The demo year end to end: annual results, notices, uses, exports and the office's report."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine
from sqlmodel import select
from typer.testing import CliRunner

from deployments.results_cli import problems_app, report_app, results_app
from flows.annual_assessment import annual_assessment
from flows.monthly_analysis import monthly_analysis
from flows.quarterly_monitoring import quarterly_monitoring
from models.persistence.database import session_scope
from models.persistence.tables import Message
from models.plans.onsite import FindingForm
from models.rules import SHANGHAI, Grade, WorkCalendar, to_shanghai
from tasks.delivery import deliver_due
from tasks.onsite_tasks import queue_rectification_notice, record_finding
from tests.results.support import artifacts_of, leaks, rows, stored_plan, unit_codes_in

pytestmark = [
    pytest.mark.flow,
    pytest.mark.db,
    pytest.mark.http,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning"),
]

SEED = 1_112_223_334
AFTER_THE_ANNUAL_TIME = datetime(2027, 1, 8, 9, 0, tzinfo=SHANGHAI)
FIGURES = (
    "key_items", "key_items_change", "items", "items_added", "items_dropped",
    "items_added_in_year", "items_removed_in_year", "items_same_period_change",
    "items_change_percent", "indicators_merged", "indicators_adapted", "indicators_simplified",
    "simplification_proposals", "counties_on_platform", "departments_on_platform",
    "unit_categories", "onsite_problems_solved", "promotion_units", "promoted_people",
    "messages_per_unit_month", "onsite_checks",
)  # fmt: skip


class Accepting:
    """A channel that accepts every message (no network)."""

    def notify(self, *, body: str, title: str, body_format: str) -> bool:
        return True


def one(engine: Engine, sql: str, **params: Any) -> Any:
    ((value,),) = rows(engine, sql, **params)
    return value


@pytest.fixture
def year(settings_env: Engine, prefect_server: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The demo year: every month and quarter of 2026, then the annual assessment,
    run after the annual time (2027-01-06 12:00), when every period of 2026 is due."""
    monkeypatch.setattr("tasks.onsite_tasks.fresh_seed", lambda: SEED)
    monkeypatch.setattr("flows.common.time_source", lambda: AFTER_THE_ANNUAL_TIME)
    for month in range(1, 12):
        assert monthly_analysis(period=f"2026-{month:02d}", return_state=True).is_completed()
        if month % 3 == 0:
            assert quarterly_monitoring(
                period=f"2026-{month:02d}", return_state=True
            ).is_completed()
    state = annual_assessment(period="2026", return_state=True)
    assert state.is_completed(), state.message
    return settings_env, state


def test_the_demo_year_is_graded_notified_used_exported_and_reported(
    year: Any, tmp_path: Path
) -> None:
    engine, state = year
    runner = CliRunner()

    # Each unit is told its final score, its rank among its category and its grade.
    results = rows(
        engine,
        "SELECT u.code, r.category, r.score, r.rank, r.grade FROM result_entry r "
        "JOIN unit u ON u.id = r.unit_id WHERE r.cycle = 'annual_assessment'",
    )
    sizes = Counter(category for _, category, *_ in results)
    notices = {
        code: text
        for code, text in rows(
            engine,
            "SELECT u.code, m.body_text FROM message m JOIN unit u ON u.id = m.unit_id "
            "WHERE m.kind = 'annual_assessment' AND m.period = '2026'",
        )
    }
    on_platform = {c for (c,) in rows(engine, "SELECT code FROM unit WHERE on_platform")}
    off_platform = {c for (c,) in rows(engine, "SELECT code FROM unit WHERE NOT on_platform")}
    assert off_platform and len(on_platform) == 39  # D23, D24, D30: 无平台数据, no grade
    assert set(notices) == {code for code, *_ in results} == on_platform
    for code, category, score, rank, grade in results:
        text = notices[code]
        assert f"最终得分 {Decimal(str(score)):.2f} 分" in text
        assert f"（共{sizes[category]}个单位）中排名第{rank}名" in text
        assert f"考核等次：{Grade(grade).label}" in text and "申诉期限" in text

    # The run's artifacts: results, simplification proposals, the report; never a plan.
    artifacts = dict(artifacts_of(state.state_details.flow_run_id))
    assert {"annual-simplification-2026-report", "burden-2026"} <= set(artifacts)
    assert "年度指标简化建议" in artifacts["annual-simplification-2026-report"]
    report_artifact = artifacts["burden-2026"]
    assert "2026年度考核工作减负增效情况报告" in report_artifact and "None" not in report_artifact
    listed = [t for t in artifacts.values() if "无平台数据（待考核办决定）" in t]
    assert listed and all(f"（{code}）" in t for t in listed for code in off_platform)
    plans = {q: stored_plan(engine, f"2026-Q{q}") for q in (1, 2, 3, 4)}
    assert {p.seed for p in plans.values()} == {SEED}
    all_units = {code for code, *_ in results}
    for key, text in artifacts.items():
        cleaned = text.replace("本季度已按规则完成随机抽样", "")
        assert leaks(cleaned, plans[4], allowed_units=all_units | off_platform) == [], key

    # Later in the year: a finding at a sampled unit, rectified and closed; a promotion.
    checked = plans[4].sample[0]
    with session_scope(engine) as session:
        now = datetime(2027, 1, 12, 10, 0, tzinfo=SHANGHAI)
        finding = record_finding(
            session,
            FindingForm(checked, date(2027, 1, 12), "重点任务台账佐证材料缺失", date(2027, 2, 5)),
            now,
            plan_period="2026-Q4",
        )
        queue_rectification_notice(session, checked, "2026-Q4", now, WorkCalendar())
    closed = runner.invoke(problems_app, ["close", str(finding.problem_id), "--note", "已补齐材料"])
    assert closed.exit_code == 0 and "已销号" in closed.output, closed.output
    promoted = runner.invoke(
        results_app,
        ["record-use", "C01", "--year", "2026", "--use", "appointment", "--people", "3",
         "--reference", "青组〔2027〕3号"],
    )  # fmt: skip
    assert promoted.exit_code == 0, promoted.output
    commended = runner.invoke(
        results_app, ["record-use", "D08", "--year", "2026", "--use", "commendation"]
    )
    assert commended.exit_code == 0, commended.output
    refused = runner.invoke(results_app, ["record-use", "C01", "--year", "2026", "--use", "bonus"])
    assert refused.exit_code == 2 and "未知的结果运用方向" in refused.output

    # Everything queued reaches the units.
    with session_scope(engine) as session:
        due = max(to_shanghai(at) for at in session.exec(select(Message.due_at)).all())
        run = deliver_due(session, now=due, notifier_factory=lambda _url: Accepting())
    assert run.delivered and not run.failed

    # The report's figures, and the same counts taken directly.
    report = runner.invoke(report_app, ["burden", "--year", "2026", "--json"])
    assert report.exit_code == 0, report.output
    figures = json.loads(report.output)
    assert list(figures) == list(FIGURES)
    for key, figure in figures.items():  # on the demo year no figure is empty
        assert figure["value"] is not None and figure["text"].strip(), key
        assert "—" not in figure["text"] and "None" not in figure["text"], key
    value = {k: f["value"] for k, f in figures.items()}

    def count(sql: str) -> int:
        return int(one(engine, sql))

    counting = "status IN ('approved', 'filed')"
    key_now = count(f"SELECT COUNT(*) FROM item WHERE year = 2026 AND key AND {counting}")
    key_before = count(f"SELECT COUNT(*) FROM item WHERE year = 2025 AND key AND {counting}")
    items_now = {
        c for (c,) in rows(engine, f"SELECT code FROM item WHERE year = 2026 AND {counting}")
    }
    items_before = {
        c for (c,) in rows(engine, f"SELECT code FROM item WHERE year = 2025 AND {counting}")
    }
    change = (Decimal(len(items_now) - len(items_before)) * 100 / len(items_before)).quantize(
        Decimal("0.1")
    )
    lifecycle = dict(
        rows(
            engine, "SELECT lifecycle, COUNT(*) FROM indicator WHERE year = 2026 GROUP BY lifecycle"
        )
    )
    delivered = count(
        "SELECT COUNT(*) FROM message WHERE audience = 'unit' AND status = 'delivered' "
        "AND period LIKE '2026%'"
    )
    units = count("SELECT COUNT(*) FROM unit")
    months_run = count(
        "SELECT COUNT(DISTINCT period) FROM cycle_run WHERE cycle = 'monthly_analysis' "
        "AND period LIKE '2026-%' AND status IN ('completed', 'partial')"
    )
    sampled = sum(len(p.sample) for p in plans.values())
    assert value == {
        "key_items": key_now,
        "key_items_change": key_now - key_before,
        "items": len(items_now),
        "items_added": len(items_now - items_before),
        "items_dropped": len(items_before - items_now),
        # No revision in the demo year: the same period (December) is the whole year.
        "items_added_in_year": count(
            "SELECT COUNT(*) FROM item WHERE year = 2026 AND revision_id IS NOT NULL"
        ),
        "items_removed_in_year": 0,
        "items_same_period_change": str(change),
        "items_change_percent": str(change),
        "indicators_merged": lifecycle["merged"],
        "indicators_adapted": lifecycle["adapted"],
        "indicators_simplified": lifecycle["simplified"],
        "simplification_proposals": value["simplification_proposals"],
        "counties_on_platform": count(
            "SELECT COUNT(*) FROM unit WHERE kind = 'county' AND on_platform"
        ),
        "departments_on_platform": count(
            "SELECT COUNT(*) FROM unit WHERE kind = 'department' AND on_platform"
        ),
        "unit_categories": count("SELECT COUNT(DISTINCT category) FROM unit"),
        "onsite_problems_solved": count(
            "SELECT COUNT(*) FROM problem_entry p JOIN problem_closure c ON c.problem_id = p.id "
            "WHERE p.source = 'onsite_check' AND p.period LIKE '2026-%'"
        ),
        "promotion_units": count(
            "SELECT COUNT(DISTINCT unit_id) FROM result_use WHERE year = 2026 "
            "AND use = 'appointment'"
        ),
        "promoted_people": 3,
        "messages_per_unit_month": str(
            (Decimal(delivered) / (units * months_run)).quantize(Decimal("0.01"))
        ),
        "onsite_checks": count(
            "SELECT COUNT(*) FROM (SELECT DISTINCT f.unit_id, f.checked_on FROM "
            "onsite_check_finding f JOIN onsite_check_plan p ON p.id = f.plan_id "
            "WHERE p.period LIKE '2026-Q%') AS checks"
        ),
    }
    assert (key_now, key_before, lifecycle["merged"], lifecycle["adapted"]) == (4, 6, 3, 2)
    assert value["onsite_problems_solved"] == value["promotion_units"] == 1
    assert delivered > 0 and value["onsite_checks"] == 1
    assert f"共抽取 {sampled} 家次" in figures["onsite_checks"]["text"]
    assert months_run == 12 and f"已运行的 {months_run} 个月" in figures[
        "messages_per_unit_month"]["text"]  # fmt: skip

    written = runner.invoke(
        report_app, ["burden", "--year", "2026", "--out", str(tmp_path / "report.md")]
    )
    assert written.exit_code == 0, written.output
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# 2026年度考核工作减负增效情况报告")
    assert "×" not in markdown and "None" not in markdown
    for figure in figures.values():
        assert f"| {figure['label']} | {figure['text']} |" in markdown

    # The results for the seven uses, as XLSX and JSON; no plan in them either.
    for name in ("results-2026.json", "results-2026.xlsx"):
        out = runner.invoke(results_app, ["export", "--year", "2026", str(tmp_path / name)])
        assert out.exit_code == 0 and f"{len(on_platform)} 个单位" in out.output, out.output
    data = json.loads((tmp_path / "results-2026.json").read_text(encoding="utf-8"))
    assert len(data["results"]) == len(on_platform) and set(data["uses"]) == {
        "appointment", "commendation", "training", "reward_penalty",
        "supervision", "management", "cultivation",
    }  # fmt: skip
    c01 = next(r for r in data["results"] if r["unit_code"] == "C01")
    assert c01["uses"]["appointment"] == ["青组〔2027〕3号"]
    text = (tmp_path / "results-2026.json").read_text(encoding="utf-8")
    assert unit_codes_in(text) == all_units
    assert leaks(text, plans[4], allowed_units=all_units) == []
    book = openpyxl.load_workbook(tmp_path / "results-2026.xlsx")
    assert book.sheetnames == ["年度考核结果", "结果运用记录", "七关联说明"]
    header = [c.value for c in book["年度考核结果"][1]]
    assert header[:10] == [
        "单位编码", "单位名称", "单位类型", "考核类别", "最终得分", "扣分合计", "指标总分值",
        "类别内排名", "类别单位数", "考核等次",
    ]  # fmt: skip
    assert header[10:] == [
        "运用：任用", "运用：评优", "运用：教育", "运用：奖惩",
        "运用：监督", "运用：管理", "运用：培养",
    ]  # fmt: skip
    for index in (5, 6, 7):  # 最终得分, 扣分合计, 指标总分值: numbers Excel sorts and sums
        typed = [row[index - 1] for row in book["年度考核结果"].iter_rows(min_row=2)]
        assert typed and all(type(c.value) in (int, float) and c.number_format == "0.00"
                             for c in typed)  # fmt: skip
    cells = [str(c.value) for row in book["年度考核结果"].iter_rows() for c in row if c.value]
    assert leaks("\n".join(cells), plans[4], allowed_units=all_units) == []
