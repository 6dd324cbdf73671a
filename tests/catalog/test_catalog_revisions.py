"""Mid-year catalog changes: an audited revision, effective from a month (issue 14)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from deployments.cli import app
from deployments.demo.build_catalog import demo_catalog
from models.catalog.revision import (
    INDICATOR_ADDED,
    INDICATOR_CHANGED,
    ITEM_ADDED,
    UNIT_MOVED,
    CatalogChange,
    RevisionRow,
    catalog_as_of,
    compute_difference,
)
from models.catalog.schema import Catalog, CatalogError, IndicatorRow, ItemRow
from models.persistence.database import session_scope
from models.persistence.tables import AssessmentYear
from tasks.catalog import load_catalog, save_catalog
from tasks.files.catalog_read import read_catalog
from tasks.files.catalog_write import write_xlsx

YEAR = 2026

# ------------------------------------------------------------------------ the change


def _new_item() -> ItemRow:
    return ItemRow(
        year=YEAR,
        code="A20",
        name="锰污染防治",
        status="approved",
        decided_by="市考核委员会",
        decided_on=date(2026, 6, 20),
        document_ref="青考发〔2026〕7号",
    )


def _new_indicator() -> IndicatorRow:
    return IndicatorRow(
        year=YEAR,
        code="manganese_sites",
        item="A20",
        name="锰污染治理任务完成率",
        weight=Decimal("5"),
        direction="increase",
        categories=("key_development", "development_potential", "ecological_protection"),
        target=Decimal("100"),
        unit_of_measure="%",
    )


def changed_catalog(base: Catalog | None = None) -> Catalog:
    """The demo catalog with A20 approved (one indicator for the counties), fai's target
    corrected and department D08 moved from government to party_mass."""
    catalog = base or demo_catalog()
    indicators = tuple(
        replace(i, target=Decimal("130")) if (i.year, i.code) == (YEAR, "fai") else i
        for i in catalog.indicators
    )
    units = tuple(
        replace(u, category="party_mass") if u.code == "D08" else u for u in catalog.units
    )
    return replace(
        catalog,
        units=units,
        items=(*catalog.items, _new_item()),
        indicators=(*indicators, _new_indicator()),
    ).sorted()


def test_the_difference_names_the_item_added_the_target_corrected_and_the_unit_moved() -> None:
    difference = compute_difference(demo_catalog(), changed_catalog(), YEAR, "f.xlsx")
    assert difference.problems == ()
    kinds = {(c.kind, c.code, c.fields) for c in difference.changes}
    assert kinds == {
        (ITEM_ADDED, "A20", ()),
        (INDICATOR_ADDED, "manganese_sites", ()),
        (INDICATOR_CHANGED, "fai", ("target",)),
        (UNIT_MOVED, "D08", ("category",)),
    }
    fai = next(c for c in difference.changes if c.code == "fai")
    assert (fai.before or {})["target"] == "120" and fai.after["target"] == "130"
    assert fai.describe() == "修改指标 fai：目标值 120 → 130"


def test_the_same_catalog_makes_no_difference() -> None:
    difference = compute_difference(demo_catalog(), demo_catalog(), YEAR, "f.xlsx")
    assert difference.empty and difference.problems == ()


def test_a_change_of_another_year_is_not_part_of_this_years_difference() -> None:
    catalog = demo_catalog()
    other = replace(
        catalog,
        indicators=tuple(
            replace(i, weight=Decimal("9")) if (i.year, i.code) == (2025, "fai") else i
            for i in catalog.indicators
        ),
    )
    assert compute_difference(catalog, other, YEAR, "f.xlsx").empty


def test_the_catalog_as_of_a_month_applies_only_revisions_effective_by_then() -> None:
    base = demo_catalog()
    difference = compute_difference(base, changed_catalog(), YEAR, "f.xlsx")
    revision = RevisionRow(
        1, YEAR, "青考办〔2026〕12号", "2026-07", "", "office", "", difference.changes
    )
    june = catalog_as_of(base, [revision], "2026-06")
    july = catalog_as_of(base, [revision], "2026-07")
    assert june == base
    assert july == changed_catalog()
    assert catalog_as_of(base, [revision]) == changed_catalog()


def test_a_change_round_trips_through_its_json() -> None:
    for change in compute_difference(demo_catalog(), changed_catalog(), YEAR, "f").changes:
        assert CatalogChange.from_json(change.to_json()) == change


# ----------------------------------------------------------------------- the database


def _dump(engine: Engine) -> str:
    """A hash of every row of every table (the database unchanged ⇔ equal hashes)."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            if table == "alembic_version":
                continue
            rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()
            digest.update(table.encode())
            for row in sorted(repr(tuple(str(v) for v in r)) for r in rows):
                digest.update(row.encode())
    return digest.hexdigest()


