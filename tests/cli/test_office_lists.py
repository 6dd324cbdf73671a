"""The office's lists and a unit's year: printed, as UTF-8 JSON and as workbooks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, select

from models.persistence.database import session_scope
from models.persistence.tables import (
    Appeal,
    CommitteeDecision,
    DeductionEntry,
    Indicator,
    MonthlyAssessment,
    NegativeListEntry,
    ProblemClosure,
    ProblemEntry,
    ResultEntry,
    Ruling,
    Unit,
    WarningEntry,
    columns_of,
)
from models.plans.office_lists import LEDGER_SHEETS
from tests.fixtures.cli import Ran

pytestmark = pytest.mark.db

T = datetime(2026, 4, 2, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
SEEDED_SCORE = Decimal("93.96")


def _seed(engine: Engine) -> None:
    """C04's fai: green in March, red in April with a pre-deduction, a warning, the
    negative list on and off, two appeals (one ruled), two problems (one closed) and
    the half-year result in two versions; C05 has a result in the same category."""
    with session_scope(engine) as s:
        c04 = s.execute(select(Unit).where(columns_of(Unit).code == "C04")).scalar_one()
        c05 = s.execute(select(Unit).where(columns_of(Unit).code == "C05")).scalar_one()
        fai = s.execute(
            select(Indicator).where(
                columns_of(Indicator).year == 2026, columns_of(Indicator).code == "fai"
            )
        ).scalar_one()
        assert c04.id and c05.id and fai.id
        for period, level, c, pre in (
            ("2026-03", "green", Decimal("0.98"), Decimal(0)),
            ("2026-04", "red", Decimal("0.5"), Decimal("1.5")),
        ):
            s.add(
                MonthlyAssessment(
                    year=2026, period=period, unit_id=c04.id, indicator_id=fai.id, level=level,
                    expected=Decimal(100), actual=c * 100, completion=c, pre_deduction=pre,
                    computed_at=T,
                )
            )  # fmt: skip
        s.add(
            DeductionEntry(
                year=2026, period="2026-04", unit_id=c04.id, indicator_id=fai.id, kind="new",
                stage="pre", amount=Decimal("1.5"), level="red", completion=Decimal("0.5"),
                created_at=T, note="=cmd|' /C calc'!A0",
            )
        )  # fmt: skip
        s.add(
            WarningEntry(
                period="2026-04", unit_id=c04.id, indicator_id=fai.id, level="red",
                completion=Decimal("0.5"), created_at=T,
            )
        )  # fmt: skip
        s.add(NegativeListEntry(period="2026-04", unit_id=c04.id, event="on", created_at=T))
        s.add(NegativeListEntry(period="2026-05", unit_id=c04.id, event="off", created_at=T))
        ruled = Appeal(
            platform_id="ap-202604-01", unit_id=c04.id, indicator_id=fai.id, period="2026-04",
            kind="force_majeure", reason="暴雨停工", filed_at=T, received_at=T, status="ruled",
        )  # fmt: skip
        waiting = Appeal(
            platform_id="ap-202604-02", unit_id=c05.id, indicator_id=fai.id, period="2026-04",
            kind="data_error", reason="数据录入有误", filed_at=T, received_at=T,
        )  # fmt: skip
        s.add_all([ruled, waiting])
        s.flush()
        assert ruled.id
        ruling = Ruling(
            appeal_id=ruled.id, kind="waived", reason="不可抗力", document_ref="青考委〔2026〕2号",
            ruled_at=T,
        )  # fmt: skip
        s.add(ruling)
        s.flush()
        assert ruling.id
        s.add(
            CommitteeDecision(appeal_id=ruled.id, ruling_id=ruling.id, approved=True, decided_at=T)
        )
        open_problem = ProblemEntry(
            unit_id=c04.id, source="analysis", period="2026-Q2", indicator_id=fai.id,
            description="投资进度连续滞后", rectify_by=date(2026, 8, 31), created_at=T,
        )  # fmt: skip
        closed = ProblemEntry(
            unit_id=c05.id, source="onsite_check", period="2026-Q2",
            description="台账资料不全", rectify_by=date(2026, 7, 31), created_at=T,
        )  # fmt: skip
        s.add_all([open_problem, closed])
        s.flush()
        assert closed.id
        s.add(ProblemClosure(problem_id=closed.id, closed_at=T, note="已补齐"))
        for unit_id, score, rank, version in (
            (c04.id, Decimal("92.50"), 2, 1),
            (c05.id, Decimal("95.00"), 1, 1),
            (c04.id, SEEDED_SCORE, 2, 2),
        ):
            s.add(
                ResultEntry(
                    cycle="half_year_evaluation", period="2026-H1", unit_id=unit_id,
                    category="key_development", score=score, deductions=100 - score,
                    total_weight=Decimal(100), rank=rank, grade=None, created_at=T,
                    version=version, cause="run:1" if version == 1 else "ruling:1",
                )
            )  # fmt: skip


@pytest.fixture
def seeded(db_env: Engine) -> Engine:
    _seed(db_env)
    return db_env


def test_appeals_are_listed_with_their_ruling_and_filtered_by_status_and_unit(
    seeded: Engine, assess: Callable[..., Ran]
) -> None:
    every = json.loads(assess("appeals", "list", "--json").out)
    assert [a["平台编号"] for a in every] == ["ap-202604-01", "ap-202604-02"]
    ruled = every[0]
    assert ruled["状态"] == "已裁定" and ruled["裁定"] == "免于扣分"
    assert ruled["考核委审定"] == "批准" and ruled["提交时间"] == "2026-04-02T09:30:00+08:00"
    waiting = assess("appeals", "list", "--status", "registered", "--json")
    assert [a["单位编码"] for a in json.loads(waiting.out)] == ["C05"]
    of_c04 = assess("appeals", "list", "--unit", "C04")
    assert of_c04.code == 0 and "ap-202604-01" in of_c04.out and "ap-202604-02" not in of_c04.out
    assert "2026-04-02 09:30" in of_c04.out


def test_a_wrong_status_or_unknown_unit_is_one_chinese_line_and_exit_code_2(
    seeded: Engine, assess: Callable[..., Ran]
) -> None:
    status = assess("appeals", "list", "--status", "done")
    assert status.code == 2 and len(status.error_lines) == 1
    assert "申诉状态“done”不对" in status.err and "registered" in status.err
    unknown = assess("appeals", "list", "--unit", "X99")
    assert unknown.code == 2 and "单位编码“X99”不存在" in unknown.err
    year = assess("unit", "X99", "--year", "2026")
    assert year.code == 2 and year.error_lines == [year.error_lines[0]]
    assert "单位编码“X99”不存在" in year.err and "Traceback" not in year.err
    bad_file = assess("problems", "list", "--xlsx", "问题.csv")
    assert bad_file.code == 2 and ".xlsx" in bad_file.err


def test_problems_are_listed_with_their_state_and_only_open_ones_with_open(
    seeded: Engine, assess: Callable[..., Ran], tmp_path: Path
) -> None:
    every = json.loads(assess("problems", "list", "--json").out)
    assert [p["状态"] for p in every if p["单位编码"] == "C05"] == ["已销号"]
    assert {p["来源"] for p in every} == {"季度监测分析", "实地核查"}
    open_ones = json.loads(assess("problems", "list", "--open", "--json").out)
    assert [p["问题描述"] for p in open_ones] == ["投资进度连续滞后"]
    assert open_ones[0]["整改期限"] == "2026-08-31"
    ran = assess("problems", "list", "--open", "--xlsx", "open.xlsx")
    assert ran.code == 0
    ws = openpyxl.load_workbook(tmp_path / "open.xlsx")["问题台账"]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["问题编号", "单位编码", "单位名称"] and "销号时间" in headers
    assert ws.max_row == 2 and ws.freeze_panes == "A2"


def test_a_units_year_shows_levels_ledgers_appeals_and_its_current_score_and_rank(
    seeded: Engine, assess: Callable[..., Ran]
) -> None:
    ran = assess("unit", "C04", "--year", "2026", "--json")
    assert ran.code == 0 and "\\u" not in ran.out
    view = json.loads(ran.out)
    summary = {row["项目"]: row["内容"] for row in view["概况"]}
    assert summary["当前得分"] == float(SEEDED_SCORE) and summary["当前类别内排名"] == 2
    assert summary["类别单位数"] == 2 and summary["预扣分累计"] == 1.5
    assert summary["负面清单"] == "不在清单中" and summary["得分依据"].endswith("第2版")
    fai = next(row for row in view["月度等级"] if row["指标编码"] == "fai")
    assert (fai["3月"], fai["4月"], fai["5月"]) == ("正常", "预扣分", "")
    assert [(r["指标编码"], r["预扣分合计"]) for r in view["扣分汇总"]] == [("fai", 1.5)]
    assert [n["事项"] for n in view["负面清单"]] == ["列入", "移出"]
    assert [a["平台编号"] for a in view["申诉与裁定"]] == ["ap-202604-01"]
    assert [(r["版本"], r["当前有效"]) for r in view["考核结果"]] == [(1, "否"), (2, "是")]
    printed = assess("unit", "C04", "--year", "2026")
    assert printed.code == 0 and "【月度等级】" in printed.out and "93.96" in printed.out


def test_a_units_year_workbook_has_a_sheet_per_part_with_numbers_as_numbers(
    seeded: Engine, assess: Callable[..., Ran], tmp_path: Path
) -> None:
    assert assess("unit", "C04", "--year", "2026", "--xlsx", "c04.xlsx").code == 0
    book = openpyxl.load_workbook(tmp_path / "c04.xlsx")
    assert book.sheetnames[:3] == ["概况", "月度等级", "月度明细"]
    assert "申诉与裁定" in book.sheetnames and "考核结果" in book.sheetnames
    summary = {row[0]: row[1] for row in book["概况"].iter_rows(min_row=2, values_only=True)}
    assert summary["当前得分"] == pytest.approx(93.96)
    detail = book["月度明细"]
    headers = [c.value for c in detail[1]]
    april = next(r for r in detail.iter_rows(min_row=2) if r[0].value == "2026-04")
    completion = april[headers.index("完成度")]
    assert completion.value == pytest.approx(0.5) and completion.number_format == "0.0%"
    ledger = book["扣分台账"]
    headers = [c.value for c in ledger[1]]
    row = next(ledger.iter_rows(min_row=2))
    assert row[headers.index("分值")].value == pytest.approx(1.5)
    assert row[headers.index("记录时间")].value == datetime(2026, 4, 2, 9, 30)
    assert row[headers.index("说明")].data_type == "s"


def test_the_ledgers_export_has_one_sheet_per_ledger_and_one_for_monthly_results(
    seeded: Engine, assess: Callable[..., Ran], tmp_path: Path
) -> None:
    ran = assess("ledgers", "export", "--year", "2026", "台账.xlsx")
    assert ran.code == 0 and "扣分台账 1 行" in ran.out
    book = openpyxl.load_workbook(tmp_path / "台账.xlsx")
    assert book.sheetnames == list(LEDGER_SHEETS)
    months = book["月度结果"]
    assert [c.value for c in months[1]][:4] == ["单位编码", "月份", "指标编码", "等级"]
    assert months.max_row == 3
    results = book["考核结果"]
    scores = [r[3] for r in results.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(s, float | int) for s in scores) and len(scores) == 3
    empty = assess("ledgers", "export", "--year", "2025", "空.xlsx")
    assert empty.code == 0 and "扣分台账 0 行" in empty.out
    wrong = assess("ledgers", "export", "--year", "2026", "台账.json")
    assert wrong.code == 2 and ".xlsx" in wrong.err


def test_a_table_longer_than_a_sheet_continues_on_numbered_sheets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deployments import lists_cli

    monkeypatch.setattr(lists_cli, "MAX_SHEET_ROWS", 2)
    rows = [{"单位编码": f"C0{n}", "完成度": Decimal("0.5")} for n in range(1, 6)]
    sheets = lists_cli.sheets_of({"月度结果": rows, "预警台账": []})
    assert [(s.title, len(s.rows)) for s in sheets] == [
        ("月度结果", 2),
        ("月度结果_2", 2),
        ("月度结果_3", 1),
        ("预警台账", 0),
    ]
    assert sheets[0].formats["完成度"] == "0.0%"


def test_a_problem_is_in_rectification_until_its_deadline_passes_then_overdue() -> None:
    from models.plans.office_lists import problem_table

    problem = {
        "id": 7, "unit_code": "C04", "unit_name": "甲县", "source": "inspection",
        "period": "2026-Q2", "description": "整改不到位", "rectify_by": date(2026, 8, 31),
        "created_at": T,
    }  # fmt: skip
    on_deadline = problem_table([problem], today=date(2026, 8, 31))[0]
    after = problem_table([problem], today=date(2026, 9, 1))[0]
    closed = problem_table([{**problem, "closed_at": T}], today=date(2026, 9, 1))[0]
    states = (on_deadline["状态"], after["状态"], closed["状态"])
    assert states == ("整改中", "逾期未整改", "已销号")
    assert after["来源"] == "巡察"
