"""``assess cycle run``: one cycle for a chosen period, its outcome in Chinese and as an exit
code; through the deployment when the server holds it, in this process otherwise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

import deployments.cycle_cli as cycle_cli
from deployments.cli_errors import ExitCode
from deployments.cycle_cli import CycleOutcome, deployment_name, flow_parameters
from models.errors import InputError
from models.rules import Cycle, Period
from tests.fixtures.cli import Ran

MARCH = Period.parse("2026-03")


@pytest.mark.flow
@pytest.mark.db
@pytest.mark.http
def test_a_monthly_analysis_run_in_process_completes_against_the_simulator_and_says_so(
    prefect_server: None, settings_env: Engine, assess: Callable[..., Ran]
) -> None:
    first = assess("cycle", "run", "monthly_analysis", "--period", "2026-03")
    assert first.code == ExitCode.OK, first
    assert "在本进程运行" in first.out  # the test server holds no deployment of the cycle
    assert "月分析 2026-03：已完成（分析完成）" in first.out
    with settings_env.connect() as conn:
        booked = conn.execute(sa.text("SELECT COUNT(*) FROM deduction_entry")).scalar_one()
    assert booked > 0, "the demo month has red and missing indicators to pre-deduct"
    again = assess("cycle", "run", "monthly_analysis", "--period", "2026-03")
    assert again.code == ExitCode.OK, again
    assert "该期次此前已完成，未重复运行（需要重跑请加 --force）" in again.out
    with settings_env.connect() as conn:
        rebooked = conn.execute(sa.text("SELECT COUNT(*) FROM deduction_entry")).scalar_one()
    assert rebooked == booked


@pytest.mark.parametrize(
    ("outcome", "code", "line"),
    [
        (
            CycleOutcome("COMPLETED", "Completed", "2026-03 analysed"),
            ExitCode.OK,
            "月分析 2026-03：已完成（分析完成）",
        ),
        (
            CycleOutcome("COMPLETED", "Partial", "platform unavailable: 503 x3"),
            ExitCode.OK,
            "月分析 2026-03：部分完成（考核信息平台不可用，部分完成：503 x3）",
        ),
        (
            CycleOutcome("COMPLETED", "Preview", "2026-03 月分析：已发布，未记账、未发送消息"),
            ExitCode.OK,
            "月分析 2026-03：预览完成（2026-03 月分析：已发布，未记账、未发送消息）",
        ),
        (
            CycleOutcome("CANCELLED", "NotDue", "2026-11 的上传截止日为 2026-12-07，此后方可分析"),
            ExitCode.REFUSED,
            "月分析 2026-03：未运行（2026-11 的上传截止日为 2026-12-07，此后方可分析）",
        ),
        (
            CycleOutcome("COMPLETED", "Completed", "2026-03 already running"),
            ExitCode.REFUSED,
            "月分析 2026-03：未运行（另一运行正在处理该期次，请等它结束后再试）",
        ),
        (
            CycleOutcome("CANCELLED", "NotDue", "2026-03 is due after 2026-04-08 09:00"),
            ExitCode.REFUSED,
            "月分析 2026-03：未运行（2026-03 is due after 2026-04-08 09:00）",
        ),
        (
            CycleOutcome(
                "FAILED",
                "Failed",
                "Flow run encountered an exception: CycleRefused: 2026-03 的上传截止日尚未过去",
            ),
            ExitCode.REFUSED,
            "月分析 2026-03：未运行（2026-03 的上传截止日尚未过去）",
        ),
        (
            CycleOutcome("FAILED", "Failed", "2026-11 is not due before 2026-12-08 09:00"),
            ExitCode.REFUSED,
            "月分析 2026-03：未运行（2026-11 is not due before 2026-12-08 09:00）",
        ),
        (
            CycleOutcome("FAILED", "Failed", "Flow run encountered an exception: KeyError"),
            ExitCode.INTERNAL,
            "月分析 2026-03：失败（Flow run encountered an exception: KeyError）",
        ),
        (CycleOutcome("CRASHED", "Crashed", ""), ExitCode.INTERNAL, "月分析 2026-03：崩溃"),
    ],
)
def test_an_outcome_has_one_chinese_line_and_its_exit_code(
    outcome: CycleOutcome, code: ExitCode, line: str
) -> None:
    assert outcome.exit_code is code
    assert outcome.line(Cycle.MONTHLY_ANALYSIS, MARCH) == line


def test_the_deployment_is_the_one_prefect_yaml_defines_for_the_cycles_flow(
    tmp_path: Path,
) -> None:
    yaml_file = tmp_path / "prefect.yaml"
    yaml_file.write_text(
        "deployments:\n"
        "- name: reminders\n  entrypoint: flows/pre_deadline_reminder.py:pre_deadline_reminder\n"
        "- name: monthly\n  entrypoint: flows/monthly_analysis.py:monthly_analysis\n",
        encoding="utf-8",
    )
    assert deployment_name(Cycle.MONTHLY_ANALYSIS, yaml_file) == "monthly_analysis/monthly"
    assert (
        deployment_name(Cycle.ANNUAL_ASSESSMENT, yaml_file) == "annual_assessment/annual-assessment"
    )


def _with_preview(period: str | None = None, force: bool = False, preview: bool = False) -> None:
    """The signature of a cycle flow that has a preview mode."""


def _without_preview(period: str | None = None, force: bool = False) -> None:
    """The signature of a cycle flow that has none."""


def test_force_and_preview_are_passed_by_name_and_only_when_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cycle_cli, "load_flow", lambda _c: SimpleNamespace(fn=_with_preview))
    cycle = Cycle.MONTHLY_ANALYSIS
    assert flow_parameters(cycle, MARCH, force=False, preview=False) == {"period": "2026-03"}
    assert flow_parameters(cycle, MARCH, force=True, preview=False) == {
        "period": "2026-03",
        "force": True,
    }
    assert flow_parameters(cycle, MARCH, force=False, preview=True) == {
        "period": "2026-03",
        "preview": True,
    }


def test_preview_of_a_flow_without_a_preview_parameter_is_refused_in_chinese(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cycle_cli, "load_flow", lambda _c: SimpleNamespace(fn=_without_preview))
    with pytest.raises(InputError, match="不支持预览"):
        flow_parameters(Cycle.QUARTERLY_MONITORING, Period.parse("2026-Q1"), False, True)


def test_without_a_configured_server_the_run_goes_in_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        route = cycle_cli.find_route("monthly_analysis/monthly-analysis")
    assert not route.use_server and "未配置 Prefect 服务器" in route.reason


def test_an_unreachable_server_sends_the_run_in_process_on_an_ephemeral_server() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        route = cycle_cli.find_route("monthly_analysis/monthly-analysis")
    assert not route.use_server and route.server_down and "无法连接" in route.reason


@pytest.mark.flow
def test_a_flow_that_refuses_its_period_exits_3_with_its_own_words(
    prefect_server: None, assess: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow

    from models.errors import CycleRefused

    @flow(name="monthly_analysis")
    def refusing(period: str | None = None, force: bool = False) -> None:
        raise CycleRefused(f"{period} 的上传截止日（2026-04-08）尚未过去，届时再运行。")

    monkeypatch.setattr(cycle_cli, "load_flow", lambda _c: refusing)
    ran = assess("cycle", "run", "monthly_analysis", "--period", "2026-03", "--in-process")
    assert ran.code == ExitCode.REFUSED, ran
    assert "按 --in-process 在本进程运行" in ran.out
    assert ran.error_lines == [
        "月分析 2026-03：未运行（2026-03 的上传截止日（2026-04-08）尚未过去，届时再运行。）"
    ]


@pytest.mark.flow
def test_a_flow_that_fails_in_process_is_one_chinese_line_and_exit_code_1(
    prefect_server: None, assess: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import flow

    @flow(name="quarterly_monitoring")
    def failing(period: str | None = None, force: bool = False) -> None:
        raise RuntimeError("the negative list broke")

    monkeypatch.setattr(cycle_cli, "load_flow", lambda _c: failing)
    ran = assess("cycle", "run", "quarterly_monitoring", "--period", "2026-Q1", "--in-process")
    assert ran.code == ExitCode.INTERNAL, ran
    assert ran.error_lines == [
        "季度监测 2026-Q1：失败（内部错误（RuntimeError：the negative list broke）"
        "（加 --debug 或设 ASSESS_DEBUG=1 查看详情））"
    ]
