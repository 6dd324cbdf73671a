"""No workbook the project writes holds a formula, whatever names were imported.

Units named like formulas (OWASP "CSV injection") go through all four workbooks:
the catalog export, the share export (sent to 巡察), the on-site plan and the
annual results. Every cell is a value: formula-like text carries a leading quote,
scores are numbers, times are Beijing time. The escape itself round-trips.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from deployments import results_cli
from deployments.results_cli import onsite_app, results_app, share_app
from models.cell_text import (
    FORMULA_STARTS,
    escape_cell_text,
    is_formula_like,
    unescape_cell_text,
)
from models.persistence.database import session_scope
from models.persistence.tables import NegativeListEntry, OnsiteCheckPlan, ProblemEntry, ResultEntry
from models.plans.onsite import FindingForm
from models.rules import SHANGHAI
from tasks.annual import record_result_use
from tasks.catalog import load_catalog
from tasks.files.catalog_write import write_xlsx as write_catalog_xlsx
from tasks.files.workbook import DATETIME, PERCENT, SCORE, Sheet, write_workbook
from tasks.onsite_tasks import record_finding

HOSTILE = ("=1+1", '=HYPERLINK("http://x","y")', "+86", "-x", "@a", "\t=1")
TRICKY = (*HOSTILE, "\r=1", "'=1+1", "''+2", "'plain", "'", "", "＝1+1", "－无－")
HOSTILE_UNITS = dict(zip(("C01", "C02", "C03", "C04", "C05", "D08"), HOSTILE, strict=True))
AT = datetime(2026, 10, 14, 2, 5, tzinfo=UTC)  # 10:05 in Beijing
DRAWN = datetime(2026, 10, 12, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
USED = datetime(2027, 1, 5, 17, 45, tzinfo=UTC)  # 6 January 01:45 in Beijing


def beijing(at: datetime) -> datetime:
    return at.astimezone(SHANGHAI).replace(tzinfo=None)


NUMBER_HEADERS = ("得分", "扣分", "分值", "权重", "排名", "单位数", "完成率", "weight")
TIME_HEADERS = ("时间",)


def texts(path: Path) -> list[str]:
    """Every text cell of the workbook, after checking that none is a formula, that
    every sheet has a frozen, filtered header row, that every score-like column
    (得分, 扣分, 分值, 权重, 排名, 完成率) holds numbers and every time column
    (…时间) Beijing-local datetimes shown ``yyyy-mm-dd hh:mm``."""
    book = openpyxl.load_workbook(path)  # not data_only: formulas would stay formulas
    found: list[str] = []
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}"
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not is_formula_like(cell.value), (ws.title, cell.coordinate)
                    found.append(cell.value)
        check_typed_columns(ws)
    return found


def check_typed_columns(ws: Worksheet) -> None:
    """Score-like columns are numbers; time columns are naive Beijing datetimes."""
    for header in (c.value for c in ws[1]):
        if not isinstance(header, str):
            continue
        cells = [c for c in column(ws, header) if c.value is not None]
        if any(word in header for word in NUMBER_HEADERS):
            for cell in cells:
                assert type(cell.value) in (int, float), (ws.title, header, cell.value)
                assert cell.data_type == "n", (ws.title, header, cell.coordinate)
            if "完成率" in header:
                assert {c.number_format for c in cells} <= {PERCENT}, (ws.title, header)
        if any(word in header for word in TIME_HEADERS):
            for cell in cells:
                assert isinstance(cell.value, datetime), (ws.title, header, cell.value)
                assert cell.number_format == DATETIME, (ws.title, header)
                assert cell.value.tzinfo is None  # Excel has no zone: Beijing wall time


def column(ws: Worksheet, header: str) -> list[Any]:
    """The cells below ``header`` in the first row."""
    names = [c.value for c in ws[1]]
    index = names.index(header) + 1
    return [ws.cell(row, index) for row in range(2, ws.max_row + 1)]


def assert_escaped(found: list[str], names: tuple[str, ...]) -> None:
    """Each hostile name is in the workbook with one leading quote, and only so."""
    for name in names:
        assert any(escape_cell_text(name) in text for text in found), name
        assert not any(text.startswith(name) for text in found), name


# ------------------------------------------------------------------------- the escape


@pytest.mark.parametrize("text", TRICKY, ids=repr)
def test_escaping_a_cell_text_never_leaves_a_formula_start_and_unescaping_restores_it(
    text: str,
) -> None:
    escaped = escape_cell_text(text)
    assert not is_formula_like(escaped)
    assert unescape_cell_text(escaped) == text


def test_only_text_that_could_be_a_formula_gets_a_quote() -> None:
    assert escape_cell_text("=1+1") == "'=1+1"
    assert escape_cell_text("\t=1") == "'\t=1"
    assert escape_cell_text("'=1") == "''=1"  # a typed quote survives the round trip
    for plain in ("青岚县", "C01", "1+1", "'plain", "", "a=b", "＝1+1", "－无－"):
        assert escape_cell_text(plain) == plain
        assert unescape_cell_text(plain) == plain
    assert set("=+-@\t\r") == FORMULA_STARTS


# ------------------------------------------------------------------------- the writer


def test_the_writer_writes_values_by_type_and_never_a_formula(tmp_path: Path) -> None:
    path = tmp_path / "typed.xlsx"
    rows = [
        {
            "名称": name,
            "得分": Decimal("93.96"),
            "完成率": Decimal("0.875"),
            "个数": 3,
            "时间": AT,
            "日期": date(2026, 9, 25),
            "是否": True,
            "清单": ["=a", "b"],
            "控制字符": "a\x01b\x1f",
            "非数": float("nan"),
        }
        for name in TRICKY
    ]
    write_workbook(path, [Sheet("=表", rows, formats={"完成率": PERCENT})])
    found = texts(path)
    assert_escaped(found, HOSTILE)
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert ws.title == "=表"  # a title is never evaluated
    for cell in column(ws, "得分"):
        assert (cell.data_type, cell.value, cell.number_format) == ("n", 93.96, SCORE)
    assert {(c.value, c.number_format) for c in column(ws, "完成率")} == {(0.875, PERCENT)}
    assert {(c.value, c.number_format) for c in column(ws, "时间")} == {
        (datetime(2026, 10, 14, 10, 5), DATETIME)
    }
    assert {c.value for c in column(ws, "日期")} == {datetime(2026, 9, 25)}
    assert {c.value for c in column(ws, "是否")} == {"是"}
    assert {c.value for c in column(ws, "清单")} == {"'=a、b"}
    assert {c.value for c in column(ws, "控制字符")} == {"a\ufffdb\ufffd"}
    assert {c.value for c in column(ws, "非数")} == {"nan"}


def test_a_ratio_column_is_a_percentage_by_its_header_unless_the_sheet_names_a_format(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ratios.xlsx"
    row = {"完成率": Decimal("0.875"), "上传率": 0.5, "得分": Decimal("93.96"), "名称": "完成率"}
    write_workbook(path, [Sheet("t", [row]), Sheet("u", [row], formats={"完成率": SCORE})])
    book = openpyxl.load_workbook(path)
    shown = {h: (c.value, c.number_format) for h in row for (c,) in [column(book["t"], h)]}
    assert shown == {
        "完成率": (0.875, PERCENT),
        "上传率": (0.5, PERCENT),
        "得分": (93.96, SCORE),
        "名称": ("完成率", "General"),
    }
    (named,) = column(book["u"], "完成率")
    assert named.number_format == SCORE


def test_text_beyond_excels_cell_limit_is_cut_with_an_ellipsis(tmp_path: Path) -> None:
    path = tmp_path / "long.xlsx"
    write_workbook(path, [Sheet("t", [{"说明": "=" + "长" * 40_000}])])
    (cell,) = column(openpyxl.load_workbook(path)["t"], "说明")
    assert len(cell.value) == 32_767 and cell.value.startswith("'=长") and cell.value[-1] == "…"


def test_the_writer_refuses_a_time_without_a_zone(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        write_workbook(tmp_path / "naive.xlsx", [Sheet("t", [{"时间": datetime(2026, 1, 1)}])])


def test_the_workbook_writer_is_the_only_code_that_creates_a_workbook() -> None:
    root = Path(__file__).resolve().parents[2]
    writers = [
        path.relative_to(root).as_posix()
        for folder in ("models", "tasks", "flows", "deployments", "bench")
        for path in (root / folder).rglob("*.py")
        if "Workbook(" in path.read_text(encoding="utf-8")
    ]
    assert writers == ["tasks/files/workbook.py"]


WRITERS = ("write_workbook", "write_export")
COVERED = {
    # every function that writes a workbook -> the test below that writes it and checks it
    ("tasks/files/catalog_write.py", "write_xlsx"): (
        "test_the_catalog_export_escapes_formula_like_names_and_keeps_numbers_numeric"
    ),
    ("deployments/results_cli.py", "results_export_command"): (
        "test_the_results_export_holds_no_formula_and_its_scores_are_numbers"
    ),
    ("deployments/results_cli.py", "onsite_export_command"): (
        "test_the_onsite_plan_export_holds_no_formula"
    ),
    ("deployments/results_cli.py", "share_export_command"): (
        "test_the_share_export_to_inspection_holds_no_formula"
    ),
    ("deployments/lists_cli.py", "ledgers_export"): (
        "tests/cli/test_office_lists.py::"
        "test_the_ledgers_export_has_one_sheet_per_ledger_and_one_for_monthly_results"
    ),
    ("deployments/lists_cli.py", "_show"): (
        "tests/cli/test_office_lists.py::"
        "test_a_units_year_workbook_has_a_sheet_per_part_with_numbers_as_numbers"
    ),
}


def workbook_writers(root: Path) -> set[tuple[str, str]]:
    """(file, function) of every call of the workbook writer or the export writer."""
    found: set[tuple[str, str]] = set()
    for folder in ("models", "tasks", "flows", "deployments"):
        for path in (root / folder).rglob("*.py"):
            name = path.relative_to(root).as_posix()
            if name == "tasks/files/exports.py":
                continue  # write_export itself
            for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for call in ast.walk(fn):
                    if (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Name)
                        and call.func.id in WRITERS
                    ):
                        found.add((name, fn.name))
    return found


def test_every_workbook_the_project_writes_is_checked_by_a_test_here() -> None:
    """A new export fails here until a test below writes it and checks it with
    ``texts`` (no formula, frozen and filtered header, numbers, Beijing times)."""
    root = Path(__file__).resolve().parents[2]
    assert workbook_writers(root) == set(COVERED)
    for test in COVERED.values():  # a test here, or ``file::test`` elsewhere
        where, _, name = test.rpartition("::")
        if where:
            assert f"def {name}(" in (root / where).read_text(encoding="utf-8"), test
        else:
            assert callable(globals().get(name)), test


# ----------------------------------------------------------------- the four workbooks


def unit_id(conn: sa.Connection, code: str) -> int:
    return int(conn.execute(sa.text("SELECT id FROM unit WHERE code = :c"), {"c": code}).one()[0])


@pytest.fixture
def hostile(db_env: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The demo catalog with six units named like formulas, an item note and a
    problem worded like formulas; the command line's clock reads ``AT``."""
    monkeypatch.setattr(results_cli, "wall_clock", lambda: AT)
    with db_env.begin() as conn:
        for code, name in HOSTILE_UNITS.items():
            conn.execute(
                sa.text("UPDATE unit SET name = :n WHERE code = :c"), {"n": name, "c": code}
            )
        conn.execute(
            sa.text("UPDATE item SET note = :n, document_ref = :r "
                    "WHERE id = (SELECT MIN(id) FROM item)"),
            {"n": "=cmd|' /C calc'!A0", "r": "-2+3"},
        )  # fmt: skip
    yield db_env


