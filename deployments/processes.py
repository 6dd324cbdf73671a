"""The main job's process plumbing: children each in their own process group, stopped by
pid; short foreground steps; waiting for a port to answer; stopping a recorded job.

Nothing here knows what the processes are (``deployments.main_job`` decides that).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

STOP_TIMEOUT = 15.0


class StartupError(RuntimeError):
    """A part of the main job did not come up; the message says where to look."""


def recorded_pid_file(data_dir: Path) -> Path:
    """Where the main job records its pid and its children's process groups."""
    return data_dir / "demo" / "main-job.json"


# ------------------------------------------------------------------------ process groups


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    reported_exit: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None


def signal_group(pid: int, sig: signal.Signals) -> bool:
    """Signal the process group led by ``pid``; False when no such group is left."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


@dataclass
class ProcessGroups:
    """Children started each in its own session (so Ctrl-C reaches only us), stopped by pid."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            out.write(f"\n=== {datetime.now(UTC).isoformat()} {' '.join(argv)}\n".encode())
            out.flush()
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def stop(self, timeout: float = STOP_TIMEOUT, echo: Callable[[str], None] = print) -> None:
        """SIGTERM every group (last started first), then SIGKILL what is left after ``timeout``."""
        for child in reversed(self.children):
            if signal_group(child.pid, signal.SIGTERM):
                echo(f"  stopping {child.name} (process group {child.pid})")
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(max(0.1, deadline - time.monotonic()))
        for child in reversed(self.children):
            if signal_group(child.pid, signal.SIGKILL):  # the leader or anything it left behind
                echo(f"  killed what was left of {child.name}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(5)
        self.children.clear()


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ------------------------------------------------------------------------------ helpers


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def console_script(name: str) -> str:
    """A console script of this virtualenv (``assess``, ``prefect``)."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def wait_http(url: str, child: Child, timeout: float, ok: Callable[[int], bool]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise StartupError(
                f"{child.name} exited (code {child.process.returncode}); "
                f"its log {child.log}:\n{tail(child.log)}"
            )
        try:
            if ok(httpx.get(url, timeout=2).status_code):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise StartupError(f"{child.name} did not answer {url} within {timeout:.0f}s; see {child.log}")


def run_step(name: str, argv: list[str], env: dict[str, str], cwd: Path, log_dir: Path) -> None:
    """Run a short step in the foreground (its own session too), logging to its file."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait()
        except BaseException:
            signal_group(process.pid, signal.SIGKILL)
            process.wait()
            raise
    if code != 0:
        raise StartupError(f"{name} failed (exit {code}); its log {log}:\n{tail(log)}")


# ------------------------------------------------------------------------- stop from afar


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop_recorded_job(data_dir: Path, timeout: float = 30) -> tuple[str, int]:
    """Stop the main job recorded under ``data_dir`` (SIGTERM to it; its groups if it is gone)."""
    pid_file = recorded_pid_file(data_dir)
    try:
        data = json.loads(pid_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no main job recorded (nothing to stop)", 0
    pid = int(data.get("pid", 0))
    groups = {str(k): int(v) for k, v in dict(data.get("groups", {})).items()}
    cmdline = _cmdline(pid) if pid else ""
    if "deployments" in cmdline or "assess" in cmdline:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _cmdline(pid):
            time.sleep(0.2)
    left = [name for name, gid in groups.items() if signal_group(gid, signal.SIGTERM)]
    if left:
        time.sleep(3)
        for gid in groups.values():
            signal_group(gid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        pid_file.unlink()
    extra = f"; also stopped {', '.join(left)}" if left else ""
    return f"main job {pid} stopped{extra}", 0
