"""Writing the catalog file: XLSX (through ``tasks.files.workbook``) and YAML.

The reading side is ``tasks.files.catalog_read``; the layout is documented in
``models/catalog/CATALOG.md``. ``write_catalog`` picks the format from the file name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from models.catalog.schema import (
    COLUMNS,
    SHEETS,
    Catalog,
    row_fields,
)
from models.rules import YearRules
from tasks.files.workbook import Sheet, write_workbook

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
        "units": [_ordered("units", row_fields(u, _num)) for u in catalog.units],
        "items": [_ordered("items", row_fields(i, _num)) for i in catalog.items],
        "indicators": [_ordered("indicators", row_fields(i, _num)) for i in catalog.indicators],
    }


def _ordered(sheet: str, values: dict[str, Any]) -> dict[str, Any]:
    return {column: values[column] for column in COLUMNS[sheet]}


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
    return value


def write_xlsx(catalog: Catalog, path: Path) -> None:
    """The catalog as the office's spreadsheet: a 说明 sheet, then one sheet per section.

    Written by ``tasks.files.workbook``: formula-like names are escaped with a leading quote
    (the importer removes it), numbers are numeric cells, dates are date cells.
    """
    rows = catalog_rows(catalog)
    readme = Sheet(README_SHEET, [{README_SHEET: line} for line in _readme_lines()],
                   widths={README_SHEET: 110})  # fmt: skip
    sheets = [readme]
    for sheet in SHEETS:
        columns = COLUMNS[sheet]
        sheets.append(
            Sheet(
                sheet,
                [{c: _cell(c, row.get(c)) for c in columns} for row in rows[sheet]],
                columns=columns,
                headers={c: f"{HEADER_LABELS.get(c, c)} {c}" for c in columns},
                widths={c: 36 if c in ("name", "plan") else 16 for c in columns},
            )
        )
    write_workbook(path, sheets)


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