@pytest.mark.db
def test_the_catalog_export_escapes_formula_like_names_and_keeps_numbers_numeric(
    hostile: Engine, tmp_path: Path
) -> None:
    with Session(hostile) as session:
        catalog = load_catalog(session)
    path = tmp_path / "catalog.xlsx"
    write_catalog_xlsx(catalog, path)
    found = texts(path)
    assert_escaped(found, (*HOSTILE, "=cmd|' /C calc'!A0", "-2+3"))
    book = openpyxl.load_workbook(path)
    names = {unescape_cell_text(c.value) for c in column(book["units"], "名称 name")}
    assert set(HOSTILE) <= names
    weights = column(book["indicators"], "分值 weight")
    assert weights and all(c.data_type == "n" for c in weights if c.value is not None)


@pytest.mark.db
def test_the_share_export_to_inspection_holds_no_formula(hostile: Engine, tmp_path: Path) -> None:
    with session_scope(hostile) as session:
        conn = session.connection()
        for code in ("C01", "C02"):
            session.add(NegativeListEntry(period="2026-08", unit_id=unit_id(conn, code),
                                          event="on", created_at=AT))  # fmt: skip
        session.add(
            ProblemEntry(unit_id=unit_id(conn, "C03"), source="analysis", period="2026-09",
                         description="@SUM(1+1)", rectify_by=date(2026, 9, 25), created_at=AT)
        )  # fmt: skip
    path = tmp_path / "巡察-2026-09.xlsx"
    out = CliRunner().invoke(
        share_app, ["export", "--recipient", "inspection", "--period", "2026-09", str(path)]
    )
    assert out.exit_code == 0, out.output
    found = texts(path)
    assert_escaped(found, ("=1+1", '=HYPERLINK("http://x","y")', "+86", "@SUM(1+1)"))
    book = openpyxl.load_workbook(path)
    (deadline,) = column(book["未销号问题"], "整改期限")
    assert deadline.value == datetime(2026, 9, 25) and deadline.number_format == "yyyy-mm-dd"
    notes = {r[0].value: r[1] for r in book["说明"].iter_rows(min_row=2)}
    assert notes["导出时间"].value == beijing(AT) == datetime(2026, 10, 14, 10, 5)
    assert notes["导出时间"].number_format == DATETIME


