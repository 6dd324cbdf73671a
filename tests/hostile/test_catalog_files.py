"""Hostile catalog files: every one refused with its location, the database untouched.

Each malformed file is read and imported the way ``assess catalog import`` does it,
after the demo catalog was imported; the refusal must name where the problem is, no
other exception may escape, every table's rows must hash the same before and after,
and the peak of Python memory while reading stays under ``MEMORY_BOUND``.
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from deployments.cli import app
from deployments.demo.build_catalog import demo_catalog
from models.catalog.limits import (
    MB,
)
from models.catalog.schema import Catalog, CatalogError, CatalogProblem
from models.persistence.database import session_scope
from tasks.catalog import load_catalog, save_catalog
from tasks.files.catalog_read import read_catalog
from tasks.files.catalog_write import write_xlsx
from tests.hostile.catalog_cases import (
    BUILDS,
    Build,
    demo_xlsx,
    edit_xlsx,
    write_yaml_data,
    xlsx_ten_thousand_units,
    yaml_near_the_size_limit,
)

pytestmark = pytest.mark.db

MEMORY_BOUND = 500 * MB


def _table_hashes(engine: Engine) -> dict[str, str]:
    """A hash of every table's rows (all columns, sorted)."""
    out = {}
    with engine.connect() as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()
            digest = hashlib.sha256()
            for row in sorted(repr(tuple(str(v) for v in r)) for r in rows):
                digest.update(row.encode())
            out[table] = digest.hexdigest()
    return out


def _import(engine: Engine, path: Path) -> None:
    catalog = read_catalog(path)
    with session_scope(engine) as session:
        save_catalog(session, catalog)


def _refusal(engine: Engine, path: Path) -> tuple[list[CatalogProblem], int]:
    """The problems of refusing ``path`` and the peak Python memory of reading it."""
    tracemalloc.start()
    try:
        with pytest.raises(CatalogError) as info:
            _import(engine, path)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return info.value.problems, peak


@pytest.fixture
def imported(engine: Engine, tmp_path: Path) -> Engine:
    """A database holding the demo catalog."""
    demo = tmp_path / "demo.xlsx"
    demo_xlsx(demo)
    _import(engine, demo)
    return engine


SLOW = (xlsx_ten_thousand_units, yaml_near_the_size_limit)
"""The largest files the readers take in full: several seconds each."""


@pytest.mark.parametrize(
    ("suffix", "build"),
    [
        pytest.param(suffix, build, id=build.__name__, marks=[pytest.mark.slow] * (build in SLOW))
        for suffix, build in BUILDS
    ],
)
def test_a_hostile_catalog_is_refused_with_its_location_and_nothing_changes(
    imported: Engine, tmp_path: Path, suffix: str, build: Build
) -> None:
    path = tmp_path / f"bad.{suffix}"
    sheet, row, column, words = build(path)
    before = _table_hashes(imported)

    problems, peak = _refusal(imported, path)

    assert peak < MEMORY_BOUND, f"reading took {peak / MB:.0f} MB"
    at_place = [p for p in problems if p.loc.sheet == sheet and p.loc.column == column]
    if row:
        at_place = [p for p in at_place if p.loc.row == row]
    assert any(words in p.message for p in at_place), problems[:5]
    assert all(p.loc.file == "bad." + suffix for p in problems)
    assert all(len(p.message) < 400 for p in problems)
    assert _table_hashes(imported) == before


