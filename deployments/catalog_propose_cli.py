"""``assess catalog propose``: the catalog as the platform's unit list has it, written to a
file for the audited ``assess catalog change`` (issue 14, item 8). Nothing is recorded
here: the office reviews the file and records it under a document, effective from a
month, or does not.

::

    assess catalog propose --year 2026 建议.xlsx

The wall clock is read here, at the entry point, and passed down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from models.errors import InputError, OfficeError
from models.persistence.database import session_scope
from models.plans.platform_registry import UNREADABLE_TEXT, Proposal, propose_catalog
from models.user_input import check_year
from tasks.catalog import load_catalog
from tasks.files.catalog_write import write_catalog
from tasks.platform_registry import read_platform_units
from tasks.runtime import build_runtime


def proposal_lines(proposal: Proposal, year: int, file: Path) -> list[str]:
    """What the proposal carries, in Chinese, and how to record it."""
    lines = []
    if proposal.changes:
        lines.append(f"修订建议（按平台单位名单调整 {len(proposal.changes)} 个单位的平台信息）：")
        lines += [f"  - {line}" for line in proposal.changes]
    else:
        lines.append("目录中各单位的平台信息与平台单位名单一致，没有需要调整的内容。")
    if proposal.platform_only:
        lines.append(
            "以下单位在平台上、目录中没有：平台不提供考核类别，建议文件未包含这些单位，"
            "请考核办核实后手工补充（年度中途新增被考核单位须另行审定）："
        )
        lines += [
            f"  - {u.code}（{u.name}）纳入日期 {u.onboarded_on or '（空）'}"
            for u in proposal.platform_only
        ]
    if proposal.changes:
        lines.append(
            f"已写出 {file}；核实后记录为目录修订（自生效月起适用，此前各月不变）："
            f"assess catalog change {file} --document 文号 --effective {year}-MM"
        )
    return lines


def register(catalog_app: typer.Typer, check_file: Callable[..., None]) -> None:
    """Add ``propose`` to the ``assess catalog`` group."""

    @catalog_app.command("propose")
    def catalog_propose(
        file: Annotated[Path, typer.Argument(help="写出的修订建议文件（.xlsx 或 .yaml）")],
        year: Annotated[int, typer.Option("--year", help="考核年度，如 2026")],
    ) -> None:
        """按平台单位名单生成目录修订建议（是否纳入平台、纳入日期），不改变数据库。

        核实后用 assess catalog change 文件 --document 文号 --effective 月份 记录。

        例：assess catalog propose --year 2026 建议.xlsx
        """
        check_year(year, "年份")
        check_file(file, must_exist=False)
        runtime = build_runtime()
        try:
            with session_scope(runtime.engine) as session:
                catalog = load_catalog(session)
        finally:
            runtime.engine.dispose()
        if not any(y.year == year for y in catalog.years):
            raise InputError(f"数据库中没有 {year} 年度的考核目录，请先导入目录。")
        platform = asyncio.run(read_platform_units(runtime, datetime.now(UTC)))
        if platform.failure is not None:
            raise OfficeError(f"{UNREADABLE_TEXT}（{platform.failure[:200]}），未生成修订建议。")
        proposal = propose_catalog(catalog, platform)
        if platform.rejected:
            typer.echo(f"平台单位名单中 {len(platform.rejected)} 条记录格式无效，未予采信。")
        if proposal.changes:
            write_catalog(proposal.catalog, file)
        typer.echo("\n".join(proposal_lines(proposal, year, file)))
