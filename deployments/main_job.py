"""The main job (``make demo``): everything on embedded defaults, on loopback, until Ctrl-C.

1. the demo catalog in our SQLite database (``assess demo --no-cycles``);
2. a Prefect server on SQLite (``PREFECT_HOME=data/prefect``), the platform
   simulator and a small receiver standing in for the units' and the office's
   message channels, each process in its own process group;
3. the schedules rendered into prefect.yaml, the ``assessment-pool`` process work
   pool, a process worker, ``prefect deploy --all``, and the failure automation
   notifying the demo operations channel;
4. the demo year's cycles due so far, as deployment runs of ``backfill_cycles``
   (monthly analyses in ``missing`` mode, then the quarters and half-years that
   are complete), so the UI shows real runs, ledgers and artifacts.

Ctrl-C (SIGINT) or SIGTERM stops every process group it started, by pid. The
pids are recorded in ``data/demo/main-job.json`` so that ``assess deployments
stop`` (``make demo-stop``) can stop a job started from another shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO
from uuid import UUID

from deployments.demo_receiver import demo_receiver
from deployments.processes import (
    Child,
    ProcessGroups,
    StartupError,
    console_script,
    port_free,
    recorded_pid_file,
    run_step,
    tail,
    wait_http,
)
from deployments.receiver import Receiver
from models.rules import Cycle, Period

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

POOL = "assessment-pool"
DEMO_YEAR = 2026
BACKFILL_DEPLOYMENT = "backfill_cycles/backfill-missed-periods"


class Stopped(Exception):
    """Ctrl-C or SIGTERM: unwind and stop what was started."""


@dataclass(frozen=True)
class JobConfig:
    root: Path
    data_dir: Path
    prefect_port: int = 4200
    sim_port: int = 8700
    receiver_port: int = 8790
    workers: int = 1
    backfill: bool = True
    host: str = "127.0.0.1"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def sim_url(self) -> str:
        return f"http://{self.host}:{self.sim_port}"

    @property
    def ops_channel(self) -> str:
        return f"json://{self.host}:{self.receiver_port}/ops"

    @property
    def job_dir(self) -> Path:
        return self.data_dir / "demo"

    @property
    def log_dir(self) -> Path:
        return self.job_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return recorded_pid_file(self.data_dir)

    @property
    def prefect_home(self) -> Path:
        return self.data_dir / "prefect"


def child_env(config: JobConfig) -> dict[str, str]:
    """The environment of every process of the main job: offline, local, embedded defaults."""
    env = dict(os.environ)
    for key in ("PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        env.pop(key, None)
    env.update(
        {
            "PREFECT_HOME": str(config.prefect_home),
            "PREFECT_API_URL": config.api_url,
            "PREFECT_UI_URL": config.ui_url,
            "PREFECT_SERVER_API_HOST": config.host,
            "PREFECT_SERVER_API_PORT": str(config.prefect_port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_WORKER_QUERY_SECONDS": env.get("PREFECT_WORKER_QUERY_SECONDS", "5"),
            "ASSESS_PLATFORM_URL": config.sim_url,
        }
    )
    env.setdefault("ASSESS_DATA_DIR", str(config.data_dir))
    env.setdefault("ASSESS_OPS_CHANNELS", json.dumps([config.ops_channel]))
    return env


def due_backfills(now: datetime, year: int = DEMO_YEAR) -> list[dict[str, Any]]:
    """The ``backfill_cycles`` parameters for the demo year's cycles due by ``now``.

    Monthly analyses of every month whose analysis time has passed, then the
    quarters and half-years whose closing run time has passed (``missing`` mode:
    a second main job runs nothing twice).
    """
    import warnings

    from models.rules import assessed_period
    from models.rules.due import is_due
    from tasks.runtime import build_runtime

    calendar = build_runtime().calendar
    out: list[dict[str, Any]] = []
    months = Period.whole_year(year).months()
    for cycle in (Cycle.MONTHLY_ANALYSIS, Cycle.QUARTERLY_MONITORING, Cycle.HALF_YEAR_EVALUATION):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # December's runs fall in a year not yet covered
            due = [
                m
                for m in months
                if m.index in cycle.months
                and is_due(cycle, assessed_period(cycle, m), now, calendar)
            ]
        if due:
            out.append(
                {
                    "cycle": cycle.value,
                    "first": months[0].key,
                    "last": due[-1].key,
                    "mode": "missing",
                    "dry_run": False,
                }
            )
    return out


# -------------------------------------------------------------------------- the main job


@dataclass
class MainJob:
    config: JobConfig
    out: TextIO = sys.stdout
    groups: ProcessGroups = field(init=False)

    def __post_init__(self) -> None:
        self.groups = ProcessGroups(self.config.log_dir)

    def echo(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # The steps ----------------------------------------------------------------------

    def check_ports(self) -> None:
        c = self.config
        busy = [
            f"{what} port {port}"
            for what, port in (
                ("Prefect", c.prefect_port),
                ("simulator", c.sim_port),
                ("receiver", c.receiver_port),
            )
            if not port_free(c.host, port)
        ]
        if busy:
            raise StartupError(
                f"{', '.join(busy)} already in use on {c.host}: is another main job running? "
                "Stop it with `make demo-stop` (or `assess deployments stop`)."
            )

    def record_pids(self) -> None:
        self.config.job_dir.mkdir(parents=True, exist_ok=True)
        data = {
            "pid": os.getpid(),
            "groups": {child.name: child.pid for child in self.groups.children},
        }
        self.config.pid_file.write_text(json.dumps(data, indent=2), encoding="utf-8")

    def start_background(self, env: dict[str, str]) -> tuple[Child, Child]:
        c = self.config
        prefect = console_script("prefect")
        server = self.groups.start(
            "prefect-server",
            [prefect, "server", "start", "--host", c.host, "--port", str(c.prefect_port)],
            env,
            c.root,
        )
        sim_argv = [console_script("assess"), "platform-sim", "--unit-drift"]  # the demo's list
        sim = self.groups.start(
            "platform-sim",
            [*sim_argv, "--host", c.host, "--port", str(c.sim_port)],
            env,
            c.root,
        )
        self.record_pids()
        return server, sim

    def ensure_work_pool(self) -> None:
        from prefect import get_client
        from prefect.client.schemas.actions import WorkPoolCreate
        from prefect.exceptions import ObjectAlreadyExists
        from prefect.workers.process import ProcessWorker

        with get_client(sync_client=True) as client:
            try:
                client.create_work_pool(
                    WorkPoolCreate(
                        name=POOL,
                        type="process",
                        base_job_template=ProcessWorker.get_default_base_job_template(),
                    )
                )
                self.echo(f"work pool {POOL!r} created")
            except ObjectAlreadyExists:
                self.echo(f"work pool {POOL!r} already there")

    def start_workers(self, env: dict[str, str]) -> None:
        for n in range(1, self.config.workers + 1):
            name = f"assessment-worker-{n}"
            self.groups.start(
                name,
                [
                    console_script("prefect"),
                    "worker",
                    "start",
                    "--pool",
                    POOL,
                    "--type",
                    "process",
                    "--name",
                    name,
                ],
                env,
                self.config.root,
            )
        self.record_pids()

    def submit_backfills(self) -> None:
        from prefect import get_client

        plans = due_backfills(datetime.now(UTC))
        if not plans:
            self.echo("no cycle of the demo year is due yet")
            return
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(BACKFILL_DEPLOYMENT)
            for params in plans:
                run: FlowRun = client.create_flow_run_from_deployment(
                    deployment.id, parameters=params, tags=["demo"]
                )
                label = f"{params['cycle']} {params['first']}..{params['last']} ({params['mode']})"
                self.echo(f"backfill {label}: {self.config.ui_url}/runs/flow-run/{run.id}")
                self._wait_for(run.id, label)
            last = plans[0]["last"]
            self.echo(f"the {last} monthly analysis report: {self._report_url(client, last)}")

    def _report_url(self, client: Any, month: str) -> str:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
        from prefect.client.schemas.sorting import ArtifactSort

        key = f"monthly-analysis-{month}-report"
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
        if found:
            return f"{self.config.ui_url}/artifacts/artifact/{found[0].id}"
        return f"{self.config.ui_url}/artifacts/key/{key}"

    def _wait_for(self, run_id: UUID, label: str, timeout: int = 1800) -> None:
        """Wait for the run to end (Prefect's ``wait_for_flow_run``), reporting meanwhile any
        child of the job that exits."""
        from prefect.exceptions import FlowRunWaitTimeout
        from prefect.flow_runs import wait_for_flow_run

        async def watch_children() -> None:
            while True:
                self.check_children()
                await asyncio.sleep(2)

        async def wait() -> FlowRun:
            waiter = asyncio.ensure_future(wait_for_flow_run(run_id, timeout=timeout))
            watcher = asyncio.ensure_future(watch_children())
            try:
                done, _ = await asyncio.wait({waiter, watcher}, return_when=FIRST_COMPLETED)
            finally:
                watcher.cancel()
            if waiter not in done:
                watcher.result()  # the watcher ends only by raising
            return waiter.result()

        try:
            finished = asyncio.run(wait())
        except FlowRunWaitTimeout:
            self.echo(f"  {label}: still not finished after {timeout:.0f}s; see the UI")
            return
        state = finished.state
        name = state.name if state else "?"
        self.echo(f"  {label}: {name}")
        if state is not None and not state.is_completed():
            self.echo(f"  {label} ended {name}: {state.message or ''}")

    def check_children(self) -> None:
        for child in self.groups.children:
            if not child.alive() and not child.reported_exit:
                child.reported_exit = True
                self.echo(
                    f"warning: {child.name} exited (code {child.process.returncode}); "
                    f"last lines of {child.log}:\n{tail(child.log)}"
                )

    def banner(self, receiver: Receiver) -> None:
        c = self.config
        self.echo(
            "\n".join(
                [
                    "",
                    f"Prefect UI        {c.ui_url}",
                    f"  deployments     {c.ui_url}/deployments",
                    f"  runs            {c.ui_url}/runs",
                    f"  artifacts       {c.ui_url}/artifacts",
                    f"platform sim      {c.sim_url} (token: ASSESS_PLATFORM_TOKEN, default demo)",
                    f"ops channel       {c.ops_channel} -> {receiver.log}",
                    f"logs              {c.log_dir}",
                    "Ctrl-C stops everything (or `make demo-stop` from another shell).",
                ]
            )
        )

    # The whole job ------------------------------------------------------------------

    def run(self) -> int:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from deployments.prefect_setup import render_prefect_yaml, setup_alerts

        c = self.config
        t0 = time.monotonic()

        def step(text: str) -> None:
            self.echo(f"[{time.monotonic() - t0:5.1f}s] {text}")

        self.check_ports()
        env = child_env(c)
        c.prefect_home.mkdir(parents=True, exist_ok=True)
        step(f"starting the Prefect server ({c.ui_url}, PREFECT_HOME={c.prefect_home})")
        step(f"starting the platform simulator ({c.sim_url})")
        server, sim = self.start_background(env)
        step("loading the demo catalog (assess demo --no-cycles)")
        catalog = [console_script("assess"), "demo", "--no-cycles"]
        run_step("catalog", catalog, env, c.root, c.log_dir)
        receiver_log = c.log_dir / "receiver.jsonl"
        with demo_receiver(c.host, c.receiver_port, receiver_log, self.echo) as receiver:
            step(f"message receiver on {c.host}:{c.receiver_port} (units and ops channels)")
            wait_http(f"{c.sim_url}/", sim, 60, lambda status: status < 600)
            step("rendering the schedules into prefect.yaml")
            rendered = render_prefect_yaml(c.root / "prefect.yaml")
            years = ", ".join(str(y) for y in rendered.rendered.years)
            step(f"  {'rewrote' if rendered.changed else 'already up to date'} ({years})")
            wait_http(f"{c.api_url}/health", server, 180, lambda status: status == 200)
            step("Prefect server is up")
            with temporary_settings({PREFECT_API_URL: c.api_url}):
                self.ensure_work_pool()
                self.start_workers(env)
                step(f"{c.workers} process worker(s) polling {POOL!r}")
                step("prefect deploy --all")
                deploy = [console_script("prefect"), "deploy", "--all", "--no-prompt"]
                run_step("deploy", deploy, env, c.root, c.log_dir)
                step("deployments created")
                channels = json.loads(env["ASSESS_OPS_CHANNELS"])
                alerts = setup_alerts([str(ch) for ch in channels])
                step(f"failure automation ready ({alerts.automation_id})")
                self.banner(receiver)
                if c.backfill:
                    step("running the demo year's cycles due so far (backfill_cycles deployment)")
                    self.submit_backfills()
                    step("backfill done: see the runs, ledgers and artifacts in the UI")
                    self.banner(receiver)
            self.echo("running; Ctrl-C to stop")
            while True:
                self.check_children()
                time.sleep(1)

    def stop(self) -> None:
        self.echo("stopping the main job...")
        self.groups.stop(echo=self.echo)
        with contextlib.suppress(OSError):
            self.config.pid_file.unlink()
        self.echo("stopped")


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Stopped`; ignore them while stopping."""

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Stopped(signal.Signals(signum).name)

    old_int = signal.signal(signal.SIGINT, handler)
    old_term = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def run_main_job(config: JobConfig, out: TextIO = sys.stdout) -> int:
    """Run the main job until Ctrl-C or SIGTERM; 0 when stopped so, 1 when it failed."""
    job = MainJob(config, out)
    code = 0
    with _stop_on_signals():
        try:
            job.run()
        except Stopped as exc:
            job.echo(f"\n{exc} received")
        except StartupError as exc:
            job.echo(f"error: {exc}")
            code = 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            job.stop()
    return code
