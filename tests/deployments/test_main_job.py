"""The main job's plumbing: process groups stopped by pid, signals, the demo receiver."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from deployments.demo_receiver import demo_receiver
from deployments.main_job import JobConfig, MainJob, Stopped, _stop_on_signals, child_env
from deployments.processes import ProcessGroups, stop_recorded_job


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_stopping_kills_each_group_by_pid_even_a_stubborn_one(tmp_path: Path) -> None:
    groups = ProcessGroups(tmp_path)
    polite = groups.start("polite", ["sleep", "60"], dict(os.environ), tmp_path)
    # Ignores SIGTERM (and SIGINT, as background processes of a script do) and has a child.
    stubborn = groups.start(
        "stubborn",
        ["sh", "-c", "trap '' TERM INT; sleep 60 & echo $! > child.pid; wait"],
        dict(os.environ),
        tmp_path,
    )
    deadline = time.monotonic() + 10
    while not (tmp_path / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int((tmp_path / "child.pid").read_text())
    assert os.getpgid(stubborn.pid) == stubborn.pid != os.getpgid(0)
    said: list[str] = []
    started = time.monotonic()
    groups.stop(timeout=1, echo=said.append)
    assert time.monotonic() - started < 10
    assert not _alive(polite.pid) and not _alive(stubborn.pid) and not _alive(grandchild)
    assert any("killed what was left of stubborn" in s for s in said)
    assert groups.children == []


def test_sigint_and_sigterm_become_stopped_and_the_handlers_are_given_back() -> None:
    # What was there before: Python's KeyboardInterrupt, or SIG_IGN when the test run was
    # started in the background from a script.
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    for sig in (signal.SIGINT, signal.SIGTERM):
        with pytest.raises(Stopped, match=sig.name), _stop_on_signals():
            os.kill(os.getpid(), sig)
            time.sleep(1)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_the_demo_receiver_logs_every_post_and_echoes_ops_alerts(tmp_path: Path) -> None:
    echoed: list[str] = []
    log = tmp_path / "receiver.jsonl"
    with demo_receiver("127.0.0.1", 0, log, echoed.append) as receiver:
        base = receiver.url
        answer = httpx.post(f"{base}/ops", json={"title": "运行异常", "message": "m"}, timeout=5)
        httpx.post(f"{base}/units/C01", json={"title": "提醒", "message": "m"}, timeout=5)
    assert answer.json() == {"errcode": 0, "errmsg": "ok"}
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [line["path"] for line in lines] == ["/ops", "/units/C01"]
    assert len(echoed) == 1 and "运行异常" in echoed[0]


def test_the_job_runs_offline_on_loopback(tmp_path: Path) -> None:
    config = JobConfig(root=tmp_path, data_dir=tmp_path / "data")
    env = child_env(config)
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"
    assert env["PREFECT_HOME"] == str(tmp_path / "data" / "prefect")
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"
    assert "PREFECT_API_KEY" not in env


def test_stop_from_another_shell_stops_the_recorded_groups(tmp_path: Path) -> None:
    assert stop_recorded_job(tmp_path) == ("no main job recorded (nothing to stop)", 0)
    left = subprocess.Popen(["sleep", "60"], start_new_session=True)
    record = tmp_path / "demo" / "main-job.json"
    record.parent.mkdir(parents=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    record.write_text(json.dumps({"pid": gone.pid, "groups": {"sim": left.pid}}))
    message, code = stop_recorded_job(tmp_path)
    assert code == 0 and "also stopped sim" in message
    assert left.wait(timeout=10) is not None
    assert not record.exists()


@pytest.mark.flow
def test_the_job_waits_for_each_backfill_run_and_says_how_it_ended(
    prefect_server: None, tmp_path: Path
) -> None:
    from prefect import flow, get_client
    from prefect.states import Completed, Failed, Scheduled

    @flow(name="main-job-wait-probe")
    def probe() -> None:
        pass

    out = io.StringIO()
    job = MainJob(JobConfig(root=tmp_path, data_dir=tmp_path / "data"), out)
    with get_client(sync_client=True) as client:
        done = client.create_flow_run(probe, state=Completed())
        failing = client.create_flow_run(probe, state=Scheduled())
        waiting = client.create_flow_run(probe, state=Scheduled())
        ends = threading.Thread(
            target=client.set_flow_run_state,
            args=(failing.id, Failed(message="坏了")),
            kwargs={"force": True},
        )
        ends.start()
        job._wait_for(done.id, "done")
        job._wait_for(failing.id, "failing")
        ends.join()
        job._wait_for(waiting.id, "waiting", timeout=1)
    assert out.getvalue().splitlines() == [
        "  done: Completed",
        "  failing: Failed",
        "  failing ended Failed: 坏了",
        "  waiting: still not finished after 1s; see the UI",
    ]
