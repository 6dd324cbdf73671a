"""The ``assess`` command: the office's and operations staff's entry point."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from deployments.deploy_cli import deploy_app
from deployments.platform_sim_data import SimDataset
from deployments.results_cli import add_to
from models.catalog.schema import Catalog, CatalogError
from models.persistence.database import make_engine, session_scope, upgrade_database
from tasks.catalog import load_catalog, save_catalog
from tasks.files.catalog_read import read_catalog
from tasks.files.catalog_write import write_catalog
from tasks.settings import get_settings

app = typer.Typer(
    help="青岚 assessment calendar: catalog, calendar, platform, cycles.", no_args_is_help=True
)
catalog_app = typer.Typer(help="Import and export the office's catalog.", no_args_is_help=True)
db_app = typer.Typer(help="The project's database.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(db_app, name="db")
add_to(app)
app.add_typer(deploy_app, name="deployments")

DEMO_CATALOG = Path(__file__).parent / "demo" / "catalog.xlsx"


def _database_url() -> str:
    return get_settings().resolved_database_url()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema."""
    upgrade_database(_database_url())
    typer.echo("database is at the latest schema")


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(help="catalog .xlsx or .yaml", exists=True)],
) -> None:
    """Import a catalog file: all or nothing, every problem listed with its location."""
    url = _database_url()
    upgrade_database(url)
    try:
        catalog = read_catalog(file)
        engine = make_engine(url)
        with session_scope(engine) as session:
            report = save_catalog(session, catalog)
        engine.dispose()
    except CatalogError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"imported {file.name}: {report.summary()}")


@catalog_app.command("export")
def catalog_export(
    file: Annotated[Path, typer.Argument(help="where to write (.xlsx or .yaml)")],
) -> None:
    """Export the stored catalog so that importing it again changes nothing."""
    engine = make_engine(_database_url())
    with session_scope(engine) as session:
        catalog = load_catalog(session)
    engine.dispose()
    write_catalog(catalog, file)
    typer.echo(f"wrote {file}")


@app.command("calendar")
def calendar(
    year: Annotated[int, typer.Option(help="the year whose timetable to print")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Print the year's working-day-adjusted timetable of cycles."""
    from deployments.timetable import timetable_rows

    rows, warnings = timetable_rows(year, get_settings().calendar_overrides)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['run_at']}  {row['cycle']:<22} {row['period']:<8} {row['label']}")


@app.command(
    "platform-sim",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def platform_sim(
    ctx: typer.Context,
    synthetic: Annotated[
        bool, typer.Option(help="serve a synthetic catalog instead of the demo city")
    ] = False,
) -> None:
    """Serve the platform simulator (fed from the demo catalog). Other flags: --help below.

    Flags passed through: --host --port --token --year --seed --now --error-503-every
    --error-429-every --retry-after --slow-ms --dead --dead-mode --units --indicators.
    """
    from deployments.demo.sim_feed import demo_dataset
    from deployments.platform_sim_cli import main_argv

    catalog = read_catalog(DEMO_CATALOG)

    def from_demo(year: int, seed: int, now: datetime | None) -> SimDataset:
        dataset = demo_dataset(catalog, year, seed)
        dataset.now = now
        return dataset

    args = list(ctx.args)
    if "--token" not in args:  # the token our own collector sends (ASSESS_PLATFORM_TOKEN)
        args += ["--token", get_settings().platform_token.get_secret_value()]
    raise typer.Exit(main_argv(args, dataset_factory=None if synthetic else from_demo))


@app.command("outbox")
def outbox(
    day: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD (Asia/Shanghai), default today")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """What goes out today and what failed (channels redacted, no message bodies)."""
    from datetime import date

    from deployments.outbox_cli import outbox_command

    typer.echo(outbox_command(date.fromisoformat(day) if day else None, as_json))


@app.command("explain")
def explain(
    unit: Annotated[str, typer.Argument(help="unit code, e.g. C01")],
    indicator: Annotated[str, typer.Argument(help="indicator code")],
    period: Annotated[str, typer.Argument(help="month, e.g. 2026-03")],
) -> None:
    """Trace one unit's indicator in one month: value, level, ledger, rulings, score."""
    from deployments.explain_cli import ExplainError, explain_command

    try:
        typer.echo(explain_command(unit, indicator, period))
    except ExplainError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None


@app.command("publish")
def publish(
    year: Annotated[int, typer.Option(help="the year whose results are published")],
) -> None:
    """Publish a year's annual results: from then on its ledgers take only ruling entries."""
    from tasks.appeals.publish import publish_year

    engine = make_engine(_database_url())
    with session_scope(engine) as session:
        publish_year(session, year, datetime.now(UTC))
    engine.dispose()
    typer.echo(f"{year}年度考核结果已公布：此后该年度台账只接受申诉裁定产生的更正分录。")


@app.command("demo")
def demo(
    cycles: Annotated[bool, typer.Option(help="also run the 2026 monthly analyses so far")] = True,
) -> None:
    """The main job on embedded defaults: database, demo catalog, simulator, the year's cycles."""
    url = _database_url()
    upgrade_database(url)
    catalog = read_catalog(DEMO_CATALOG)
    engine = make_engine(url)
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
    from tasks.runtime import work_calendar

    token = get_settings().platform_token.get_secret_value()
    now = datetime.now(UTC)  # the shell's clock decides which months are due
    calendar = work_calendar()
    months = [
        m
        for m in Period.whole_year(2026).months()
        if calendar.cycle_run_at(Cycle.MONTHLY_ANALYSIS, m) <= now
    ]
    with running_simulator(demo_dataset(catalog, 2026), token=token) as sim_url:
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


def main() -> None:
    import os

    # Prefect reads these when first imported: offline, and time for a first server start.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)