@pytest.mark.db
def test_the_onsite_plan_export_holds_no_formula(hostile: Engine, tmp_path: Path) -> None:
    with session_scope(hostile) as session:
        session.add(
            OnsiteCheckPlan(
                period="2026-Q3", seed=7, drawn_at=DRAWN, sample=["C01", "C04"],
                candidates=[{"unit_code": c, "red_count": 2} for c in ("C01", "C04", "C05")],
            )
        )  # fmt: skip
        session.flush()
        form = FindingForm("C04", date(2026, 10, 20), "=1+1 台账缺失", date(2026, 11, 20))
        record_finding(session, form, AT.replace(day=20))
    path = tmp_path / "plan.xlsx"
    out = CliRunner().invoke(onsite_app, ["export", "--period", "2026-Q3", str(path)])
    assert out.exit_code == 0, out.output
    found = texts(path)
    assert_escaped(found, ("=1+1", "-x", "@a", "=1+1 台账缺失"))
    book = openpyxl.load_workbook(path)
    notes = {r[0].value: r[1] for r in book["抽样说明"].iter_rows(min_row=2)}
    assert notes["抽样时间"].value == beijing(DRAWN) == datetime(2026, 10, 12, 9, 30)
    assert notes["抽样时间"].number_format == DATETIME
    (checked,) = column(book["核查发现"], "核查日期")
    assert checked.value == datetime(2026, 10, 20)