@pytest.fixture
def frozen_db(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The demo catalog imported and 2026's first cycle run (frozen)."""
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    monkeypatch.setenv("ASSESS_OPERATOR", "考核办 王")
    with session_scope(engine) as session:
        save_catalog(session, demo_catalog())
        year = session.get(AssessmentYear, YEAR)
        assert year is not None
        year.frozen_at = datetime(2026, 2, 6, 1, 0, tzinfo=UTC)
    return engine


def _change(path: Path, *extra: str, effective: str = "2026-07") -> tuple[int, str]:
    args = ["catalog", "change", str(path), "--document", "青考办〔2026〕12号"]
    result = CliRunner().invoke(app, [*args, "--effective", effective, *extra])
    return result.exit_code, result.output


def _row(path: Path, sheet: str, code: str) -> int:
    ws = load_workbook(path)[sheet]
    header = [str(c.value).split()[-1] for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        cells = dict(zip(header, row, strict=False))
        if cells["code"].value == code and cells.get("year", cells["code"]).value in (YEAR, code):
            return int(row[0].row)
    raise AssertionError(f"{code} not in {sheet}")


def _set(path: Path, sheet: str, code: str, column: str, value: object) -> int:
    workbook = load_workbook(path)
    ws = workbook[sheet]
    header = [str(c.value).split()[-1] for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        cells = dict(zip(header, row, strict=False))
        if cells["code"].value == code and cells.get("year", cells["code"]).value in (YEAR, code):
            cells[column].value = value  # type: ignore[assignment]
            workbook.save(path)
            return int(row[0].row)
    raise AssertionError(f"{code} not in {sheet}")


@pytest.mark.db
def test_a_valid_change_applies_once_and_a_second_apply_changes_nothing(
    frozen_db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    code, output = _change(path, "--reason", "新增锰污染防治事项")
    assert code == 0, output
    assert "已记录目录修订" in output and "修改指标 fai：目标值 120 → 130" in output
    assert "单位调整类别 D08：类别 政府部门 → 党群部门" in output
    after_first = _dump(frozen_db)
    code, output = _change(path, "--reason", "新增锰污染防治事项")
    assert code == 0, output
    assert "没有需要修订的内容" in output
    assert _dump(frozen_db) == after_first
    with Session(frozen_db) as session:
        assert load_catalog(session) == changed_catalog()
        assert load_catalog(session, "2026-06") == demo_catalog()
    history = CliRunner().invoke(app, ["catalog", "history", "--year", "2026"])
    assert history.exit_code == 0, history.output
    assert "青考办〔2026〕12号  自 2026-07 起生效  记录人 考核办 王" in history.output
    assert "新增事项 A20（锰污染防治）" in history.output


@pytest.mark.db
def test_a_dry_run_shows_the_difference_and_changes_nothing(
    frozen_db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    before = _dump(frozen_db)
    code, output = _change(path, "--dry-run")
    assert code == 0, output
    assert "预览（未写入）" in output and "新增指标 manganese_sites" in output
    counties = sorted(u.code for u in demo_catalog().units if u.kind == "county")
    assert f"涉及 {len(counties) + 1} 个单位：" + "、".join([*counties, "D08"]) in output
    assert _dump(frozen_db) == before


@pytest.mark.db
def test_the_export_as_of_a_month_before_the_change_is_the_catalog_as_imported(
    frozen_db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    assert _change(path)[0] == 0
    may, now = tmp_path / "may.yaml", tmp_path / "now.xlsx"
    runner = CliRunner()
    assert runner.invoke(app, ["catalog", "export", str(may), "--as-of", "2026-05"]).exit_code == 0
    assert runner.invoke(app, ["catalog", "export", str(now)]).exit_code == 0
    assert read_catalog(may) == demo_catalog()
    assert read_catalog(now) == changed_catalog()
    before = _dump(frozen_db)
    result = runner.invoke(app, ["catalog", "import", str(now)])
    assert result.exit_code == 0, result.output
    assert _dump(frozen_db) == before


Refusal = Callable[[Path, Engine], tuple[str, str]]
"""Writes a bad change into the file (or the database state); returns (effective month,
words the refusal must contain, location included)."""


def _unapproved_item(path: Path, engine: Engine) -> tuple[str, str]:
    workbook = load_workbook(path)
    workbook["indicators"].delete_rows(_row(path, "indicators", "manganese_sites"))
    workbook.save(path)
    row = _set(path, "items", "A20", "status", "proposed")
    return "2026-07", f"工作表 items 第 {row} 行 status 列（E）"


def _added_item_without_document(path: Path, engine: Engine) -> tuple[str, str]:
    row = _set(path, "items", "A20", "document_ref", None)
    return "2026-07", f"工作表 items 第 {row} 行 document_ref 列（H）"


def _weight_not_positive(path: Path, engine: Engine) -> tuple[str, str]:
    row = _set(path, "indicators", "fai", "weight", 0)
    return "2026-07", f"工作表 indicators 第 {row} 行 weight 列（E）"


def _unknown_unit(path: Path, engine: Engine) -> tuple[str, str]:
    row = _set(path, "units", "D08", "code", "D99")
    return "2026-07", f"工作表 units 第 {row} 行 code 列（A）：未知单位“D99”"


def _unit_kind_changed(path: Path, engine: Engine) -> tuple[str, str]:
    row = _set(path, "units", "C01", "kind", "department")
    _set(path, "units", "C01", "category", "party_mass")
    return "2026-07", f"工作表 units 第 {row} 行 kind 列（C）"


def _direction_changed(path: Path, engine: Engine) -> tuple[str, str]:
    row = _set(path, "indicators", "debt_ratio", "direction", "increase")
    _set(path, "indicators", "debt_ratio", "baseline", None)
    return "2026-07", f"工作表 indicators 第 {row} 行 direction 列（F）"


def _indicator_deleted(path: Path, engine: Engine) -> tuple[str, str]:
    workbook = load_workbook(path)
    workbook["indicators"].delete_rows(_row(path, "indicators", "petitions"))
    workbook.save(path)
    return "2026-07", "工作表 indicators code 列（B）：文件中缺少指标“petitions”"


def _rules_changed(path: Path, engine: Engine) -> tuple[str, str]:
    workbook = load_workbook(path)
    workbook["rules"].append([YEAR, "low_discrimination_cv", 0.2])
    workbook.save(path)
    return "2026-07", "年度规则已随首个周期冻结"


def _sealed_year(path: Path, engine: Engine) -> tuple[str, str]:
    with session_scope(engine) as session:
        year = session.get(AssessmentYear, YEAR)
        assert year is not None
        year.published_at = datetime(2027, 1, 20, 2, 0, tzinfo=UTC)
    return "2026-07", "--effective 2026-07：2026年度考核结果已公布（封账）"


def _effective_after_december(path: Path, engine: Engine) -> tuple[str, str]:
    return "2026-13", "生效月份“2026-13”"


def _effective_in_a_year_not_begun(path: Path, engine: Engine) -> tuple[str, str]:
    return "2027-01", "数据库中没有 2027 年度的考核目录"


def _effective_in_a_year_whose_cycles_have_not_run(path: Path, engine: Engine) -> tuple[str, str]:
    return "2025-07", "2025年度尚未开始考核，目录可直接导入"


def _effective_before_the_last_revision(path: Path, engine: Engine) -> tuple[str, str]:
    first = path.with_name("first.xlsx")
    write_xlsx(
        replace(
            demo_catalog(),
            indicators=tuple(
                replace(i, weight=Decimal("11")) if (i.year, i.code) == (YEAR, "fai") else i
                for i in demo_catalog().indicators
            ),
        ),
        first,
    )
    assert _change(first, effective="2026-09")[0] == 0
    return "2026-07", "早于已有修订的生效月份 2026-09"


def _indicator_of_a_rejected_item(path: Path, engine: Engine) -> tuple[str, str]:
    row = _set(path, "indicators", "manganese_sites", "item", "R16")
    return "2026-07", f"工作表 indicators 第 {row} 行 item 列（C）"


@pytest.mark.db
@pytest.mark.parametrize(
    "refusal",
    [
        _unapproved_item,
        _added_item_without_document,
        _weight_not_positive,
        _unknown_unit,
        _unit_kind_changed,
        _direction_changed,
        _indicator_deleted,
        _rules_changed,
        _sealed_year,
        _effective_after_december,
        _effective_in_a_year_not_begun,
        _effective_in_a_year_whose_cycles_have_not_run,
        _effective_before_the_last_revision,
        _indicator_of_a_rejected_item,
    ],
)
def test_a_forbidden_change_is_refused_with_its_location_and_the_database_is_unchanged(
    frozen_db: Engine, tmp_path: Path, refusal: Refusal
) -> None:
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    effective, words = refusal(path, frozen_db)
    before = _dump(frozen_db)
    code, output = _change(path, effective=effective)
    assert code == 2, output
    assert words in output
    assert "目录修订未记录" in output or "--effective" in output or "生效月份" in output
    assert "Traceback" not in output
    assert _dump(frozen_db) == before


# ------------------------------------------------------------------ plain import


@pytest.mark.db
def test_import_after_cycles_ran_refuses_a_category_move_and_points_to_a_change(
    frozen_db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "目录.xlsx"
    catalog = demo_catalog()
    moved = replace(
        catalog,
        units=tuple(
            replace(u, category="party_mass") if u.code == "D08" else u for u in catalog.units
        ),
    )
    write_xlsx(moved, path)
    before = _dump(frozen_db)
    result = CliRunner().invoke(app, ["catalog", "import", str(path)])
    assert result.exit_code == 2, result.output
    assert f"sheet units, row {_row(path, 'units', 'D08')}, column category" in result.output
    assert "assess catalog change" in result.output
    assert _dump(frozen_db) == before


@pytest.mark.db
def test_import_after_cycles_ran_refuses_every_difference_of_that_year(
    frozen_db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "目录.xlsx"
    write_xlsx(changed_catalog(), path)
    before = _dump(frozen_db)
    with pytest.raises(CatalogError) as info, session_scope(frozen_db) as session:
        save_catalog(session, read_catalog(path))
    where = {(p.loc.sheet, p.loc.column) for p in info.value.problems}
    assert where == {
        ("units", "category"),
        ("items", "code"),
        ("indicators", "code"),
        ("indicators", "target"),
    }
    assert all("assess catalog change" in p.message for p in info.value.problems)
    assert _dump(frozen_db) == before


# ------------------------------------------------------------------ the database guard


@pytest.mark.db
def test_a_revision_row_cannot_be_updated_or_deleted(frozen_db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    assert _change(path)[0] == 0
    for statement in (
        "UPDATE catalog_revision SET effective_month = '2026-03'",
        "DELETE FROM catalog_revision",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), frozen_db.begin() as conn:
            conn.execute(sa.text(statement))


@pytest.mark.db
def test_a_frozen_year_still_refuses_an_indicator_inserted_without_a_revision(
    frozen_db: Engine,
) -> None:
    with pytest.raises(sa.exc.DatabaseError, match="frozen"), frozen_db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO item (year, code, name, key, status, decided_by, document_ref, note) "
                "VALUES (2026, 'X1', 'x', false, 'approved', '', '', '')"
            )
        )
