"""Fixtures for the command-line tests: ``assess`` run as the console script runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from deployments.cli import main
from tests.results.conftest import catalog_db, db_env, demo_year, settings_env, sim, sim_url

__all__ = ["Ran", "assess", "catalog_db", "db_env", "demo_year", "settings_env", "sim", "sim_url"]


@dataclass(frozen=True)
class Ran:
    """What one ``assess`` invocation left: its exit code and its two streams."""

    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def assess(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Ran]:
    """Run ``assess ARGS…`` in this process (as ``deployments.cli:main``) from ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSESS_DEBUG", raising=False)

    def run(*args: str) -> Ran:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
