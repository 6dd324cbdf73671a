"""``assess results|onsite|problems|share|report``: the annual results and what follows them.

Sub-apps (the lead wires them into `deployments.cli`, see ``add_to``)::

    assess results export --year 2026 FILE          # .xlsx or .json: results for the 七关联
    assess results record-use UNIT --year 2026 --use appointment --people 3 --reference 文号
    assess onsite export --period 2026-Q3 FILE      # the office's confidential plan
    assess problems close ID --note 说明             # 问题销号
    assess share export --recipient inspection --period 2026-09 FILE
    assess share changes [--since 2026-10-01] [--recipient R] [--json] [--out FILE]
    assess report burden --year 2026 [--out FILE]   # the experience report (Markdown)

Everything the office reads is in Chinese. The wall clock is read here, at the entry
point, and passed down as ``now``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import Session

from deployments.cli_errors import OfficeGroup
from models.persistence.database import session_scope
from models.plans.annual import results_export
from models.plans.burden import burden_figures, burden_markdown
from models.plans.onsite import plan_sheets
from models.plans.sharing import (
    RECIPIENTS,
    change_notice_json,
    change_notice_markdown,
    check_recipient,
)
from models.rules import SHANGHAI, PeriodKind, local_text
from models.user_input import check_year, parse_day_text, parse_period_text
from tasks.annual import (
    ResultsError,
    gather_burden_counts,
    load_annual_results,
    load_result_uses,
    record_result_use,
)
from tasks.files.exports import export_format, write_export
from tasks.onsite_tasks import close_problem, onsite_export_payload
from tasks.runtime import build_runtime
from tasks.share_tasks import export_share, pending_changes
from tasks.year_rules import load_year_rules

results_app = typer.Typer(
    cls=OfficeGroup,
    help="年度考核结果：导出（七关联）与结果运用登记。"
    "例：assess results export --year 2026 结果.xlsx",
    no_args_is_help=True,
)
onsite_app = typer.Typer(
    cls=OfficeGroup,
    help="实地核查（四不两直）：导出抽样计划（保密）。"
    "例：assess onsite export --period 2026-Q3 计划.xlsx",
    no_args_is_help=True,
)
problems_app = typer.Typer(
    cls=OfficeGroup,
    help="问题台账：整改完成后销号。例：assess problems close 12 --note 已整改",
    no_args_is_help=True,
)
share_app = typer.Typer(
    cls=OfficeGroup,
    help="向巡察、民生、重大项目监督报送负面清单与问题。"
    "例：assess share export --recipient inspection --period 2026-09 报送.xlsx",
    no_args_is_help=True,
)
report_app = typer.Typer(
    cls=OfficeGroup,
    help="考核办的工作报告。例：assess report burden --year 2026",
    no_args_is_help=True,
)

SUB_APPS: dict[str, typer.Typer] = {
    "results": results_app,
    "onsite": onsite_app,
    "problems": problems_app,
    "share": share_app,
    "report": report_app,
}


def _group() -> None:
    """A sub-app stays a command group even with one command (``assess onsite export``)."""


for _sub in SUB_APPS.values():
    _sub.callback()(_group)


def add_to(app: typer.Typer) -> None:
    """Register every sub-app of this module on the ``assess`` command."""
    for name, sub in SUB_APPS.items():
        app.add_typer(sub, name=name)


def wall_clock() -> datetime:
    """The command line's ``now`` (the entry point may read the clock)."""
    return datetime.now(UTC)


@contextmanager
def _session() -> Iterator[Session]:
    """A session on the configured database; errors reach ``deployments.cli_errors``."""
    engine = build_runtime().engine
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def _check_format(file: Path) -> None:
    export_format(file)  # InputError (Chinese) for anything but .xlsx and .json


# --------------------------------------------------------------------------- results