@pytest.mark.db
def test_the_results_export_holds_no_formula_and_its_scores_are_numbers(
    hostile: Engine, tmp_path: Path
) -> None:
    scores = {"C01": Decimal("93.96"), "C02": Decimal("88.50"), "D08": Decimal("90.00")}
    with session_scope(hostile) as session:
        conn = session.connection()
        for rank, (code, score) in enumerate(scores.items(), start=1):
            session.add(
                ResultEntry(cycle="annual_assessment", period="2026", unit_id=unit_id(conn, code),
                            category="key_development" if code != "D08" else "government",
                            score=score, deductions=Decimal(0), total_weight=Decimal(100),
                            rank=rank, grade="good", created_at=AT)
            )  # fmt: skip
        session.flush()
        record_result_use(session, "C01", 2026, "appointment", "=1+1", USED, people=2)
    path = tmp_path / "results-2026.xlsx"
    out = CliRunner().invoke(results_app, ["export", "--year", "2026", str(path)])
    assert out.exit_code == 0, out.output
    found = texts(path)
    assert_escaped(found, ("=1+1", '=HYPERLINK("http://x","y")', "\t=1"))
    book = openpyxl.load_workbook(path)
    sheet = book["年度考核结果"]
    cells = column(sheet, "最终得分")
    assert all(c.data_type == "n" and c.number_format == SCORE for c in cells)
    assert sorted(c.value for c in cells) == [88.5, 90.0, 93.96]
    for header, value in (("扣分合计", 0), ("指标总分值", 100)):
        typed = column(sheet, header)
        assert {(c.data_type, c.value, c.number_format) for c in typed} == {("n", value, SCORE)}
    (recorded,) = column(book["结果运用记录"], "登记时间")
    assert recorded.value == beijing(USED) == datetime(2027, 1, 6, 1, 45)
    assert recorded.number_format == DATETIME
