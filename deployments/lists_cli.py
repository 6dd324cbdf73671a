"""``assess appeals list``, ``assess problems list``, ``assess unit`` and ``assess ledgers export``.

The office's lists and one unit's year, printed, as JSON (``--json``, readable UTF-8)
or as a workbook (``--xlsx FILE``): Chinese headers and labels, numbers as numbers,
times in Beijing time. The tables are built by ``models.plans.office_lists`` from
rows loaded by ``tasks.office_lists``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session

from deployments.cli_errors import OfficeGroup
from deployments.results_cli import problems_app
from models.errors import InputError
from models.persistence.database import session_scope
from models.plans.office_lists import (
    COMPLETION_COLUMNS,
    json_safe,
    ledger_tables,
    problem_table,
    tables_text,
    unit_year_tables,
)
from models.plans.office_lists import appeal_table as build_appeal_table
from models.rules import SHANGHAI
from models.user_input import check_year
from tasks.files.workbook import PERCENT, Sheet, write_workbook
from tasks.office_lists import (
    load_appeal_rows,
    load_ledger_rows,
    load_problem_rows,
    load_unit_year,
)
from tasks.runtime import build_runtime

__all__ = ["add_to", "appeals_app", "ledgers_app"]

appeals_app = typer.Typer(
    cls=OfficeGroup,
    help="申诉：查看申诉及其裁定。例：assess appeals list --status registered",
    no_args_is_help=True,
)
ledgers_app = typer.Typer(
    cls=OfficeGroup,
    help="台账：导出某年度的全部台账和月度结果。例：assess ledgers export --year 2026 台账.xlsx",
    no_args_is_help=True,
)


@appeals_app.callback()
def _appeals_group() -> None:
    """A command group even with one command."""


@ledgers_app.callback()
def _ledgers_group() -> None:
    """A command group even with one command."""


AsJson = Annotated[bool, typer.Option("--json", help="输出 JSON（UTF-8）")]
Xlsx = Annotated[Path | None, typer.Option("--xlsx", help="写入 Excel 工作簿（.xlsx）")]


MAX_SHEET_ROWS = 1_048_575
"""Excel's rows per sheet, less the header: a longer table continues on ``<title>_2`` …"""


def _today() -> date:
    """Today in Beijing (the entry point may read the clock): judges overdue problems."""
    return datetime.now(UTC).astimezone(SHANGHAI).date()


@contextmanager
def _session() -> Iterator[Session]:
    engine = build_runtime().engine
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def _check_xlsx(file: Path | None) -> None:
    if file is not None and file.suffix.lower() != ".xlsx":
        raise InputError(
            f"工作簿文件“{file.name}”的格式不对：请使用 .xlsx 结尾的文件名，如 列表.xlsx。"
        )


def sheets_of(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Sheet]:
    """The tables as workbook sheets, completion columns shown as percentages; a table
    longer than a sheet holds continues on the next (``月度结果``, ``月度结果_2`` …)."""
    formats = dict.fromkeys(COMPLETION_COLUMNS, PERCENT)
    sheets: list[Sheet] = []
    for title, rows in tables.items():
        columns = list(dict.fromkeys(k for row in rows[:1] for k in row)) or None
        for n, start in enumerate(range(0, max(len(rows), 1), MAX_SHEET_ROWS), start=1):
            part = rows[start : start + MAX_SHEET_ROWS]
            sheets.append(
                Sheet(title if n == 1 else f"{title}_{n}", part, columns, formats=formats)
            )
    return sheets


def _show(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    as_json: bool,
    xlsx: Path | None,
    what: str,
) -> None:
    if xlsx is not None:
        write_workbook(xlsx, sheets_of(tables))
        typer.echo(f"已导出{what}：{xlsx}")
    if as_json:
        payload = json_safe(tables)
        body: Any = next(iter(payload.values())) if len(payload) == 1 else payload
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
    elif xlsx is None:
        typer.echo(tables_text(tables))


@appeals_app.command("list")
def appeals_list(
    status: Annotated[
        str | None,
        typer.Option(
            help="只列该状态：registered 待裁定、refused 不予受理、expert_review 专家组评审、"
            "awaiting_committee 待考核委审定、ruled 已裁定、expired 已逾期"
        ),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="只列该单位，如 C04")] = None,
    as_json: AsJson = False,
    xlsx: Xlsx = None,
) -> None:
    """列出申诉（状态、裁定、考核委审定），可按状态或单位筛选。

    例：assess appeals list --status registered --unit C04
    """
    _check_xlsx(xlsx)
    with _session() as session:
        rows = load_appeal_rows(session, status=status, unit_code=unit)
    _show({"申诉列表": build_appeal_table(rows)}, as_json, xlsx, f"{len(rows)} 条申诉")


@problems_app.command("list")
def problems_list(
    open_only: Annotated[bool, typer.Option("--open", help="只列未销号的问题")] = False,
    as_json: AsJson = False,
    xlsx: Xlsx = None,
) -> None:
    """列出问题台账（整改期限、是否逾期、销号情况）。

    例：assess problems list --open --xlsx 未销号问题.xlsx
    """
    _check_xlsx(xlsx)
    with _session() as session:
        rows = load_problem_rows(session, open_only=open_only)
    _show({"问题台账": problem_table(rows, _today())}, as_json, xlsx, f"{len(rows)} 个问题")


def unit_year(
    code: Annotated[str, typer.Argument(help="单位编码，如 C04", metavar="单位编码")],
    year: Annotated[int, typer.Option(help="考核年度，如 2026")],
    as_json: AsJson = False,
    xlsx: Xlsx = None,
) -> None:
    """某单位一年的全貌：各指标每月等级、扣分台账与合计、预警、负面清单、申诉裁定、当前得分和排名。

    例：assess unit C04 --year 2026 --xlsx C04-2026.xlsx
    """
    check_year(year)
    _check_xlsx(xlsx)
    with _session() as session:
        facts = load_unit_year(session, code, year)
    _show(unit_year_tables(facts), as_json, xlsx, f" {code} {year} 年度情况")


@ledgers_app.command("export")
def ledgers_export(
    year: Annotated[int, typer.Option(help="考核年度，如 2026")],
    file: Annotated[Path, typer.Argument(help="写入的工作簿（.xlsx）")],
) -> None:
    """导出某年度的台账：扣分、预警、问题、负面清单、考核结果各一页，另有月度结果一页。

    例：assess ledgers export --year 2026 2026台账.xlsx
    """
    check_year(year)
    _check_xlsx(file)
    with _session() as session:
        loaded = load_ledger_rows(session, year)
    tables = ledger_tables(**loaded, today=_today())
    write_workbook(file, sheets_of(tables))
    counts = "，".join(f"{title} {len(rows)} 行" for title, rows in tables.items())
    typer.echo(f"已导出 {year} 年度台账（{counts}）：{file}")


def add_to(app: typer.Typer) -> None:
    """Register ``appeals``, ``ledgers`` and ``unit`` on the ``assess`` command
    (``problems list`` registers itself on ``results_cli.problems_app``)."""
    app.add_typer(appeals_app, name="appeals")
    app.add_typer(ledgers_app, name="ledgers")
    app.command("unit")(unit_year)