@results_app.command("export")
def results_export_command(
    year: Annotated[int, typer.Option(help="考核年度")],
    file: Annotated[Path, typer.Argument(help="导出文件（.xlsx 或 .json）")],
) -> None:
    """导出年度考核结果（得分、类别内排名、等次）及七关联运用情况。

    例：assess results export --year 2026 2026年度结果.xlsx
    """
    check_year(year)
    _check_format(file)
    with _session() as session:
        results = load_annual_results(session, year)
        if not results:
            raise ResultsError(f"{year} 年度尚无考核结果（请先运行年度考核）。")
        doc = results_export(year, results, load_result_uses(session, year))
    write_export(file, doc["json"], doc["sheets"])
    typer.echo(f"已导出 {year} 年度 {len(results)} 个单位的考核结果：{file}")


@results_app.command("record-use")
def results_record_use(
    unit: Annotated[str, typer.Argument(help="单位编码")],
    year: Annotated[int, typer.Option(help="考核年度")],
    use: Annotated[
        str,
        typer.Option(
            help="运用方向：appointment 任用、commendation 评优、training 教育、"
            "reward_penalty 奖惩、supervision 监督、management 管理、cultivation 培养"
        ),
    ],
    reference: Annotated[str, typer.Option(help="文号或依据，如 青组〔2027〕3号")] = "",
    people: Annotated[
        int, typer.Option(help="涉及人数：提拔任用推荐须填推荐人数，如 --people 3")
    ] = 0,
) -> None:
    """登记考核结果的一次运用（如提拔任用推荐及人数）。

    例：assess results record-use C04 --year 2026 --use appointment --people 3
    --reference 青组〔2027〕3号
    """
    check_year(year)
    with _session() as session:
        row = record_result_use(session, unit, year, use, reference, wall_clock(), people)
    who = f"（{people} 人）" if people else ""
    typer.echo(
        f"已登记结果运用（编号 {row.id}）：{unit} {year} 年度 → {use}{who} {reference}".rstrip()
    )


# ---------------------------------------------------------------------------- onsite


@onsite_app.command("export")
def onsite_export_command(
    period: Annotated[str, typer.Option(help="抽样季度，如 2026-Q3")],
    file: Annotated[Path, typer.Argument(help="导出文件（.xlsx 或 .json）")],
) -> None:
    """导出某季度的实地核查抽样计划及核查发现（保密，仅限考核办）。

    例：assess onsite export --period 2026-Q3 2026Q3核查计划.xlsx
    """
    period = parse_period_text(period, (PeriodKind.QUARTER,), what="抽样季度").key
    _check_format(file)
    with _session() as session:
        payload = onsite_export_payload(session, period)
    write_export(file, payload, plan_sheets(payload))
    typer.echo(f"已导出 {period} 实地核查抽样计划（保密）：{file}")


# -------------------------------------------------------------------------- problems


@problems_app.command("close")
def problems_close(
    problem_id: Annotated[int, typer.Argument(help="问题编号")],
    note: Annotated[str, typer.Option(help="销号说明（整改情况）")] = "",
) -> None:
    """整改完成后为问题销号（只追加销号记录，不修改问题本身）。

    例：assess problems close 12 --note 已于3月整改到位
    """
    with _session() as session:
        closure = close_problem(session, problem_id, note, wall_clock())
    typer.echo(f"问题编号 {problem_id} 已销号（{local_text(closure.closed_at)}）。")


# ----------------------------------------------------------------------------- share


def _notice_path(file: Path, as_json: bool) -> Path:
    return file.with_name(f"{file.stem}-changes.{'json' if as_json else 'md'}")