def test_a_file_of_unknown_type_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text("code,name\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        read_catalog(path)
    assert str(info.value.problems[0]).startswith("catalog.csv, sheet -, row 0:")


def test_an_indicator_named_with_an_onsite_check_word_is_refused_at_import(
    imported: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.xlsx"
    row = edit_xlsx(path, "indicators", "fai", "name", "固定资产投资暗访")
    before = _table_hashes(imported)

    problems, _peak = _refusal(imported, path)

    assert [str(p) for p in problems] == [
        f"catalog.xlsx, sheet indicators, row {row}, column name (D): "
        "含有现场检查计划用语“暗访”：此内容会出现在发给被考核单位的消息中，"
        "不得透露现场检查计划，请改写"
    ]
    assert _table_hashes(imported) == before


def test_a_catalog_built_in_code_with_an_onsite_check_word_is_refused_when_saved(
    imported: Engine,
) -> None:
    catalog = demo_catalog()
    first = replace(catalog.units[0], name="明察暗访组")
    before = _table_hashes(imported)
    with pytest.raises(CatalogError) as info, session_scope(imported) as session:
        save_catalog(session, replace(catalog, units=(first, *catalog.units[1:])))
    assert [(p.loc.sheet, p.loc.row, p.loc.column) for p in info.value.problems] == [
        ("units", 1, "name")
    ]
    assert _table_hashes(imported) == before


def test_a_real_formula_cell_is_refused_naming_sheet_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "catalog.xlsx"
    row = edit_xlsx(path, "indicators", "fai", "weight", "=B2*2")
    with pytest.raises(CatalogError) as info:
        read_catalog(path)
    assert [str(p) for p in info.value.problems] == [
        f"catalog.xlsx, sheet indicators, row {row}, column weight (E): "
        "该单元格是公式（=B2*2）：目录只接受直接填写的值，"
        "请把公式改为它的结果（复制后“选择性粘贴—数值”）"
    ]


def test_a_text_cell_escaped_by_the_export_is_read_back_without_the_quote(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.xlsx"
    edit_xlsx(path, "indicators", "fai", "name", "'=1+1")
    edit_xlsx(path.with_name("other.xlsx"), "units", "C03", "name", "'plain")
    indicators = read_catalog(path).indicators
    indicator = next(i for i in indicators if i.code == "fai" and i.year == 2026)
    assert indicator.name == "=1+1"
    unit = next(u for u in read_catalog(path.with_name("other.xlsx")).units if u.code == "C03")
    assert unit.name == "'plain"


def _with_names(catalog: Catalog, name: str) -> Catalog:
    """The demo catalog with ``name`` as a unit's, an item's and an indicator's name."""
    units = (replace(catalog.units[0], name=name), *catalog.units[1:])
    items = (replace(catalog.items[0], name=name, note=name), *catalog.items[1:])
    indicators = (
        replace(catalog.indicators[0], name=name, unit_of_measure=name[:10]),
        *catalog.indicators[1:],
    )
    return replace(catalog, units=units, items=items, indicators=indicators)


@pytest.mark.parametrize(
    "name",
    [
        "=1+1",
        '=HYPERLINK("http://x","y")',
        "+86",
        "-x",
        "@a",
        "'=typed quote",
    ],
)
def test_names_that_look_like_formulas_round_trip_through_export_and_import(
    engine: Engine, tmp_path: Path, name: str
) -> None:
    with session_scope(engine) as session:
        save_catalog(session, _with_names(demo_catalog(), name))
    exported = tmp_path / "exported.xlsx"
    with Session(engine) as session:
        write_xlsx(load_catalog(session), exported)
    before = _table_hashes(engine)

    with session_scope(engine) as session:
        report = save_catalog(session, read_catalog(exported))

    assert not report.changed, report.summary()
    assert _table_hashes(engine) == before
    with Session(engine) as session:
        stored = load_catalog(session)
    assert next(u for u in stored.units if u.code == demo_catalog().units[0].code).name == name


def test_the_cli_prints_a_located_refusal_and_no_traceback(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    path = tmp_path / "random.xlsx"
    path.write_bytes(os.urandom(2048))
    result = CliRunner().invoke(app, ["catalog", "import", str(path)])
    assert result.exit_code == 2
    assert "random.xlsx, sheet -, row 0: 不是有效的 XLSX 文件" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_refusal_lists_a_bounded_number_of_problems(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    units = [{"code": f"U{n}", "name": "x" * 300, "kind": "county"} for n in range(600)]
    write_yaml_data(path, {"units": units})
    with pytest.raises(CatalogError) as info:
        read_catalog(path)
    assert len(info.value.problems) > 1000
    assert len(str(info.value)) < 200 * 400
    assert "另有" in str(info.value)
