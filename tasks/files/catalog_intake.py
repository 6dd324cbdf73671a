"""Opening an untrusted catalog file within bounds (the limits are in ``models.catalog.limits``).

Everything here either returns something safe to read or raises a located
``CatalogError``; no exception of a parser (zipfile, openpyxl, expat, PyYAML, codecs)
escapes. The XLSX side checks the archive (member count and uncompressed sizes) and
pre-scans each catalog worksheet's XML with expat (rows, cells per row, values beyond
the last column) before openpyxl reads it; cell values are then taken one by one
(``xlsx_value``), refusing formulas and error values. The YAML side checks the size,
decodes strict UTF-8, and walks PyYAML's event stream refusing anchors and aliases
before anything is composed.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.parsers import expat

import yaml
from openpyxl.utils import get_column_letter

from models.catalog.limits import (
    MAX_CELLS_PER_ROW,
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_XLSX_MEMBERS,
    MAX_XLSX_PART_BYTES,
    MAX_XLSX_SHEET_BYTES,
    MAX_XLSX_TOTAL_BYTES,
    MAX_YAML_EVENTS,
    MB,
)
from models.catalog.schema import CatalogError, CatalogProblem, Loc
from models.cell_text import unescape_cell_text

_CELL_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")


def refuse(file: str, message: str, sheet: str = "-", row: int = 0) -> CatalogError:
    return CatalogError([CatalogProblem(Loc(file, sheet, row), message)])


def check_size(path: Path, limit: int) -> None:
    """Refuse a file over ``limit`` bytes before reading any of it."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise refuse(path.name, f"无法读取文件：{exc.strerror or exc}") from None
    if size > limit:
        raise refuse(path.name, f"文件过大：{size / MB:.1f} MB，目录文件最大 {limit / MB:.0f} MB")
    if size == 0:
        raise refuse(path.name, "文件是空的")


# ----------------------------------------------------------------------------- XLSX


def check_archive(path: Path) -> None:
    """Refuse anything that is not a zip archive of bounded uncompressed size."""
    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise refuse(
            name, "不是有效的 XLSX 文件（无法作为 zip 压缩包打开），请用 Excel 另存为 .xlsx"
        ) from None
    if len(members) > MAX_XLSX_MEMBERS:
        raise refuse(
            name, f"XLSX 文件内部条目过多（{len(members)} 个，最多 {MAX_XLSX_MEMBERS} 个）"
        )
    total = 0
    for member in members:
        big = member.filename.startswith("xl/worksheets/") or member.filename.endswith(
            "sharedStrings.xml"
        )
        limit = MAX_XLSX_SHEET_BYTES if big else MAX_XLSX_PART_BYTES
        if member.file_size > limit:
            raise refuse(
                name,
                f"XLSX 文件内部 {member.filename[:80]} 解压后 {member.file_size / MB:.1f} MB，"
                f"超过上限 {limit / MB:.0f} MB（疑似压缩炸弹）",
            )
        total += member.file_size
    if total > MAX_XLSX_TOTAL_BYTES:
        raise refuse(
            name,
            f"XLSX 文件解压后共 {total / MB:.1f} MB，超过上限 {MAX_XLSX_TOTAL_BYTES / MB:.0f} MB",
        )


class _ScanStop(Exception):
    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row
        self.message = message


class _SheetScan:
    """Counts a worksheet's rows and cells from its XML without building anything."""

    def __init__(self) -> None:
        self.row = 0
        self.column = 0
        self.cells_in_row = 0
        self.cell_has_value = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        local = tag.rsplit(" ", 1)[-1]
        if local == "row":
            self.row = _int(attrs.get("r"), self.row + 1)
            self.column = 0
            self.cells_in_row = 0
        elif local == "c":
            self.cells_in_row += 1
            if self.cells_in_row > MAX_CELLS_PER_ROW:
                raise _ScanStop(self.row, f"一行的单元格超过 {MAX_CELLS_PER_ROW} 个")
            match = _CELL_REF.match(attrs.get("r", ""))
            self.column = _letters(match.group(1)) if match else self.column + 1
            self.cell_has_value = False
        elif local in ("v", "f", "is") and not self.cell_has_value:
            self.cell_has_value = True
            if self.row > MAX_ROWS + 1:
                raise _ScanStop(self.row, f"行数超过上限：数据最多 {MAX_ROWS} 行")
            if self.column > MAX_COLUMNS:
                letter = get_column_letter(min(self.column, 16384))
                raise _ScanStop(
                    self.row, f"第 {letter} 列有内容：目录只读前 {MAX_COLUMNS} 列，请删除多余的列"
                )


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _letters(letters: str) -> int:
    number = 0
    for char in letters:
        number = number * 26 + ord(char) - 64
    return number


