"""The hostile catalog files of ``test_catalog_files``: a builder per case.

Each builder writes one malformed catalog file at ``path`` (starting from the demo
catalog, or from nothing) and returns where its refusal must point: (sheet, row,
column, words of the message).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook, load_workbook

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
from tasks.files.catalog_write import write_xlsx, write_yaml

# ----------------------------------------------------------------------------- builders

Where = tuple[str, int, str | None, str]
"""(sheet, row, column, words expected in the message); sheet "-" is the whole file."""
Build = Callable[[Path], Where]


def demo_xlsx(path: Path) -> None:
    write_xlsx(demo_catalog(), path)


def edit_xlsx(path: Path, sheet: str, code: str, column: str, value: object) -> int:
    """Set one cell of the 2026 row whose code is ``code``; return its row number."""
    demo_xlsx(path)
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


def write_yaml_data(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _edit_yaml(path: Path, sheet: str, entry: int, column: str, value: Any) -> int:
    data = _yaml_data(path)
    data[sheet][entry - 1][column] = value
    write_yaml_data(path, data)
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
    demo_xlsx(path)
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
    row = edit_xlsx(path, "indicators", "fai", "name", "=CONCAT(A1,B1)")
    return "indicators", row, "name", "是公式"


def xlsx_formula_in_a_weight(path: Path) -> Where:
    row = edit_xlsx(path, "indicators", "fai", "weight", "=SUM(1,2)")
    return "indicators", row, "weight", "是公式"


def xlsx_error_value(path: Path) -> Where:
    row = edit_xlsx(path, "indicators", "fai", "target", "#REF!")
    return "indicators", row, "target", "错误值 #REF!"


def xlsx_name_of_10000_characters(path: Path) -> Where:
    row = edit_xlsx(path, "indicators", "fai", "name", "长" * 10_000)
    return "indicators", row, "name", "文字过长：10000 个字符，最多 200 个"


def xlsx_note_of_30000_characters(path: Path) -> Where:
    row = edit_xlsx(path, "items", "A12", "note", "注" * 30_000)
    return "items", row, "note", "文字过长：30000 个字符"


def xlsx_document_ref_too_long(path: Path) -> Where:
    row = edit_xlsx(path, "items", "A12", "document_ref", "青" * 201)
    return "items", row, "document_ref", "最多 200 个"


def xlsx_unit_of_measure_too_long(path: Path) -> Where:
    row = edit_xlsx(path, "indicators", "fai", "unit_of_measure", "亿元" * 21)
    return "indicators", row, "unit_of_measure", "最多 40 个"


def xlsx_weight_of_1e15(path: Path) -> Where:
    row = edit_xlsx(path, "indicators", "fai", "weight", 1e15)
    return "indicators", row, "weight", "超过上限 1000"


def xlsx_weight_with_six_decimals(path: Path) -> Where:
    row = edit_xlsx(path, "indicators", "fai", "weight", 2.345678)
    return "indicators", row, "weight", "分值最多两位小数"


def xlsx_target_of_1e15(path: Path) -> Where:
    row = edit_xlsx(path, "indicators", "fai", "target", 1e15)
    return "indicators", row, "target", "超出范围"


def xlsx_plan_with_seven_decimals(path: Path) -> Where:
    plan = ", ".join(["1.1234567"] + [str(v) for v in range(10, 120, 10)])
    row = edit_xlsx(path, "indicators", "fai", "plan", plan)
    return "indicators", row, "plan", "最多 6 位小数"


def xlsx_confidential_indicator_name(path: Path) -> Where:
    row = edit_xlsx(path, "indicators", "fai", "name", "重点项目暗访完成率")
    return "indicators", row, "name", "“暗访”"


def xlsx_confidential_unit_name(path: Path) -> Where:
    row = edit_xlsx(path, "units", "C03", "name", "四不两直 检查组")
    return "units", row, "name", "“四不两直”"


def xlsx_confidential_item_note(path: Path) -> Where:
    row = edit_xlsx(path, "items", "A12", "note", "下月突击检查")
    return "items", row, "note", "“突击检查”"


def xlsx_confidential_milestone(path: Path) -> Where:
    row = edit_xlsx(path, "indicators", "safety", "milestones", "隐患排查@4; 明察暗访@8")
    return "indicators", row, "milestones", "现场检查计划用语"


def xlsx_rows_beyond_the_limit(path: Path) -> Where:
    demo_xlsx(path)
    workbook = load_workbook(path)
    workbook["units"].cell(row=MAX_ROWS + 5, column=1, value="X1")
    workbook.save(path)
    return "units", MAX_ROWS + 5, None, "行数超过上限"


def xlsx_value_beyond_the_last_column(path: Path) -> Where:
    demo_xlsx(path)
    workbook = load_workbook(path)
    workbook["items"].cell(row=3, column=MAX_COLUMNS + 5, value="stray")
    workbook.save(path)
    return "items", 3, None, "只读前 40 列"


def xlsx_too_many_sheets(path: Path) -> Where:
    demo_xlsx(path)
    workbook = load_workbook(path)
    for number in range(MAX_SHEETS):
        workbook.create_sheet(f"extra{number}")
    workbook.save(path)
    return "-", 0, None, "工作表过多"


def xlsx_one_long_string_in_many_cells(path: Path) -> Where:
    demo_xlsx(path)
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
    write_yaml_data(path, data)
    return "units", MAX_ROWS + 1, None, "条目过多"


def yaml_too_many_milestones(path: Path) -> Where:
    data = _yaml_data(path)
    entry = next(n for n, i in enumerate(data["indicators"], 1) if i["code"] == "safety")
    milestones = [{"name": f"节点{n}", "due_month": 12} for n in range(60)]
    data["indicators"][entry - 1]["milestones"] = milestones
    write_yaml_data(path, data)
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
    demo_xlsx(source)
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