@share_app.command("export")
def share_export_command(
    recipient: Annotated[str, typer.Option(help="接收方：" + "、".join(RECIPIENTS))],
    period: Annotated[str, typer.Option(help="统计月份，如 2026-09")],
    file: Annotated[Path, typer.Argument(help="导出文件（.xlsx 或 .json）")],
) -> None:
    """导出负面清单和未销号问题并登记报送；如有变更，同时生成变更通知。

    例：assess share export --recipient inspection --period 2026-09 巡察报送.xlsx
    """
    check_recipient(recipient)
    period = parse_period_text(period, (PeriodKind.MONTH,), what="统计月份").key
    _check_format(file)
    fmt = export_format(file)
    now = wall_clock()
    with _session() as session:
        export = export_share(session, recipient, period, now)
    write_export(file, export.payload(now), export.sheets)
    done = "已导出（内容与上次报送相同，未重复登记）" if export.repeated else "已导出并登记报送"
    typer.echo(
        f"{done}（{RECIPIENTS[recipient]}，{period}）：负面清单 "
        f"{len(export.content['negative_list'])} 个单位，未销号问题 "
        f"{len(export.content['open_problems'])} 个：{file}"
    )
    if export.removals:
        as_json = fmt == ".json"
        path = _notice_path(file, as_json)
        if as_json:
            notice = change_notice_json(recipient, export.removals, export.names, now)
            path.write_text(json.dumps(notice, ensure_ascii=False, indent=2) + "\n", "utf-8")
        else:
            text = change_notice_markdown(recipient, export.removals, export.names, now)
            path.write_text(text, encoding="utf-8")
        typer.echo(f"此前报送的负面清单有 {len(export.removals)} 处变更，变更通知：{path}")


@share_app.command("changes")
def share_changes_command(
    since: Annotated[str | None, typer.Option(help="只核对该日期（YYYY-MM-DD）以后的报送")] = None,
    recipient: Annotated[str | None, typer.Option(help="只核对该接收方")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    out: Annotated[Path | None, typer.Option(help="写入文件（默认打印）")] = None,
    dry_run: Annotated[bool, typer.Option(help="只预览，不登记为已通知")] = False,
) -> None:
    """核对已报送的负面清单，为更正后移出清单的单位生成变更通知（每处变更只通知一次）。

    例：assess share changes --since 2026-10-01 --recipient inspection
    """
    if recipient is not None:
        check_recipient(recipient)
    start = (
        datetime.combine(parse_day_text(since, "起始日期"), time(0), tzinfo=SHANGHAI)
        if since
        else None
    )
    now = wall_clock()
    with _session() as session:
        changes, names = pending_changes(
            session, now, recipient=recipient, since=start, record=not dry_run
        )
    if not changes:
        typer.echo("已报送的负面清单没有需要通知的变更。")
        return
    if as_json:
        text = json.dumps(
            [change_notice_json(r, items, names, now) for r, items in sorted(changes.items())],
            ensure_ascii=False,
            indent=2,
        )
    else:
        text = "\n".join(
            change_notice_markdown(r, items, names, now) for r, items in sorted(changes.items())
        )
    if out is None:
        typer.echo(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        typer.echo(f"变更通知已写入 {out}")


# ---------------------------------------------------------------------------- report


@report_app.command("burden")
def report_burden(
    year: Annotated[int, typer.Option(help="报告年度")],
    out: Annotated[Path | None, typer.Option(help="写入 Markdown 文件（默认打印）")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出各项数据（JSON）")] = False,
) -> None:
    """生成减负增效情况报告（规则第十节的全部数据，均由台账统计）。

    例：assess report burden --year 2026 --out 2026减负报告.md
    """
    check_year(year)
    with _session() as session:
        counts = gather_burden_counts(session, year)
        rules = load_year_rules(session, year)
    figures = burden_figures(counts)
    if as_json:
        text = json.dumps(
            {f.key: {"label": f.label, "value": _plain(f.value), "text": f.text} for f in figures},
            ensure_ascii=False,
            indent=2,
        )
    else:
        text = burden_markdown(counts, figures, rules)
    if out is None:
        typer.echo(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        typer.echo(f"已写入 {out}")


def _plain(value: object) -> object:
    return value if value is None or isinstance(value, int) else str(value)