def scan_sheet(file: str, sheet: str, archive_path: Path, member: str) -> None:
    """Refuse a worksheet too big to read; memory stays at one chunk."""
    scan = _SheetScan()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = scan.start
    try:
        with zipfile.ZipFile(archive_path) as archive, archive.open(member) as stream:
            while chunk := stream.read(64 * 1024):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _ScanStop as stop:
        raise refuse(file, stop.message, sheet, stop.row) from None
    except (expat.ExpatError, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise refuse(file, f"工作表已损坏，无法读取（{type(exc).__name__}）", sheet) from None


def xlsx_value(cell: Any) -> tuple[Any, str | None]:
    """A cell's value and, if it cannot be accepted, why (in Chinese)."""
    data_type = getattr(cell, "data_type", None)
    value = getattr(cell, "value", None)
    if data_type == "f":
        formula = str(getattr(value, "text", value))
        shown = formula if len(formula) <= 40 else formula[:40] + "…"
        return None, (
            f"该单元格是公式（{shown}）：目录只接受直接填写的值，"
            "请把公式改为它的结果（复制后“选择性粘贴—数值”）"
        )
    if data_type == "e":
        return None, f"该单元格是错误值 {value}：请填写正确的值"
    if isinstance(value, str):
        return unescape_cell_text(value), None
    return value, None


# ----------------------------------------------------------------------------- YAML

_ENCODINGS_TO_NAME = (("gb18030", "GBK/GB18030"), ("big5", "Big5"), ("shift_jis", "Shift-JIS"))


def decode_yaml(name: str, data: bytes) -> str:
    """The text of a UTF-8 file; any other encoding is refused, naming it if recognisable."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise refuse(name, "文件是 UTF-16 编码：YAML 目录必须是 UTF-8 编码，请另存为 UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        found = "未知编码"
        for codec, label in _ENCODINGS_TO_NAME:
            try:
                data.decode(codec)
            except UnicodeDecodeError:
                continue
            found = f"疑似 {label} 编码"
            break
        raise refuse(
            name,
            f"文件不是 UTF-8 编码（{found}，第 {line} 行起无法按 UTF-8 读取）："
            "YAML 目录必须是 UTF-8 编码，请另存为 UTF-8",
        ) from None


def _mark(error: yaml.MarkedYAMLError | yaml.Event) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "start_mark", None)
    if mark is None:
        return ""
    return f"第 {mark.line + 1} 行第 {mark.column + 1} 列"


class _EventCheck:
    """Walks PyYAML's events: no anchor, no alias, not too many events or entries."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events = 0
        self.stack: list[list[int]] = []  # per open container: [is a sequence, entries]
        self.section = "-"

    def see(self, event: yaml.Event) -> None:
        self.events += 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise refuse(
                self.name, f"YAML 锚点或别名（&/*）不被接受（{_mark(event)}）：请把内容直接写出"
            )
        if self.events > MAX_YAML_EVENTS:
            raise refuse(self.name, f"YAML 内容过多（超过 {MAX_YAML_EVENTS} 个节点）")
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self.stack.pop()
            return
        if not isinstance(event, yaml.NodeEvent):
            return
        if len(self.stack) == 1 and isinstance(event, yaml.ScalarEvent):
            self.section = str(event.value)[:40]
        if len(self.stack) == 2 and self.stack[1][0]:
            self.stack[1][1] += 1
            if self.stack[1][1] > MAX_ROWS:
                message = f"条目过多：超过 {MAX_ROWS} 条（{_mark(event)}）"
                problem = CatalogProblem(
                    Loc(self.name, self.section, MAX_ROWS + 1, yaml=True), message
                )
                raise CatalogError([problem])
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            self.stack.append([isinstance(event, yaml.SequenceStartEvent), 0])


def load_yaml(name: str, text: str) -> Any:
    """Parse YAML refusing anchors, aliases and floods of entries before composing anything."""
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        check = _EventCheck(name)
        for event in yaml.parse(text, Loader=loader):
            check.see(event)
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        where = _mark(exc) if isinstance(exc, yaml.MarkedYAMLError) else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise refuse(name, f"不是有效的 YAML（{where}）：{str(problem)[:200]}") from None
    except (ValueError, OverflowError, RecursionError) as exc:
        raise refuse(name, f"不是有效的 YAML：{type(exc).__name__}") from None


def non_scalar(value: Any) -> bool:
    """A YAML value that is a list or mapping where one value is expected."""
    return isinstance(value, list | tuple | Mapping | set)
