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

from deployments.prefect_setup import (
    ALERT_EVENTS,
    ALERTED_FLOWS,
    AUTOMATION_NAME,
    DEFAULT_PREFECT_YAML,
    PROJECT_ROOT,
    render_prefect_yaml,
    setup_alerts,
)
from tasks.settings import get_settings

deploy_app = typer.Typer(
    help="Prefect deployments: schedules, failure alerts, the main job.", no_args_is_help=True
)


# ------------------------------------------------------------------------------- render


@deploy_app.command("render")
def render(
    years: Annotated[
        list[int] | None,
        typer.Option("--years", help="years whose timetables to schedule (default: this and next)"),
    ] = None,
    more_years: Annotated[
        list[int] | None, typer.Argument(help="more years (`--years 2026 2027` works)")
    ] = None,
    file: Annotated[Path, typer.Option(help="the prefect.yaml to rewrite")] = DEFAULT_PREFECT_YAML,
    check: Annotated[
        bool, typer.Option("--check", help="write nothing; exit 1 when the file is out of date")
    ] = False,
) -> None:
    """Rewrite the schedules in prefect.yaml from the working-day calendar."""
    wanted = [*(years or []), *(more_years or [])] or None
    result = render_prefect_yaml(file, wanted, write=not check)
    for warning in result.rendered.warnings:
        typer.echo(f"warning: {warning}", err=True)
    years_text = ", ".join(str(y) for y in result.rendered.years)
    for cycle, times in result.rendered.run_times.items():
        if times:
            first, last = times[0], times[-1]
            typer.echo(
                f"{cycle.value:<22} {len(times):>3} runs  {first.isoformat()} .. {last.isoformat()}"
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
        typer.Option("--channel", help="Apprise URL (repeatable); default ASSESS_OPS_CHANNELS"),
    ] = None,
) -> None:
    """Create the automation that notifies operations when a cycle run fails or crashes."""
    from tasks.delivery import redact_channel

    channels = channel or [c.get_secret_value() for c in get_settings().ops_channels]
    try:
        result = setup_alerts(channels)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    verb = "created" if result.created else "updated"
    typer.echo(f"automation {AUTOMATION_NAME!r} {verb} ({result.automation_id})")
    for name, url in zip(result.block_names, channels, strict=True):
        typer.echo(f"  notifies {name}: {redact_channel(url)}")
    typer.echo(f"  on {', '.join(ALERT_EVENTS)} of flows {', '.join(ALERTED_FLOWS)}")


# ----------------------------------------------------------------------------- main job


@deploy_app.command("run")
def run(
    backfill: Annotated[
        bool, typer.Option(help="run the demo year's cycles due so far (backfill)")
    ] = True,
    workers: Annotated[int, typer.Option(min=1, help="process workers to start")] = 1,
    prefect_port: Annotated[int, typer.Option(help="Prefect server (and UI) port")] = 4200,
    sim_port: Annotated[int, typer.Option(help="platform simulator port")] = 8700,
    receiver_port: Annotated[int, typer.Option(help="demo message receiver port")] = 8790,
) -> None:
    """The main job: Prefect server, simulator, work pool, worker, deployments, alerts, runs.

    Runs until Ctrl-C (or `assess deployments stop`), then stops everything it started.
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
    """Stop the main job started from another shell (and whatever it left running)."""
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
