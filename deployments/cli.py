"""The ``assess`` command: the office's and operations staff's entry point.

Help and errors are in Chinese; every error is one line and an exit code
(``deployments.cli_errors``: 0 done, 1 internal, 2 the user's mistake, 3 a cycle
refused, 130 interrupted); ``--debug`` (or ``ASSESS_DEBUG=1``) adds the traceback.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from typer._click import exceptions as cx

from deployments.catalog_cli import register as register_catalog_commands
from deployments.catalog_propose_cli import register as register_propose_command
from deployments.cli_errors import DEBUG_ENV, ExitCode, OfficeGroup, report_error
from deployments.cycle_cli import cycle_app
from deployments.deploy_cli import deploy_app
from deployments.lists_cli import add_to as add_lists
from deployments.platform_sim_data import SimDataset
from deployments.results_cli import add_to
from models.catalog.schema import Catalog
from models.errors import InputError, NotFoundError
from models.persistence.database import session_scope, upgrade_database
from models.rules import PeriodKind, local_text
from models.user_input import check_year, parse_day_text, parse_period_text
from tasks.catalog import load_catalog, save_catalog
from tasks.files.catalog_read import read_catalog
from tasks.files.catalog_write import write_catalog
from tasks.runtime import build_runtime
from tasks.settings import get_settings

app = typer.Typer(
    cls=OfficeGroup,
    help="青岚考核日历：考核目录、工作日历、考核信息平台、考核周期。\n\n"
    "例：assess cycle run monthly_analysis --period 2026-03",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
catalog_app = typer.Typer(
    cls=OfficeGroup,
    help="导入、导出、修订考核目录。例：assess catalog import 目录.xlsx",
    no_args_is_help=True,
)
db_app = typer.Typer(
    cls=OfficeGroup, help="项目数据库。例：assess db upgrade", no_args_is_help=True
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(db_app, name="db")
add_to(app)
add_lists(app)
app.add_typer(deploy_app, name="deployments")
app.add_typer(cycle_app, name="cycle")

CATALOG_SUFFIXES = (".xlsx", ".yaml", ".yml")


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help=f"出错时显示详细信息（traceback），同 {DEBUG_ENV}=1")
    ] = False,
) -> None:
    """青岚考核日历。例：assess calendar --year 2026"""


DEMO_CATALOG = Path(__file__).parent / "demo" / "catalog.xlsx"


def _database_url() -> str:
    return get_settings().resolved_database_url()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """建库或升级数据库到最新结构。例：assess db upgrade"""
    upgrade_database(_database_url())
    typer.echo("数据库已是最新结构。")


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(help="考核目录文件（.xlsx 或 .yaml）")],
) -> None:
    """导入考核目录：全部导入或全部不导入，每处问题都标明位置。

    例：assess catalog import 2026考核目录.xlsx
    """
    _check_catalog_file(file, must_exist=True)
    url = _database_url()
    upgrade_database(url)
    catalog = read_catalog(file)
    engine = build_runtime().engine
    with session_scope(engine) as session:
        report = save_catalog(session, catalog)
    engine.dispose()
    typer.echo(f"已导入 {file.name}：{report.summary()}")


def _check_catalog_file(file: Path, must_exist: bool) -> None:
    if file.suffix.lower() not in CATALOG_SUFFIXES:
        raise InputError(
            f"考核目录文件“{file.name}”的格式不支持：请使用 .xlsx 或 .yaml，如 目录.xlsx。"
        )
    if must_exist and not file.is_file():
        raise NotFoundError(f"找不到考核目录文件“{file}”：请检查路径和文件名。")


register_catalog_commands(catalog_app, _check_catalog_file)
register_propose_command(catalog_app, _check_catalog_file)


@catalog_app.command("export")
def catalog_export(
    file: Annotated[Path, typer.Argument(help="写入的文件（.xlsx 或 .yaml）")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="导出某月适用的目录，如 2026-05")
    ] = None,
) -> None:
    """导出数据库中的考核目录（含已生效的修订；再次导入不会改变任何内容）。

    例：assess catalog export 目录备份.xlsx --as-of 2026-05
    """
    _check_catalog_file(file, must_exist=False)
    month = None if as_of is None else parse_period_text(as_of, (PeriodKind.MONTH,), "月份").key
    engine = build_runtime().engine
    with session_scope(engine) as session:
        catalog = load_catalog(session, month)
    engine.dispose()
    write_catalog(catalog, file)
    typer.echo(f"已导出考核目录：{file}")


@app.command("calendar")
def calendar(
    year: Annotated[int, typer.Option(help="年份（四位），如 2026")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """打印某年按工作日调整后的考核周期时间表。例：assess calendar --year 2026"""
    from deployments.timetable import timetable_rows

    check_year(year, "年份")
    rows, warnings = timetable_rows(year, build_runtime().calendar)
    for warning in warnings:
        typer.echo(f"提示：{warning}", err=True)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        run_at = str(row["run_at"])  # a run's time, or an upload deadline's day
        at = run_at if len(run_at) == 10 else local_text(datetime.fromisoformat(run_at))
        typer.echo(f"{at:<16}  {row['cycle']:<22} {row['period']:<8} {row['label']}")


@app.command(
    "platform-sim",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def platform_sim(
    ctx: typer.Context,
    synthetic: Annotated[
        bool, typer.Option(help="serve a synthetic catalog instead of the demo city")
    ] = False,
    unit_drift: Annotated[
        bool, typer.Option(help="demo city: a unit list that differs from the catalog")
    ] = False,
) -> None:
    """运行考核信息平台模拟器（演示目录的数据）。例：assess platform-sim --port 8700

    Flags passed through: --host --port --token --year --seed --now --error-503-every
    --error-429-every --retry-after --slow-ms --dead --dead-mode --units --indicators.
    --unit-drift: the demo platform's unit list differs from the catalog.
    """
    from deployments.demo.sim_feed import demo_dataset
    from deployments.platform_sim_cli import main_argv

    catalog = read_catalog(DEMO_CATALOG)

    def from_demo(year: int, seed: int, now: datetime | None) -> SimDataset:
        dataset = demo_dataset(catalog, year, seed, unit_drift=unit_drift)
        dataset.now = now
        return dataset

    args = list(ctx.args)
    if "--token" not in args:  # the token our own collector sends (ASSESS_PLATFORM_TOKEN)
        args += ["--token", get_settings().platform_token.get_secret_value()]
    raise typer.Exit(main_argv(args, dataset_factory=None if synthetic else from_demo))


@app.command("outbox")
def outbox(
    action: Annotated[str | None, typer.Argument(help="requeue：将发送失败的消息重新排队")] = None,
    message_id: Annotated[int | None, typer.Argument(help="消息编号（requeue 时必填）")] = None,
    day: Annotated[str | None, typer.Option(help="日期 YYYY-MM-DD（北京时间），默认今天")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """某日待发和发送失败的消息（渠道脱敏，不显示正文）；或将一条消息重新排队。

    例：assess outbox --day 2026-03-15；assess outbox requeue 17
    """
    from deployments.outbox_cli import outbox_command, requeue_command

    if action is not None:
        if action != "requeue":
            raise InputError(f"未知的操作“{action}”：只支持 requeue，例如 assess outbox requeue 17")
        if message_id is None:
            raise InputError("请写明要重新排队的消息编号，例如 assess outbox requeue 17")
        typer.echo(requeue_command(message_id, datetime.now(UTC)))
        return
    typer.echo(outbox_command(parse_day_text(day) if day else None, as_json))


@app.command("explain")
def explain(
    unit: Annotated[str, typer.Argument(help="单位编码，如 C01")],
    indicator: Annotated[str, typer.Argument(help="指标编码，如 fai")],
    period: Annotated[str, typer.Argument(help="月份，如 2026-03")],
) -> None:
    """追溯某单位某指标某月的结果：数值、等级、台账、裁定、得分。

    例：assess explain C01 fai 2026-03
    """
    from deployments.explain_cli import explain_command

    typer.echo(explain_command(unit, indicator, period))


@app.command("publish")
def publish(
    year: Annotated[int, typer.Option(help="公布结果的考核年度，如 2026")],
) -> None:
    """公布年度考核结果：此后该年度台账只接受申诉裁定产生的更正分录。

    例：assess publish --year 2026
    """
    from tasks.appeals.publish import publish_year

    check_year(year)
    engine = build_runtime().engine
    with session_scope(engine) as session:
        publish_year(session, year, datetime.now(UTC))
    engine.dispose()
    typer.echo(f"{year}年度考核结果已公布：此后该年度台账只接受申诉裁定产生的更正分录。")


@app.command("demo")
def demo(
    cycles: Annotated[bool, typer.Option(help="同时运行 2026 年已到期的月分析")] = True,
) -> None:
    """演示：建库、导入演示目录、启动平台模拟器并运行当年已到期的周期。

    例：assess demo --no-cycles
    """
    url = _database_url()
    upgrade_database(url)
    catalog = read_catalog(DEMO_CATALOG)
    engine = build_runtime().engine
    with session_scope(engine) as session:
        report = save_catalog(session, catalog)
    engine.dispose()
    typer.echo(f"database: {url}")
    typer.echo(f"demo catalog: {report.summary()}")
    if cycles:
        _run_demo_cycles(catalog)


def _run_demo_cycles(catalog: Catalog) -> None:
    """Serve the simulator on loopback and run each 2026 month whose analysis time has passed."""
    import os

    from deployments.demo.sim_feed import demo_dataset
    from deployments.platform_sim import running_simulator
    from flows.monthly_analysis import monthly_analysis
    from models.rules import Cycle, Period

    runtime = build_runtime()
    token = runtime.settings.platform_token.get_secret_value()
    now = runtime.clock()  # the shell's clock decides which months are due
    calendar = runtime.calendar
    months = [
        m
        for m in Period.whole_year(2026).months()
        if calendar.cycle_run_at(Cycle.MONTHLY_ANALYSIS, m) <= now
    ]
    dataset = demo_dataset(catalog, 2026, unit_drift=True)  # the office sees the report
    with running_simulator(dataset, token=token) as sim_url:
        os.environ["ASSESS_PLATFORM_URL"] = sim_url
        for month in months:
            state = monthly_analysis(period=month.key, return_state=True)
            summary: Any = state.result() if state.is_completed() else {}
            levels = summary.get("levels", {}) if isinstance(summary, dict) else {}
            messages = summary.get("messages", {}) if isinstance(summary, dict) else {}
            typer.echo(
                f"{month.key}: {state.name} ({state.message}); levels {json.dumps(levels)}; "
                f"messages {json.dumps(messages)}"
            )


def main(argv: list[str] | None = None) -> int:
    """Run ``assess`` with ``argv`` (default the command line); return the exit code.

    Errors raised while parsing the top level (an unknown command or option) are mapped
    here, those of the commands by their ``OfficeGroup``: both in ``cli_errors``.
    """
    import os

    # Prefect reads these when first imported: offline, and time for a first server start.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:  # accepted anywhere on the line, not only right after ``assess``
        args = ["--debug", *(a for a in args if a != "--debug")]
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="assess", standalone_mode=False)
    except cx.NoArgsIsHelpError as exc:
        exc.show()
        return int(ExitCode.USER)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (Exception, KeyboardInterrupt) as exc:
        return int(report_error(exc))
    return result if isinstance(result, int) else int(ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover - ``python -m deployments.cli``
    sys.exit(main())
