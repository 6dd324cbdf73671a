"""Reading and writing the catalog file: XLSX (the office's spreadsheet) and YAML.

The layout is documented in ``models/catalog/CATALOG.md`` next to ``template.xlsx``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from models.catalog.intake import (
    check_archive,
    check_size,
    decode_yaml,
    load_yaml,
    non_scalar,
    refuse,
    scan_sheet,
    xlsx_value,
)
from models.catalog.limits import (
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MAX_SHEETS,
    MAX_TEXT_CHARS,
    MAX_YAML_BYTES,
)
from models.catalog.schema import (
    COLUMNS,
    SHEETS,
    Catalog,
    CatalogError,
    CatalogProblem,
    IndicatorRow,
    ItemRow,
    Loc,
    RawCatalog,
    RawRow,
    UnitRow,
    parse_catalog,
)
from models.rules import YearRules

HEADER_LABELS: dict[str, str] = {
    "year": "年度",
    "name": "名称",
    "key": "重点/键",
    "value": "值",
    "code": "编码",
    "kind": "类型",
    "category": "类别",
    "on_platform": "纳入平台",
    "onboarded_on": "纳入日期",
    "channels": "提醒渠道",
    "status": "审批状态",
    "decided_by": "决定机关",
    "decided_on": "决定日期",
    "document_ref": "文号",
    "note": "备注",
    "item": "所属事项",
    "weight": "分值",
    "direction": "方向",
    "target": "目标值",
    "baseline": "基期值",
    "unit_of_measure": "计量单位",
    "plan": "月度计划",
    "milestones": "节点",
    "categories": "适用类别",
    "source_field": "平台字段",
    "lifecycle": "状态",
    "reason": "简化原因",
    "merged_into": "整合至",
    "adapted_from": "变通自",
}
README_SHEET = "说明"


def read_catalog(path: Path) -> Catalog:
    """Read and check a catalog file (.xlsx, .yaml or .yml); raise ``CatalogError``."""
    return parse_catalog(read_raw(path))


def read_raw(path: Path) -> RawCatalog:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(path)
    if suffix in (".yaml", ".yml"):
        return read_yaml(path)
    loc = Loc(path.name, "-", 0)
    raise CatalogError([CatalogProblem(loc, f"unknown file type {suffix!r}: use .xlsx or .yaml")])


def _header_key(cell: Any) -> str:
    """Header cells are ``key`` or ``中文 key``; the last word is the key."""
    text = "" if cell is None else str(cell).strip()
    return text.split()[-1] if text else ""


def read_xlsx(path: Path) -> RawCatalog:
    """Read an XLSX catalog within the limits of ``models.catalog.limits``.

    Formula and error cells are refused with their location; a text cell the export
    escaped (``'`` before = + - @ TAB CR) is read back without the quote.
    """
    name = path.name
    check_size(path, MAX_FILE_BYTES)
    check_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # a corrupt workbook can fail anywhere inside openpyxl
        raise refuse(
            name, f"不是可读取的 XLSX 文件（{type(exc).__name__}），请用 Excel 另存为 .xlsx"
        ) from None
    try:
        return _read_workbook(path, workbook)
    finally:
        workbook.close()


def _read_workbook(path: Path, workbook: Any) -> RawCatalog:
    name = path.name
    if len(workbook.sheetnames) > MAX_SHEETS:
        count = len(workbook.sheetnames)
        raise refuse(name, f"工作表过多：{count} 个，最多 {MAX_SHEETS} 个")
    problems: list[CatalogProblem] = []
    sheets: dict[str, list[RawRow]] = {}
    chars = [0]  # text read so far, across sheets
    for sheet in SHEETS:
        if sheet not in workbook.sheetnames:
            if sheet != "rules":
                problems.append(CatalogProblem(Loc(name, sheet, 0), "sheet is missing"))
            continue
        worksheet = workbook[sheet]
        try:
            member = getattr(worksheet, "_worksheet_path", None)
            if member is None:
                raise refuse(name, "不是普通工作表（可能是图表），无法读取", sheet)
            scan_sheet(name, sheet, path, member)
            sheets[sheet] = _read_sheet(name, sheet, worksheet, problems, chars)
        except CatalogError as error:
            problems.extend(error.problems)
        except Exception as exc:  # a corrupt sheet can fail anywhere inside openpyxl
            message = f"工作表已损坏，无法读取（{type(exc).__name__}）"
            problems.append(CatalogProblem(Loc(name, sheet, 0), message))
    return RawCatalog(name, sheets, problems)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_sheet(
    name: str, sheet: str, worksheet: Any, problems: list[CatalogProblem], chars: list[int]
) -> list[RawRow]:
    rows = worksheet.iter_rows(max_row=MAX_ROWS + 1, max_col=MAX_COLUMNS)
    header = [_header_key(xlsx_value(cell)[0]) for cell in next(rows, ())]
    for column in COLUMNS[sheet]:
        if column not in header:
            loc = Loc(name, sheet, 1, column)
            problems.append(CatalogProblem(loc, "column is missing from the header row"))
    for index, column in enumerate(header):
        if column and column not in COLUMNS[sheet]:
            loc = Loc(name, sheet, 1, column[:40])
            problems.append(CatalogProblem(loc, f"unknown column (cell {index + 1})"))
    out: list[RawRow] = []
    for number, cells in enumerate(rows, start=2):
        values: dict[str, Any] = {}
        refused: set[str] = set()
        for index, (column, cell) in enumerate(zip(header, cells, strict=False)):
            if column not in COLUMNS[sheet]:
                continue
            value, problem = xlsx_value(cell)
            if isinstance(value, str):
                chars[0] += len(value)
                if chars[0] > MAX_TEXT_CHARS:
                    message = f"文字总量超过上限（{MAX_TEXT_CHARS} 个字符）"
                    raise refuse(name, message, sheet, number)
            if problem is not None:
                loc = Loc(name, sheet, number, column, get_column_letter(index + 1))
                problems.append(CatalogProblem(loc, problem))
                refused.add(column)
            values[column] = value
        if not refused and all(_blank(v) for v in values.values()):
            continue
        out.append(RawRow(Loc(name, sheet, number), values, frozenset(refused)))
    return out


_LIST_COLUMNS = frozenset({"channels", "plan", "categories", "milestones", "value"})


def read_yaml(path: Path) -> RawCatalog:
    """Read a YAML catalog: UTF-8, no anchors or aliases, within ``models.catalog.limits``."""
    name = path.name
    check_size(path, MAX_YAML_BYTES)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise refuse(name, f"无法读取文件：{exc.strerror or exc}") from None
    data = load_yaml(name, decode_yaml(name, content))
    del content
    if not isinstance(data, Mapping):
        loc = Loc(name, "-", 0)
        raise CatalogError([CatalogProblem(loc, "the top level must be a mapping of sections")])
    problems: list[CatalogProblem] = []
    sheets: dict[str, list[RawRow]] = {}
    for section in data:
        if section not in SHEETS:
            loc = Loc(name, str(section)[:40], 0, yaml=True)
            problems.append(CatalogProblem(loc, f"unknown section (use {', '.join(SHEETS)})"))
    for sheet in SHEETS:
        entries = data.get(sheet) or []
        if not isinstance(entries, list):
            problems.append(CatalogProblem(Loc(name, sheet, 0, yaml=True), "must be a list"))
            continue
        if len(entries) > MAX_ROWS:
            loc = Loc(name, sheet, MAX_ROWS + 1, yaml=True)
            problems.append(CatalogProblem(loc, f"条目过多：{len(entries)} 条，最多 {MAX_ROWS} 条"))
            continue
        out: list[RawRow] = []
        for number, entry in enumerate(entries, start=1):
            loc = Loc(name, sheet, number, yaml=True)
            if not isinstance(entry, Mapping):
                problems.append(CatalogProblem(loc, "each entry must be a mapping"))
                continue
            refused: set[str] = set()
            for key, value in entry.items():
                if key not in COLUMNS[sheet]:
                    problems.append(CatalogProblem(loc.at(str(key)[:40]), "unknown field"))
                elif key not in _LIST_COLUMNS and non_scalar(value):
                    message = "应填写单个值，不能是列表或映射"
                    problems.append(CatalogProblem(loc.at(key), message))
                    refused.add(key)
            cells = {k: v for k, v in entry.items() if k in COLUMNS[sheet]}
            out.append(RawRow(loc, cells, frozenset(refused)))
        sheets[sheet] = out
    return RawCatalog(name, sheets, problems)


# ----------------------------------------------------------------------------- write


def _num(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def catalog_rows(catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
    """The catalog as plain rows per sheet, in canonical order (YAML-ready values)."""
    catalog = catalog.sorted()
    defaults = YearRules().to_dict()
    rules: list[dict[str, Any]] = []
    for y in catalog.years:
        for key, value in sorted(y.rules.items()):
            if value != defaults.get(key):
                rules.append({"year": y.year, "key": key, "value": value})
    return {
        "years": [{"year": y.year, "name": y.name} for y in catalog.years],
        "rules": rules,
        "units": [_unit_row(u) for u in catalog.units],
        "items": [_item_row(i) for i in catalog.items],
        "indicators": [_indicator_row(i) for i in catalog.indicators],
    }


def _unit_row(u: UnitRow) -> dict[str, Any]:
    return {
        "code": u.code,
        "name": u.name,
        "kind": u.kind,
        "category": u.category,
        "on_platform": u.on_platform,
        "onboarded_on": u.onboarded_on,
        "channels": list(u.channels),
    }


def _item_row(i: ItemRow) -> dict[str, Any]:
    return {
        "year": i.year,
        "code": i.code,
        "name": i.name,
        "key": i.key,
        "status": i.status,
        "decided_by": i.decided_by,
        "decided_on": i.decided_on,
        "document_ref": i.document_ref,
        "note": i.note,
    }


def _indicator_row(i: IndicatorRow) -> dict[str, Any]:
    return {
        "year": i.year,
        "code": i.code,
        "item": i.item,
        "name": i.name,
        "weight": _num(i.weight),
        "direction": i.direction,
        "target": _num(i.target),
        "baseline": _num(i.baseline),
        "unit_of_measure": i.unit_of_measure,
        "plan": None if i.plan is None else [_num(v) for v in i.plan],
        "milestones": [{"name": m.name, "due_month": m.due_month} for m in i.milestones],
        "categories": list(i.categories),
        "source_field": i.source_field,
        "lifecycle": i.lifecycle,
        "reason": i.reason,
        "merged_into": i.merged_into,
        "adapted_from": i.adapted_from,
    }


def write_yaml(catalog: Catalog, path: Path) -> None:
    rows = catalog_rows(catalog)
    compact = {
        sheet: [{k: v for k, v in row.items() if v not in (None, "", [], False)} for row in entries]
        for sheet, entries in rows.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(compact, allow_unicode=True, sort_keys=False, width=100), encoding="utf-8"
    )


def _cell(column: str, value: Any) -> Any:
    if value is None or value == []:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if column == "channels":
        return "\n".join(value)
    if column == "milestones":
        return "; ".join(f"{m['name']}@{m['due_month']}" for m in value)
    if column in ("plan", "categories"):
        return ", ".join(str(v) for v in value)
    if column == "value" and isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, date | datetime):
        return value
    return value


def write_xlsx(catalog: Catalog, path: Path) -> None:
    rows = catalog_rows(catalog)
    workbook = Workbook()
    readme = workbook.active
    assert readme is not None
    readme.title = README_SHEET
    for line in _readme_lines():
        readme.append([line])
    readme.column_dimensions["A"].width = 110
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for sheet in SHEETS:
        ws = workbook.create_sheet(sheet)
        ws.append([f"{HEADER_LABELS.get(c, c)} {c}" for c in COLUMNS[sheet]])
        for cell in ws[1]:
            cell.font = header_font
            cell.fill = header_fill
        ws.freeze_panes = "A2"
        for row in rows[sheet]:
            ws.append([_cell(c, row.get(c)) for c in COLUMNS[sheet]])
        for index, column in enumerate(COLUMNS[sheet]):
            letter = ws.cell(row=1, column=index + 1).column_letter
            ws.column_dimensions[letter].width = 36 if column in ("name", "plan") else 16
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)


def write_catalog(catalog: Catalog, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        write_xlsx(catalog, path)
    elif suffix in (".yaml", ".yml"):
        write_yaml(catalog, path)
    else:
        raise ValueError(f"unknown catalog file type {suffix!r}: use .xlsx or .yaml")


def _readme_lines() -> Sequence[str]:
    return (
        "考核目录（单位、考核事项、考核指标、年度规则）。每个工作表第一行为表头，"
        "表头格式为“中文名 英文键”，系统按英文键读取。",
        "years 年度：year 年度；name 名称。",
        "rules 年度规则：year 年度；key 规则键；value 值（只列与默认值不同的规则）。",
        "units 被考核单位：code 编码；name 名称；kind county/department；category 类别；"
        "on_platform 是否纳入平台（是/否）；onboarded_on 纳入日期；"
        "channels 提醒渠道（Apprise 地址，每行一个）。",
        "items 考核事项：year；code；name；key 是否重点事项；"
        "status approved/filed/proposed/rejected；"
        "decided_by 决定机关；decided_on 决定日期；document_ref 文号；note 备注。",
        "indicators 考核指标：year；code；item 所属事项编码；name；weight 分值；"
        "direction increase/decrease/milestone；target 目标值；baseline 基期值（逆向指标）；"
        "plan 月度累计计划（12 个值，逗号分隔）；milestones 节点（名称@月份；分号分隔）；"
        "categories 适用类别（逗号分隔）；source_field 平台字段；"
        "lifecycle active/adapted/merged/simplified；reason 简化原因；"
        "merged_into 整合至的指标编码；adapted_from 变通自的指标编码。",
        "导入为整体导入：任何一处错误都会拒绝整个文件，并逐条指出工作表、行、列。",
    )
