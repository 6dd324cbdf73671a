"""Fixtures for the deployment tests: prefect.yaml deployed to the session's Prefect server.

`deployed` renders the repository's prefect.yaml for 2026 and 2027 into a copy
(the committed file may already be rendered for later years) and runs the real
``prefect deploy --all`` against the ``prefect_test_harness`` server, from the
project root, after creating the process work pool.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deployments.main_job import POOL
from deployments.prefect_setup import DEFAULT_PREFECT_YAML, PROJECT_ROOT, render_prefect_yaml
from models.rules import YearRules

# The simulator and demo-catalog fixtures of the cycle tests, reused here.
from tests.cycles.conftest import catalog_db, demo_year, sim, sim_url  # noqa: F401

PREFECT = str(Path(sys.executable).with_name("prefect"))


@dataclass(frozen=True)
class Deployed:
    api_url: str
    prefect_file: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for a Prefect CLI process talking to the test server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_API_URL=self.api_url,
            PREFECT_HOME=str(self.home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            **extra,
        )
        return env


def run_in_group(
    argv: list[str], env: dict[str, str], timeout: float, cwd: Path = PROJECT_ROOT
) -> subprocess.CompletedProcess[str]:
    """Run a process in its own process group; on timeout kill the group by its pid."""
    process = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f"{' '.join(argv[:3])} did not finish in {timeout}s:\n{out[-3000:]}")
    return subprocess.CompletedProcess(argv, process.returncode, out, None)


def deploy_to(target: Deployed) -> Deployed:
    """Render prefect.yaml for 2026 and 2027 into ``target.prefect_file``, create the work
    pool on ``target``'s server and run the real ``prefect deploy --all`` against it."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.workers.process import ProcessWorker

    target.prefect_file.write_text(
        DEFAULT_PREFECT_YAML.read_text(encoding="utf-8"), encoding="utf-8"
    )
    render_prefect_yaml(target.prefect_file, [2026, 2027], {2026: YearRules(), 2027: YearRules()})
    with (
        temporary_settings({PREFECT_API_URL: target.api_url}),
        get_client(sync_client=True) as client,
    ):
        client.create_work_pool(
            WorkPoolCreate(
                name=POOL,
                type="process",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            ),
            overwrite=True,
        )
    done = run_in_group(
        [PREFECT, "deploy", "--all", "--no-prompt", "--prefect-file", str(target.prefect_file)],
        target.env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return target


@pytest.fixture(scope="session")
def deployed(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    assert api_url, "prefect_test_harness sets the API URL"
    folder = tmp_path_factory.mktemp("deploy")
    yield deploy_to(Deployed(api_url, folder / "prefect.yaml", folder / "prefect-home"))
