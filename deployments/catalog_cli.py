"""``assess catalog change|history``: audited mid-year catalog revisions (issue 14).

::

    assess catalog change FILE --document 文号 --effective 2026-07 [--reason 理由] [--dry-run]
    assess catalog history --year 2026

A recorded revision is followed at once by ``recompute_after_catalog_change`` (through
its deployment when the Prefect server holds it, else in this process); ``--dry-run``
computes the same recomputation in a transaction it rolls back, to show which units'
pre-deductions and results would move. The wall clock and the operator's name are read
here, at the entry point, and passed down. Everything the office reads is in Chinese.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from models.catalog.revision import CatalogChangeRefused, Difference
from models.catalog.schema import CatalogError
from models.persistence.database import session_scope, upgrade_database
from models.plans.catalog_recompute import catalog_recompute_lines
from models.rules import PeriodKind, local_text
from models.user_input import check_year, parse_period_text
from tasks.catalog import load_revisions
from tasks.catalog_recompute import recompute_revision
from tasks.catalog_revisions import (
    RevisionRequest,
    load_analysed_months,
    load_touched_units,
    plan_revision,
    queue_change_notices,
    save_revision,
)
from tasks.files.catalog_read import read_catalog
from tasks.runtime import build_runtime
from tasks.settings import get_settings


def _who() -> str:
    """Who records a revision: ``ASSESS_OPERATOR`` when set, else the OS user."""
    name = os.environ.get("ASSESS_OPERATOR", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name on this system
        return "unknown"


def _difference_lines(difference: Difference) -> list[str]:
    return [f"  - {change.describe()}" for change in difference.changes]


DEPLOYMENT = "recompute_after_catalog_change/recompute-after-catalog-change"


def run_recompute(revision_id: int, now: datetime) -> tuple[bool, list[str]]:
    """Run ``recompute_after_catalog_change`` for the revision: through its deployment
    when the configured Prefect server holds it (``cycle_cli.find_route``), else in this
    process (like ``assess cycle run``). Returns whether it completed and what to print."""
    from deployments.cycle_cli import console_without_tracebacks, find_route

    route = find_route(DEPLOYMENT)
    typer.echo(f"重新核算自生效月份起已分析的月份：{route.reason}。")
    if route.use_server:
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment

        parameters = {"revision_id": revision_id, "now": now}
        run = run_deployment(DEPLOYMENT, parameters=parameters, timeout=None, as_subflow=False)
        assert isinstance(run, FlowRun)
        state = run.state
    else:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.recompute_after_catalog_change import recompute_after_catalog_change

        ephemeral = temporary_settings(restore_defaults={PREFECT_API_URL})
        with ephemeral if route.server_down else nullcontext(), console_without_tracebacks():
            state = recompute_after_catalog_change(revision_id, now=now, return_state=True)
    if state is None or not state.is_completed():
        message = "" if state is None else (state.message or state.name or "")
        return False, [f"重新核算未完成：{message}"]
    try:
        data = state.result(raise_on_failure=False)
    except Exception:  # a deployment's result may not be persisted: the artifact has it
        data = None
    lines = list(data.get("lines", [])) if isinstance(data, dict) else []
    return True, lines or [f"重新核算已完成：{state.message or ''}"]


def register(catalog_app: typer.Typer, check_file: Callable[..., None]) -> None:
    """Add ``change`` and ``history`` to the ``assess catalog`` group."""

    @catalog_app.command("change")
    def catalog_change(
        file: Annotated[Path, typer.Argument(help="修订后的考核目录文件（.xlsx 或 .yaml）")],
        document: Annotated[str, typer.Option("--document", help="审定修订的文号")],
        effective: Annotated[str, typer.Option("--effective", help="生效月份，如 2026-07")],
        reason: Annotated[str, typer.Option("--reason", help="修订理由")] = "",
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="只显示改动及其影响，不写入"),
        ] = False,
    ) -> None:
        """年度中途修订考核目录：与当前目录比较，作为自某月起生效的修订记录。

        记录修订后，自生效月份起已分析的月份按新目录逐月重新核算（只记更正分录，分录注明修订号），
        并更正受影响的半年与年度结果；生效月份以前的月份不变。不允许的改动逐处标明位置
        （工作表、行、列），数据库不变；同一修订再次执行不改变任何内容。

        例：assess catalog change 修订.xlsx --document 青考办〔2026〕12号 --effective 2026-07
        """
        check_file(file, must_exist=True)
        month = parse_period_text(effective, (PeriodKind.MONTH,), "生效月份")
        url = get_settings().resolved_database_url()
        upgrade_database(url)
        try:
            catalog = read_catalog(file)
        except CatalogError as exc:
            raise CatalogChangeRefused(exc.problems) from None
        request = RevisionRequest(
            catalog=catalog,
            file=file.name,
            document_ref=document,
            effective_month=month.key,
            reason=reason,
            recorded_by=_who(),
        )
        runtime = build_runtime()
        engine, calendar = runtime.engine, runtime.calendar
        try:
            with session_scope(engine) as session:
                difference = plan_revision(session, request)
                if difference.empty:
                    typer.echo(
                        f"{file.name} 与当前 {month.year} 年度目录相同：没有需要修订的内容。"
                    )
                    return
                lines = _difference_lines(difference)
                if dry_run:
                    typer.echo(
                        f"预览（未写入）：{month.year}年度目录修订，自 {month.key} 起生效，"
                        f"共 {len(lines)} 处改动："
                    )
                    typer.echo("\n".join(lines))
                    touched = load_touched_units(session, request, difference)
                    typer.echo(f"涉及 {len(touched)} 个单位：{'、'.join(touched) or '无'}")
                    # The consequences: the recomputation computed in this transaction,
                    # then rolled back (nothing is written, nothing is sent).
                    now = datetime.now(UTC)
                    revision_id = save_revision(session, request, difference, now)
                    assert revision_id is not None
                    summary = recompute_revision(session, revision_id, now, calendar)
                    typer.echo("若执行此修订：")
                    typer.echo("\n".join(catalog_recompute_lines(summary)))
                    session.rollback()
                    return
                now = datetime.now(UTC)
                revision_id = save_revision(session, request, difference, now)
                assert revision_id is not None
                told = queue_change_notices(session, revision_id, now)
                months = load_analysed_months(session, month.year, month.key)
                # Nothing analysed from the effective month: no month to recompute, only
                # stored results to restate, here in the same transaction.
                quick = None if months else recompute_revision(session, revision_id, now, calendar)
        finally:
            engine.dispose()
        typer.echo(
            f"已记录目录修订 #{revision_id}（{document.strip()}），{month.year}年度自 "
            f"{month.key} 起生效，共 {len(lines)} 处改动："
        )
        typer.echo("\n".join(lines))
        typer.echo(f"已向 {told} 个涉及调整的单位各发送一条通知（经发件箱送达）。")
        if quick is not None:
            typer.echo("\n".join(catalog_recompute_lines(quick)))
            return
        completed, report = run_recompute(revision_id, now)
        typer.echo("\n".join(report), err=not completed)
        if not completed:
            typer.echo(
                f"修订已记录；请排除故障后重跑：在 Prefect 界面运行 recompute-after-catalog-change"
                f"（revision_id={revision_id}）。",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(f"汇总见 Prefect 界面的产物 catalog-revision-{revision_id}。")

    @catalog_app.command("history")
    def catalog_history(
        year: Annotated[int, typer.Option("--year", help="考核年度，如 2026")],
    ) -> None:
        """列出某年度考核目录的修订记录（文号、生效月份、记录人、改动）。

        例：assess catalog history --year 2026
        """
        check_year(year, "年份")
        engine = build_runtime().engine
        try:
            with session_scope(engine) as session:
                revisions = load_revisions(session, year)
        finally:
            engine.dispose()
        if not revisions:
            typer.echo(f"{year}年度考核目录没有修订记录。")
            return
        for r in revisions:
            recorded = local_text(datetime.fromisoformat(r.recorded_at))
            head = (
                f"#{r.id} {r.document_ref}  自 {r.effective_month} 起生效  "
                f"记录人 {r.recorded_by}  记录于 {recorded}（北京时间）"
            )
            typer.echo(head + (f"  理由：{r.reason}" if r.reason else ""))
            for change in r.changes:
                typer.echo(f"  - {change.describe()}")
