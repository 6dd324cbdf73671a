"""The office's commands refuse what they cannot do, in Chinese, and register as sub-apps."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner

from deployments.results_cli import SUB_APPS, add_to, onsite_app, problems_app, results_app

pytestmark = pytest.mark.db


def test_results_cannot_be_used_or_exported_before_the_annual_assessment(
    db_env: Engine, tmp_path: Path
) -> None:
    runner = CliRunner()
    use = runner.invoke(results_app, ["record-use", "C01", "--year", "2026", "--use", "training"])
    assert use.exit_code == 2 and "尚无 2026 年度考核结果" in use.output
    unknown = runner.invoke(
        results_app, ["record-use", "X99", "--year", "2026", "--use", "training"]
    )
    assert unknown.exit_code == 2 and "单位编码“X99”不存在" in unknown.output
    export = runner.invoke(results_app, ["export", "--year", "2026", str(tmp_path / "r.json")])
    assert export.exit_code == 2 and "尚无考核结果" in export.output
    assert not (tmp_path / "r.json").exists()


def test_a_missing_plan_or_problem_is_named(db_env: Engine, tmp_path: Path) -> None:
    runner = CliRunner()
    plan = runner.invoke(onsite_app, ["export", "--period", "2026-Q1", str(tmp_path / "p.xlsx")])
    assert plan.exit_code == 2 and "2026-Q1 没有实地核查抽样计划" in plan.output
    close = runner.invoke(problems_app, ["close", "42", "--note", "已整改"])
    assert close.exit_code == 2 and "问题编号 42 不存在" in close.output


def test_every_sub_app_is_added_to_the_assess_command_under_its_name() -> None:
    app = typer.Typer()

    @app.command()
    def version() -> None:
        """A command of the main app."""

    add_to(app)
    runner = CliRunner()
    for name in SUB_APPS:
        shown = runner.invoke(app, [name, "--help"])
        assert shown.exit_code == 0, (name, shown.output)
    assert "export" in runner.invoke(app, ["onsite", "--help"]).output
    assert "record-use" in runner.invoke(app, ["results", "--help"]).output
