"""Importing and exporting the office's catalog (XLSX and YAML)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from deployments.cli import app
from deployments.demo.build_catalog import demo_catalog
from models.catalog.schema import CatalogError, CatalogProblem
from models.persistence.database import session_scope
from models.persistence.tables import AssessmentYear
from tasks.catalog import load_catalog, save_catalog
from tasks.files.catalog_read import read_catalog
from tasks.files.catalog_write import write_xlsx, write_yaml

pytestmark = pytest.mark.db
CATALOG_TABLES = ("assessment_year", "unit", "item", "indicator", "indicator_lineage")


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every catalog table's rows, sorted, with all columns."""
    out = {}
    with engine.connect() as conn:
        for table in CATALOG_TABLES:
            rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()
            out[table] = sorted(tuple(str(v) for v in r) for r in rows)
    return out


def _import(engine: Engine, path: Path) -> None:
    catalog = read_catalog(path)
    with session_scope(engine) as session:
        save_catalog(session, catalog)


@pytest.fixture
def demo_xlsx(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.xlsx"
    write_xlsx(demo_catalog(), path)
    return path


@pytest.fixture
def demo_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    write_yaml(demo_catalog(), path)
    return path


def test_the_demo_catalog_round_trips_through_xlsx_and_the_database(
    engine: Engine, demo_xlsx: Path, tmp_path: Path, db_url: str
) -> None:
    _import(engine, demo_xlsx)
    first = _dump(engine)
    with Session(engine) as session:
        exported = load_catalog(session)
    assert exported == demo_catalog()
    again = tmp_path / "exported.xlsx"
    write_xlsx(exported, again)
    _import(engine, again)
    assert _dump(engine) == first


def test_importing_an_exported_catalog_into_a_fresh_database_gives_the_same_catalog(
    engine: Engine, demo_yaml: Path, tmp_path: Path
) -> None:
    _import(engine, demo_yaml)
    with Session(engine) as session:
        stored = load_catalog(session)
    exported = tmp_path / "exported.xlsx"
    write_xlsx(stored, exported)
    assert read_catalog(exported) == stored == read_catalog(demo_yaml)


def test_importing_the_same_catalog_twice_changes_nothing(engine: Engine, demo_xlsx: Path) -> None:
    _import(engine, demo_xlsx)
    before = _dump(engine)
    with session_scope(engine) as session:
        report = save_catalog(session, read_catalog(demo_xlsx))
    assert not report.changed
    assert report.unchanged["indicators"] == len(demo_catalog().indicators)
    assert _dump(engine) == before


def test_the_demo_catalog_has_every_lifecycle_and_direction() -> None:
    catalog = demo_catalog()
    this_year = [i for i in catalog.indicators if i.year == 2026]
    assert {i.lifecycle for i in this_year} == {"active", "adapted", "merged", "simplified"}
    assert {i.direction for i in this_year} == {"increase", "decrease", "milestone"}
    counties = [u for u in catalog.units if u.kind == "county"]
    departments = [u for u in catalog.units if u.kind == "department"]
    assert len({u.category for u in counties}) == 3 and len(counties) == 12
    assert len({u.category for u in departments}) == 5 and len(departments) == 30
    statuses = {i.status for i in catalog.items if i.year == 2026}
    assert statuses == {"approved", "filed", "proposed", "rejected"}


# ------------------------------------------------------------------------ bad files


def _cell(path: Path, sheet: str, code: str, column: str, value: object, year: int = 2026) -> int:
    """Set one cell of the row whose code is ``code``; return its Excel row number."""
    workbook = load_workbook(path)
    ws = workbook[sheet]
    header = [str(c.value).split()[-1] for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        cells = dict(zip(header, row, strict=False))
        row_year = cells["year"].value if "year" in cells else year
        if cells["code"].value == code and row_year == year:
            cells[column].value = value  # type: ignore[assignment]
            workbook.save(path)
            return row[0].row
    raise AssertionError(f"{code} not found in {sheet}")


def _problems(path: Path) -> list[CatalogProblem]:
    with pytest.raises(CatalogError) as info:
        read_catalog(path)
    return info.value.problems


def _where(problem: CatalogProblem) -> tuple[str, int, str | None]:
    return (problem.loc.sheet, problem.loc.row, problem.loc.column)


BadEdit = Callable[[Path], tuple[str, int, str, str]]


def _unknown_category(path: Path) -> tuple[str, int, str, str]:
    return "units", _cell(path, "units", "C03", "category", "big_city"), "category", "big_city"


def _weight_not_a_number(path: Path) -> tuple[str, int, str, str]:
    return (
        "indicators",
        _cell(path, "indicators", "fai", "weight", "十二"),
        "weight",
        "not a number",
    )


def _merged_into_missing(path: Path) -> tuple[str, int, str, str]:
    row = _cell(path, "indicators", "clean_gov", "merged_into", "party_build")
    return "indicators", row, "merged_into", "'party_build' does not exist"


def _unapproved_item(path: Path) -> tuple[str, int, str, str]:
    row = _cell(path, "indicators", "livelihood", "item", "P15")
    return "indicators", row, "item", "proposed, not approved"


def _duplicate_unit_code(path: Path) -> tuple[str, int, str, str]:
    return "units", _cell(path, "units", "D02", "code", "D01"), "code", "duplicate unit code"


def _plan_with_eleven_months(path: Path) -> tuple[str, int, str, str]:
    plan = ", ".join(str(v) for v in range(10, 120, 10))
    return "indicators", _cell(path, "indicators", "fai", "plan", plan), "plan", "12 values"


def _decrease_target_above_baseline(path: Path) -> tuple[str, int, str, str]:
    row = _cell(path, "indicators", "pm25", "target", 40)
    return "indicators", row, "target", "must be below baseline"


def _simplified_without_reason(path: Path) -> tuple[str, int, str, str]:
    row = _cell(path, "indicators", "civilized_city", "reason", None)
    return "indicators", row, "reason", "needs a reason"


def _milestone_in_month_13(path: Path) -> tuple[str, int, str, str]:
    row = _cell(path, "indicators", "safety", "milestones", "隐患排查@4; 应急演练@8; 年度复盘@13")
    return "indicators", row, "milestones", "due in month 13"


def _approved_item_without_document(path: Path) -> tuple[str, int, str, str]:
    row = _cell(path, "items", "A12", "document_ref", None)
    return "items", row, "document_ref", "document"


def _category_of_the_wrong_kind(path: Path) -> tuple[str, int, str, str]:
    row = _cell(path, "units", "D08", "category", "ecological_protection")
    return "units", row, "category", "not a category of kind 'department'"


@pytest.mark.parametrize(
    "edit",
    [
        _unknown_category,
        _weight_not_a_number,
        _merged_into_missing,
        _unapproved_item,
        _duplicate_unit_code,
        _plan_with_eleven_months,
        _decrease_target_above_baseline,
        _simplified_without_reason,
        _milestone_in_month_13,
        _approved_item_without_document,
        _category_of_the_wrong_kind,
    ],
)
def test_a_bad_catalog_is_refused_naming_sheet_row_and_column_and_nothing_changes(
    engine: Engine, demo_xlsx: Path, tmp_path: Path, edit: BadEdit
) -> None:
    _import(engine, demo_xlsx)
    before = _dump(engine)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(demo_xlsx.read_bytes())
    sheet, row, column, words = edit(bad)
    problems = _problems(bad)
    matching = [p for p in problems if _where(p) == (sheet, row, column)]
    assert matching, f"expected a problem at {sheet} row {row} {column}, got {problems}"
    assert words in matching[0].message
    assert f"bad.xlsx, sheet {sheet}, row {row}, column {column}" in str(matching[0])
    assert _dump(engine) == before


def test_every_problem_of_a_file_is_reported_at_once(demo_xlsx: Path) -> None:
    expected = [_unknown_category(demo_xlsx), _weight_not_a_number(demo_xlsx)]
    expected.append(_plan_with_eleven_months(demo_xlsx))
    wheres = {_where(p) for p in _problems(demo_xlsx)}
    for sheet, row, column, _words in expected:
        assert (sheet, row, column) in wheres


def test_a_yaml_catalog_problem_names_the_section_entry_and_field(
    demo_yaml: Path, tmp_path: Path
) -> None:
    data = yaml.safe_load(demo_yaml.read_text(encoding="utf-8"))
    data["indicators"][2]["weight"] = "heavy"
    data["units"][0]["colour"] = "red"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    messages = [str(p) for p in _problems(bad)]
    assert any(
        m.startswith("bad.yaml, section indicators, entry 3, column weight") for m in messages
    )
    assert any("section units, entry 1, column colour: unknown field" in m for m in messages)


def test_a_missing_sheet_and_a_missing_column_are_named(demo_xlsx: Path) -> None:
    workbook = load_workbook(demo_xlsx)
    del workbook["items"]
    workbook["units"].delete_cols(4)  # category
    workbook.save(demo_xlsx)
    messages = [str(p) for p in _problems(demo_xlsx)]
    assert any("sheet items, row 0: sheet is missing" in m for m in messages)
    assert any("sheet units, row 1, column category" in m for m in messages)


def test_a_frozen_year_refuses_a_changed_indicator_and_keeps_the_database(
    engine: Engine, demo_xlsx: Path
) -> None:
    _import(engine, demo_xlsx)
    with session_scope(engine) as session:
        year = session.get(AssessmentYear, 2026)
        assert year is not None
        year.frozen_at = datetime(2026, 2, 6, 1, 0, tzinfo=UTC)
    before = _dump(engine)
    row = _cell(demo_xlsx, "indicators", "fai", "weight", 20)
    with pytest.raises(CatalogError) as info, session_scope(engine) as session:
        save_catalog(session, read_catalog(demo_xlsx))
    assert [_where(p) for p in info.value.problems] == [("indicators", row, "weight")]
    assert "assess catalog change" in info.value.problems[0].message
    assert _dump(engine) == before


def test_a_frozen_year_still_accepts_changes_to_units_and_to_other_years(
    engine: Engine, demo_xlsx: Path
) -> None:
    _import(engine, demo_xlsx)
    with session_scope(engine) as session:
        year = session.get(AssessmentYear, 2026)
        assert year is not None
        year.frozen_at = datetime(2026, 2, 6, 1, 0, tzinfo=UTC)
    _cell(demo_xlsx, "units", "C01", "name", "青岚新区")
    _cell(demo_xlsx, "indicators", "fai", "name", "固定资产投资", year=2025)
    _import(engine, demo_xlsx)
    with Session(engine) as session:
        stored = load_catalog(session)
    assert next(u for u in stored.units if u.code == "C01").name == "青岚新区"


# ------------------------------------------------------------------------------ CLI


def test_the_cli_imports_exports_and_refuses_with_locations(
    db_url: str, demo_xlsx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    runner = CliRunner()
    result = runner.invoke(app, ["catalog", "import", str(demo_xlsx)])
    assert result.exit_code == 0, result.output
    assert "indicators: 43 new" in result.output
    out = tmp_path / "out.yaml"
    result = runner.invoke(app, ["catalog", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert read_catalog(out) == demo_catalog()
    _weight_not_a_number(demo_xlsx)
    result = runner.invoke(app, ["catalog", "import", str(demo_xlsx)])
    assert result.exit_code == 2
    assert "column weight (E)" in result.output
