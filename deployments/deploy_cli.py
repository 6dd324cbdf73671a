"""``assess deployments``: render the schedules, set up the alerts, run the main job.

- ``render [--years 2026 2027]`` rewrites the ``schedules:`` of prefect.yaml from the
  working-day calendar (see `deployments.schedules`).
- ``setup-alerts`` creates, idempotently, one Apprise notification block per
  operations channel (``ASSESS_OPS_CHANNELS``) and the automation that notifies
  them when a cycle run fails, crashes or times out.
- ``run`` is the main job (`deployments.main_job`): what ``make demo`` runs.
- ``stop`` stops a main job started from another shell (``make demo-stop``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from deployments.cli_errors import OfficeGroup
from deployments.prefect_setup import (
    ALERT_EVENTS,
    ALERTED_FLOWS,
    AUTOMATION_NAME,
    DEFAULT_PREFECT_YAML,
    PROJECT_ROOT,
    render_prefect_yaml,
    setup_alerts,
)
from models.errors import InputError
from models.rules import local_text
from models.user_input import check_year
from tasks.settings import get_settings

deploy_app = typer.Typer(
    cls=OfficeGroup,
    help="Prefect 部署：排期、失败告警、主作业。例：assess deployments run --workers 2",
    no_args_is_help=True,
)


# ------------------------------------------------------------------------------- render


@deploy_app.command("render")
def render(
    years: Annotated[
        list[int] | None,
        typer.Option("--years", help="排期的年份（默认今年和明年），如 --years 2026 2027"),
    ] = None,
    more_years: Annotated[
        list[int] | None, typer.Argument(help="更多年份（`--years 2026 2027` 亦可）")
    ] = None,
    file: Annotated[Path, typer.Option(help="要改写的 prefect.yaml")] = DEFAULT_PREFECT_YAML,
    check: Annotated[
        bool, typer.Option("--check", help="只检查不写入；排期过期时退出码为 1")
    ] = False,
) -> None:
    """按工作日历改写 prefect.yaml 中的排期。例：assess deployments render --years 2026 2027"""
    wanted = [*(years or []), *(more_years or [])] or None
    for year in wanted or []:
        check_year(year, "年份")
    result = render_prefect_yaml(file, wanted, write=not check)
    for warning in result.rendered.warnings:
        typer.echo(f"warning: {warning}", err=True)
    years_text = ", ".join(str(y) for y in result.rendered.years)
    for cycle, times in result.rendered.run_times.items():
        if times:
            first, last = times[0], times[-1]
            typer.echo(
                f"{cycle.value:<22} {len(times):>3} runs  {local_text(first)} .. {local_text(last)}"
            )
    if check:
        if result.changed:
            typer.echo(f"{file}: schedules are out of date for {years_text}", err=True)
            raise typer.Exit(1)
        typer.echo(f"{file}: schedules are up to date for {years_text}")
        return
    state = "rewrote the schedules" if result.changed else "schedules already up to date"
    typer.echo(f"{file}: {state} (years {years_text}); deploy with `prefect deploy --all`")


# ------------------------------------------------------------------------------- alerts


@deploy_app.command("setup-alerts")
def setup_alerts_command(
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", help="Apprise 地址（可重复），默认 ASSESS_OPS_CHANNELS"),
    ] = None,
) -> None:
    """建立运行失败或崩溃时通知运维的自动化。例：assess deployments setup-alerts"""
    from tasks.delivery import redact_channel

    channels = channel or [c.get_secret_value() for c in get_settings().ops_channels]
    try:
        result = setup_alerts(channels)
    except ValueError as exc:
        raise InputError(f"运维通知渠道有误：{exc}") from None
    verb = "created" if result.created else "updated"
    typer.echo(f"automation {AUTOMATION_NAME!r} {verb} ({result.automation_id})")
    for name, url in zip(result.block_names, channels, strict=True):
        typer.echo(f"  notifies {name}: {redact_channel(url)}")
    typer.echo(f"  on {', '.join(ALERT_EVENTS)} of flows {', '.join(ALERTED_FLOWS)}")


# ----------------------------------------------------------------------------- main job


@deploy_app.command("run")
def run(
    backfill: Annotated[bool, typer.Option(help="补跑演示年度至今已到期的周期")] = True,
    workers: Annotated[int, typer.Option(min=1, help="启动的 worker 进程数")] = 1,
    prefect_port: Annotated[int, typer.Option(help="Prefect 服务器（及界面）端口")] = 4200,
    sim_port: Annotated[int, typer.Option(help="平台模拟器端口")] = 8700,
    receiver_port: Annotated[int, typer.Option(help="演示消息接收端端口")] = 8790,
) -> None:
    """主作业：Prefect 服务器、模拟器、工作池、worker、部署、告警与补跑。

    例：assess deployments run --workers 2

    一直运行到 Ctrl-C（或 `assess deployments stop`），然后停止它启动的一切。
    """
    from deployments.main_job import JobConfig, run_main_job

    config = JobConfig(
        root=PROJECT_ROOT,
        data_dir=get_settings().data_dir.resolve(),
        prefect_port=prefect_port,
        sim_port=sim_port,
        receiver_port=receiver_port,
        workers=workers,
        backfill=backfill,
    )
    raise typer.Exit(run_main_job(config))


@deploy_app.command("stop")
def stop() -> None:
    """停止从另一终端启动的主作业（及其留下的进程）。例：assess deployments stop"""
    from deployments.processes import stop_recorded_job

    message, code = stop_recorded_job(get_settings().data_dir.resolve())
    typer.echo(message, err=code != 0)
    raise typer.Exit(code)


def main() -> None:  # pragma: no cover - `python -m deployments.deploy_cli`
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        deploy_app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
