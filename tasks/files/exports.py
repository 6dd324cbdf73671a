"""Writing the office's exports to files: JSON (UTF-8) or XLSX (one sheet per table).

XLSX goes through ``tasks.files.workbook``, the one workbook writer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from models.errors import InputError
from tasks.files.workbook import tables, write_workbook

FORMATS = (".json", ".xlsx")


def export_format(path: Path) -> str:
    """``.json`` or ``.xlsx`` from the file name; anything else is refused (in Chinese)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"不支持的文件格式“{path.suffix or '（无扩展名）'}”：请使用 .xlsx 或 .json。"
        )
    return suffix


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_xlsx(path: Path, sheets: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """One worksheet per table, written by ``tasks.files.workbook`` (no formula from data)."""
    write_workbook(path, tables(sheets))


def write_export(
    path: Path, payload: Any, sheets: Mapping[str, Sequence[Mapping[str, Any]]]
) -> str:
    """Write ``payload`` (JSON) or ``sheets`` (XLSX) as the file name says; returns the format."""
    fmt = export_format(path)
    if fmt == ".json":
        write_json(path, payload)
    else:
        write_xlsx(path, sheets)
    return fmt
