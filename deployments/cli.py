"""The ``assess`` command: the office's and operations staff's entry point."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from deployments.platform_sim_data import SimDataset
from models.catalog.files import read_catalog, write_catalog
from models.catalog.schema import CatalogError
from models.database import make_engine, session_scope, upgrade_database
from models.settings import get_settings
from tasks.catalog import load_catalog, save_catalog

app = typer.Typer(
    help="青岚 assessment calendar: catalog, calendar, platform, cycles.", no_args_is_help=True
)
catalog_app = typer.Typer(help="Import and export the office's catalog.", no_args_is_help=True)
db_app = typer.Typer(help="The project's database.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(db_app, name="db")

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
    from deployments.platform_sim import main_argv

    catalog = read_catalog(DEMO_CATALOG)

    def from_demo(year: int, seed: int, now: datetime | None) -> SimDataset:
        dataset = demo_dataset(catalog, year, seed)
        dataset.now = now
        return dataset

    args = list(ctx.args)
    if "--token" not in args:  # the token our own collector sends (ASSESS_PLATFORM_TOKEN)
        args += ["--token", get_settings().platform_token.get_secret_value()]
    raise typer.Exit(main_argv(args, dataset_factory=None if synthetic else from_demo))


@app.command("demo")
def demo() -> None:
    """The main job on embedded defaults: create the database and load the demo catalog."""
    url = _database_url()
    upgrade_database(url)
    catalog = read_catalog(DEMO_CATALOG)
    engine = make_engine(url)
    with session_scope(engine) as session:
        report = save_catalog(session, catalog)
    engine.dispose()
    typer.echo(f"database: {url}")
    typer.echo(f"demo catalog: {report.summary()}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        sys.exit(130)
