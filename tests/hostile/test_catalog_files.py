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
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from deployments.cli import app
from deployments.demo.build_catalog import demo_catalog
from models.catalog.limits import (
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MAX_SHEETS,
    MAX_XLSX_SHEET_BYTES,
    MAX_YAML_BYTES,
    MB,
)
from models.catalog.schema import Catalog, CatalogError, CatalogProblem
from models.persistence.database import session_scope
from tasks.catalog import load_catalog, save_catalog
from tasks.files.catalog_read import read_catalog
from tasks.files.catalog_write import write_xlsx, write_yaml

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


# ----------------------------------------------------------------------------- builders

Where = tuple[str, int, str | None, str]
"""(sheet, row, column, words expected in the message); sheet "-" is the whole file."""
Build = Callable[[Path], Where]


def _demo_xlsx(path: Path) -> None:
    write_xlsx(demo_catalog(), path)


def _edit_xlsx(path: Path, sheet: str, code: str, column: str, value: object) -> int:
    """Set one cell of the 2026 row whose code is ``code``; return its row number."""
    _demo_xlsx(path)
    workbook = load_workbook(path)
    ws = workbook[sheet]
    header = [str(c.value).split()[-1] for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        cells = dict(zip(header, row, strict=False))
        year = cells["year"].value if "year" in cells else 2026
        if cells["code"].value == code and year == 2026:
            cells[column].value = value  # type: ignore[assignment]
            workbook.save(path)
            return row[0].row
    raise AssertionError(f"{code} not found in {sheet}")


def _yaml_data(tmp: Path) -> dict[str, Any]:
    source = tmp.with_name("demo-source.yaml")
    write_yaml(demo_catalog(), source)
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    return data


def _write_yaml_data(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _edit_yaml(path: Path, sheet: str, entry: int, column: str, value: Any) -> int:
    data = _yaml_data(path)
    data[sheet][entry - 1][column] = value
    _write_yaml_data(path, data)
    return entry


def xlsx_empty(path: Path) -> Where:
    path.write_bytes(b"")
    return "-", 0, None, "文件是空的"


def xlsx_random_bytes(path: Path) -> Where:
    path.write_bytes(os.urandom(4096))
    return "-", 0, None, "不是有效的 XLSX 文件"


def xlsx_zip_without_a_workbook(path: Path) -> Where:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return "-", 0, None, "不是可读取的 XLSX 文件"


def xlsx_over_the_file_size(path: Path) -> Where:
    with path.open("wb") as out:
        out.write(b"PK")
        out.seek(MAX_FILE_BYTES + 10)
        out.write(b"\0")
    return "-", 0, None, "文件过大"


def _zip_bomb(path: Path, member: str) -> None:
    _demo_xlsx(path)
    block = b"<x/>" * (MB // 4)
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open(member, "w", force_zip64=True) as out,
    ):
        for _ in range(MAX_XLSX_SHEET_BYTES // MB + 40):
            out.write(block)


def xlsx_zip_bomb_worksheet(path: Path) -> Where:
    _zip_bomb(path, "xl/worksheets/sheet99.xml")
    return "-", 0, None, "压缩炸弹"


def xlsx_zip_bomb_shared_strings(path: Path) -> Where:
    _zip_bomb(path, "xl/sharedStrings2.xml")
    return "-", 0, None, "压缩炸弹"


def xlsx_formula_in_a_name(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "fai", "name", "=CONCAT(A1,B1)")
    return "indicators", row, "name", "是公式"


def xlsx_formula_in_a_weight(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "fai", "weight", "=SUM(1,2)")
    return "indicators", row, "weight", "是公式"


def xlsx_error_value(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "fai", "target", "#REF!")
    return "indicators", row, "target", "错误值 #REF!"


def xlsx_name_of_10000_characters(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "fai", "name", "长" * 10_000)
    return "indicators", row, "name", "文字过长：10000 个字符，最多 200 个"


def xlsx_note_of_30000_characters(path: Path) -> Where:
    row = _edit_xlsx(path, "items", "A12", "note", "注" * 30_000)
    return "items", row, "note", "文字过长：30000 个字符"


def xlsx_document_ref_too_long(path: Path) -> Where:
    row = _edit_xlsx(path, "items", "A12", "document_ref", "青" * 201)
    return "items", row, "document_ref", "最多 200 个"


def xlsx_unit_of_measure_too_long(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "fai", "unit_of_measure", "亿元" * 21)
    return "indicators", row, "unit_of_measure", "最多 40 个"


def xlsx_weight_of_1e15(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "fai", "weight", 1e15)
    return "indicators", row, "weight", "超过上限 1000"


def xlsx_weight_with_six_decimals(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "fai", "weight", 2.345678)
    return "indicators", row, "weight", "分值最多两位小数"


def xlsx_target_of_1e15(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "fai", "target", 1e15)
    return "indicators", row, "target", "超出范围"


def xlsx_plan_with_seven_decimals(path: Path) -> Where:
    plan = ", ".join(["1.1234567"] + [str(v) for v in range(10, 120, 10)])
    row = _edit_xlsx(path, "indicators", "fai", "plan", plan)
    return "indicators", row, "plan", "最多 6 位小数"


def xlsx_confidential_indicator_name(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "fai", "name", "重点项目暗访完成率")
    return "indicators", row, "name", "“暗访”"


def xlsx_confidential_unit_name(path: Path) -> Where:
    row = _edit_xlsx(path, "units", "C03", "name", "四不两直 检查组")
    return "units", row, "name", "“四不两直”"


def xlsx_confidential_item_note(path: Path) -> Where:
    row = _edit_xlsx(path, "items", "A12", "note", "下月突击检查")
    return "items", row, "note", "“突击检查”"


def xlsx_confidential_milestone(path: Path) -> Where:
    row = _edit_xlsx(path, "indicators", "safety", "milestones", "隐患排查@4; 明察暗访@8")
    return "indicators", row, "milestones", "现场检查计划用语"


def xlsx_rows_beyond_the_limit(path: Path) -> Where:
    _demo_xlsx(path)
    workbook = load_workbook(path)
    workbook["units"].cell(row=MAX_ROWS + 5, column=1, value="X1")
    workbook.save(path)
    return "units", MAX_ROWS + 5, None, "行数超过上限"


def xlsx_value_beyond_the_last_column(path: Path) -> Where:
    _demo_xlsx(path)
    workbook = load_workbook(path)
    workbook["items"].cell(row=3, column=MAX_COLUMNS + 5, value="stray")
    workbook.save(path)
    return "items", 3, None, "只读前 40 列"


def xlsx_too_many_sheets(path: Path) -> Where:
    _demo_xlsx(path)
    workbook = load_workbook(path)
    for number in range(MAX_SHEETS):
        workbook.create_sheet(f"extra{number}")
    workbook.save(path)
    return "-", 0, None, "工作表过多"


def xlsx_one_long_string_in_many_cells(path: Path) -> Where:
    _demo_xlsx(path)
    workbook = load_workbook(path)
    ws = workbook["units"]
    text = "x" * 19_000
    for row in range(50, 50 + 600):
        ws.cell(row=row, column=2, value=text)
    workbook.save(path)
    return "units", 0, None, "文字总量超过上限"


def yaml_gbk(path: Path) -> Where:
    data = _yaml_data(path)
    path.write_bytes(yaml.safe_dump(data, allow_unicode=True).encode("gbk"))
    return "-", 0, None, "不是 UTF-8 编码（疑似 GBK/GB18030"


def yaml_utf16(path: Path) -> Where:
    data = _yaml_data(path)
    path.write_bytes(yaml.safe_dump(data, allow_unicode=True).encode("utf-16"))
    return "-", 0, None, "UTF-16"


def yaml_alias_bomb(path: Path) -> Where:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for depth, letter in enumerate("bcdefghi"):
        previous = "abcdefghi"[depth]
        lines.append(f"{letter}: &{letter} [" + ",".join([f"*{previous}"] * 9) + "]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size < 400
    return "-", 0, None, "锚点或别名"


def yaml_merge_key(path: Path) -> Where:
    path.write_text(
        "years:\n- &y {year: 2026, name: x}\n- <<: *y\n  year: 2027\n", encoding="utf-8"
    )
    return "-", 0, None, "锚点或别名"


def yaml_over_the_file_size(path: Path) -> Where:
    with path.open("w", encoding="utf-8") as out:
        line = "# " + "x" * 1000 + "\n"
        for _ in range(52 * 1024):
            out.write(line)
    assert path.stat().st_size > 50 * MB
    return "-", 0, None, "文件过大"


def yaml_syntax_error(path: Path) -> Where:
    path.write_text("years:\n  - year: 2026\n   name: [unclosed\n", encoding="utf-8")
    return "-", 0, None, "不是有效的 YAML（第"


def yaml_python_tag(path: Path) -> Where:
    path.write_text("years: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    return "-", 0, None, "不是有效的 YAML"


def yaml_top_level_list(path: Path) -> Where:
    path.write_text("- years\n- units\n", encoding="utf-8")
    return "-", 0, None, "top level must be a mapping"


def yaml_name_is_a_mapping(path: Path) -> Where:
    entry = _edit_yaml(path, "units", 3, "name", {"zh": "县", "en": "county"})
    return "units", entry, "name", "不能是列表或映射"


def yaml_weight_infinite(path: Path) -> Where:
    entry = _edit_yaml(path, "indicators", 2, "weight", float("inf"))
    return "indicators", entry, "weight", "not a number"


def yaml_target_nan(path: Path) -> Where:
    entry = _edit_yaml(path, "indicators", 2, "target", float("nan"))
    return "indicators", entry, "target", "not a number"


def yaml_control_character_in_a_name(path: Path) -> Where:
    entry = _edit_yaml(path, "units", 1, "name", "青岚\x00县")
    return "units", entry, "name", "控制字符（U+0000）"


def yaml_confidential_unit_of_measure(path: Path) -> Where:
    entry = _edit_yaml(path, "indicators", 2, "unit_of_measure", "次（不打招呼）")
    return "indicators", entry, "unit_of_measure", "“不打招呼”"


def yaml_too_many_entries(path: Path) -> Where:
    data = _yaml_data(path)
    data["units"] = [{"code": f"U{n}"} for n in range(MAX_ROWS + 1)]
    _write_yaml_data(path, data)
    return "units", MAX_ROWS + 1, None, "条目过多"


def yaml_too_many_milestones(path: Path) -> Where:
    data = _yaml_data(path)
    entry = next(n for n, i in enumerate(data["indicators"], 1) if i["code"] == "safety")
    milestones = [{"name": f"节点{n}", "due_month": 12} for n in range(60)]
    data["indicators"][entry - 1]["milestones"] = milestones
    _write_yaml_data(path, data)
    return "indicators", entry, "milestones", "条目过多：60 个"


def yaml_channel_too_long(path: Path) -> Where:
    entry = _edit_yaml(path, "units", 1, "channels", ["mailto://a@b.cn?x=" + "y" * 400])
    return "units", entry, "channels", "提醒渠道地址过长"


def yaml_near_the_size_limit(path: Path) -> Where:
    """The most YAML the reader parses: just under the size limit, every entry read."""
    entry = (
        "- code: U{code}\n  name: {name}{n}\n  kind: county\n  category: urban_core\n"
        "  on_platform: true\n  channels:\n  - mailto://u{n}@example.cn\n"
    )
    name = "青岚县" * 20
    with path.open("w", encoding="utf-8") as out:
        out.write("units:\n")
        n = 0
        while out.tell() < MAX_YAML_BYTES - 1000:
            out.write(entry.format(code=n % 100, name=name, n=n))
            n += 1
    assert 5000 < n <= MAX_ROWS
    return "units", 101, "code", "duplicate unit code 'U0'"


def xlsx_ten_thousand_units(path: Path) -> Where:
    """The most rows the reader takes from one sheet, every one read."""
    source = path.with_name("source.xlsx")
    _demo_xlsx(source)
    original = load_workbook(source)
    workbook = Workbook(write_only=True)
    for sheet in original.sheetnames:
        ws = workbook.create_sheet(sheet)
        for values in original[sheet].iter_rows(values_only=True):
            ws.append(values)
            if sheet == "units":
                break
        if sheet == "units":
            for n in range(MAX_ROWS):
                code = f"U{n % 100}"
                ws.append([code, f"青岚县第{n}单位" * 5, "county", "urban_core", "是", None, None])
    workbook.save(path)
    return "units", 102, "code", "duplicate unit code 'U0'"


BUILDS: list[tuple[str, Build]] = [
    ("xlsx", xlsx_empty),
    ("xlsx", xlsx_random_bytes),
    ("xlsx", xlsx_zip_without_a_workbook),
    ("xlsx", xlsx_over_the_file_size),
    ("xlsx", xlsx_zip_bomb_worksheet),
    ("xlsx", xlsx_zip_bomb_shared_strings),
    ("xlsx", xlsx_formula_in_a_name),
    ("xlsx", xlsx_formula_in_a_weight),
    ("xlsx", xlsx_error_value),
    ("xlsx", xlsx_name_of_10000_characters),
    ("xlsx", xlsx_note_of_30000_characters),
    ("xlsx", xlsx_document_ref_too_long),
    ("xlsx", xlsx_unit_of_measure_too_long),
    ("xlsx", xlsx_weight_of_1e15),
    ("xlsx", xlsx_weight_with_six_decimals),
    ("xlsx", xlsx_target_of_1e15),
    ("xlsx", xlsx_plan_with_seven_decimals),
    ("xlsx", xlsx_confidential_indicator_name),
    ("xlsx", xlsx_confidential_unit_name),
    ("xlsx", xlsx_confidential_item_note),
    ("xlsx", xlsx_confidential_milestone),
    ("xlsx", xlsx_rows_beyond_the_limit),
    ("xlsx", xlsx_value_beyond_the_last_column),
    ("xlsx", xlsx_too_many_sheets),
    ("xlsx", xlsx_one_long_string_in_many_cells),
    ("xlsx", xlsx_ten_thousand_units),
    ("yaml", yaml_gbk),
    ("yaml", yaml_utf16),
    ("yaml", yaml_alias_bomb),
    ("yaml", yaml_merge_key),
    ("yaml", yaml_over_the_file_size),
    ("yaml", yaml_syntax_error),
    ("yaml", yaml_python_tag),
    ("yaml", yaml_top_level_list),
    ("yaml", yaml_name_is_a_mapping),
    ("yaml", yaml_weight_infinite),
    ("yaml", yaml_target_nan),
    ("yaml", yaml_control_character_in_a_name),
    ("yaml", yaml_confidential_unit_of_measure),
    ("yaml", yaml_too_many_entries),
    ("yaml", yaml_too_many_milestones),
    ("yaml", yaml_channel_too_long),
    ("yaml", yaml_near_the_size_limit),
]


@pytest.fixture
def imported(engine: Engine, tmp_path: Path) -> Engine:
    """A database holding the demo catalog."""
    demo = tmp_path / "demo.xlsx"
    _demo_xlsx(demo)
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
    row = _edit_xlsx(path, "indicators", "fai", "name", "固定资产投资暗访")
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
    row = _edit_xlsx(path, "indicators", "fai", "weight", "=B2*2")
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
    _edit_xlsx(path, "indicators", "fai", "name", "'=1+1")
    _edit_xlsx(path.with_name("other.xlsx"), "units", "C03", "name", "'plain")
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
    assert result.exit_code == 1
    assert "random.xlsx, sheet -, row 0: 不是有效的 XLSX 文件" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_refusal_lists_a_bounded_number_of_problems(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    units = [{"code": f"U{n}", "name": "x" * 300, "kind": "county"} for n in range(600)]
    _write_yaml_data(path, {"units": units})
    with pytest.raises(CatalogError) as info:
        read_catalog(path)
    assert len(info.value.problems) > 1000
    assert len(str(info.value)) < 200 * 400
    assert "另有" in str(info.value)
