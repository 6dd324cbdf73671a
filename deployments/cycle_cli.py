"""``assess cycle run CYCLE --period P [--force|--preview]``: one cycle for a chosen period.

Through the cycle's deployment when a Prefect server is configured, reachable and holds
it (the run is then the scheduled flow's, on the workers); in this process otherwise.
The outcome is printed in Chinese and its exit code says what happened (see
``deployments.cli_errors``): 0 done, 3 refused (not yet due, or another run holds the
period), 1 the run failed.

``--force`` and ``--preview`` are passed to the flow by name, and only when given; a
flow that has no ``preview`` parameter is refused with a Chinese line, never called.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from deployments.cli_errors import ExitCode, OfficeGroup, describe_error, is_debug
from deployments.timetable import CYCLE_LABELS
from models.errors import InputError, NotFoundError
from models.rules import Cycle, Period
from models.user_input import parse_period_text

cycle_app = typer.Typer(
    cls=OfficeGroup,
    help="按期次运行考核周期（月分析、季度监测、半年评估、年度考核、截止前提醒）。\n\n"
    "例：assess cycle run monthly_analysis --period 2026-03",
    no_args_is_help=True,
)


@cycle_app.callback()
def _group() -> None:
    """按期次运行考核周期。例：assess cycle run monthly_analysis --period 2026-03"""


CYCLE_HELP = "周期名称：" + "、".join(f"{k}（{v}）" for k, v in CYCLE_LABELS.items())
REFUSED_STATE_NAMES = frozenset({"Refused", "NotDue", "Busy", "Skipped"})
"""Final state names a cycle flow ends in when it may not run now (exit code 3)."""
_REFUSED_MESSAGE = re.compile(
    r"already (running|queued)\b|\bnot (yet )?due\b|\bheld by another\b|CycleRefused", re.I
)
"""Messages of a run that did not run: another holds the period, or it is not yet due."""

MAX_MESSAGE = 300
"""Characters of a run's own (English) message shown on the outcome line."""

STATE_LABELS: dict[str, str] = {
    "COMPLETED": "已完成",
    "FAILED": "失败",
    "CRASHED": "崩溃",
    "CANCELLED": "已取消",
    "CANCELLING": "正在取消",
    "PAUSED": "已暂停",
    "SCHEDULED": "已排期",
    "PENDING": "等待中",
    "RUNNING": "运行中",
}
_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\S+ analysed$"), "分析完成"),
    (re.compile(r"already completed"), "该期次此前已完成，未重复运行（需要重跑请加 --force）"),
    (re.compile(r"already partial"), "该期次此前已部分完成（平台不可用），可加 --force 重跑"),
    (re.compile(r"already (running|queued)"), "另一运行正在处理该期次，请等它结束后再试"),
    (re.compile(r"^platform unavailable: (.*)$"), r"考核信息平台不可用，部分完成：\1"),
    (re.compile(r"^.*\bCycleRefused: (.*)$"), r"\1"),  # the refusal's own (Chinese) words
)


def cycle_names() -> str:
    return "、".join(f"{c.value}（{CYCLE_LABELS[c.value]}）" for c in Cycle)


def parse_cycle(name: str) -> Cycle:
    """The cycle called ``name``; ``NotFoundError`` listing the cycles otherwise."""
    try:
        return Cycle(name.strip())
    except ValueError:
        raise NotFoundError(f"没有名为“{name}”的考核周期，可选：{cycle_names()}。") from None


def parse_cycle_period(cycle: Cycle, text: str) -> Period:
    """``text`` as the kind of period ``cycle`` assesses (a month for the reminder)."""
    kind = cycle.period_kind
    what = f"{CYCLE_LABELS[cycle.value]}的期次"
    return parse_period_text(text, (kind,), what=what)


def deployment_name(cycle: Cycle, prefect_yaml: Path | None = None) -> str:
    """``monthly_analysis/<name>``: the deployment prefect.yaml defines for the cycle's flow."""
    import yaml

    from deployments.prefect_setup import DEFAULT_PREFECT_YAML
    from flows.backfill_cycles import cycle_deployment

    try:
        doc = yaml.safe_load((prefect_yaml or DEFAULT_PREFECT_YAML).read_text(encoding="utf-8"))
    except OSError:
        doc = None
    for entry in (doc or {}).get("deployments") or []:
        if str(entry.get("entrypoint", "")).endswith(f":{cycle.value}") and entry.get("name"):
            return f"{cycle.value}/{entry['name']}"
    return cycle_deployment(cycle)


@dataclass(frozen=True)
class CycleOutcome:
    """How a cycle run ended: its final state's type, name and message."""

    state_type: str
    state_name: str
    message: str
    refused_by_exception: bool = False
    detail: str = ""
    """The failure in Chinese, when the exception itself came back (in-process runs)."""

    @property
    def exit_code(self) -> ExitCode:
        if self.refused:
            return ExitCode.REFUSED
        return ExitCode.OK if self.state_type == "COMPLETED" else ExitCode.INTERNAL

    @property
    def refused(self) -> bool:
        return (
            self.refused_by_exception
            or self.state_name in REFUSED_STATE_NAMES
            or self.state_type == "CANCELLED"
            or bool(_REFUSED_MESSAGE.search(self.message))
        )

    def label(self) -> str:
        if self.state_name == "Partial":
            return "部分完成"
        if self.state_name == "Preview":
            return "预览完成"
        if self.refused:
            return "未运行"
        return STATE_LABELS.get(self.state_type, self.state_name)

    def chinese_message(self) -> str:
        if self.detail:
            return self.detail
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        for pattern, chinese in _MESSAGES:
            if pattern.search(first):
                return pattern.sub(chinese, first) if "\\1" in chinese else chinese
        return first if len(first) <= MAX_MESSAGE else first[:MAX_MESSAGE] + "…"

    def line(self, cycle: Cycle, period: Period) -> str:
        said = self.chinese_message()
        return f"{CYCLE_LABELS[cycle.value]} {period.key}：{self.label()}" + (
            f"（{said}）" if said else ""
        )


def outcome_of_state(state: Any) -> CycleOutcome:
    """A Prefect ``State`` as a ``CycleOutcome`` (an in-process ``CycleRefused`` counts)."""
    from models.errors import CycleRefused

    raised: object = None
    if state.is_failed():
        try:
            raised = state.result(raise_on_failure=False)
        except Exception:  # the result may not be retrievable; the message still is
            raised = None
    refused = isinstance(raised, CycleRefused)
    detail = describe_error(raised)[1] if isinstance(raised, Exception) and not refused else ""
    return CycleOutcome(
        state_type=str(getattr(state.type, "value", state.type)),
        state_name=state.name or "",
        message=state.message or "",
        refused_by_exception=refused,
        detail=detail,
    )


def flow_parameters(cycle: Cycle, period: Period, force: bool, preview: bool) -> dict[str, Any]:
    """The run's parameters by name; ``force`` and ``preview`` only when given."""
    if force and preview:
        raise InputError("--force 与 --preview 不能同时使用：预览不记账，重跑要记账，请二选一。")
    parameters: dict[str, Any] = {"period": period.key}
    if force:
        parameters["force"] = True
    if preview:
        if "preview" not in inspect.signature(load_flow(cycle).fn).parameters:
            raise InputError(
                f"当前版本的{CYCLE_LABELS[cycle.value]}不支持预览（--preview），"
                "请去掉 --preview 后运行。"
            )
        parameters["preview"] = True
    return parameters


def load_flow(cycle: Cycle) -> Any:
    """The cycle's flow object (``flows.<cycle>.<cycle>``)."""
    return getattr(importlib.import_module(f"flows.{cycle.value}"), cycle.value)


@dataclass(frozen=True)
class Route:
    """Where a run goes: through the deployment, or here (``server_down``: on an ephemeral
    server, the configured one being unreachable); ``reason`` in Chinese."""

    use_server: bool
    reason: str
    server_down: bool = False


def find_route(name: str) -> Route:
    """Through deployment ``name`` when the configured server is reachable and holds it."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        return Route(False, "未配置 Prefect 服务器（PREFECT_API_URL），在本进程运行")
    down = Route(False, f"Prefect 服务器 {url} 无法连接，在本进程运行", server_down=True)
    try:
        with get_client(sync_client=True) as client:
            if client.api_healthcheck() is not None:
                return down
            client.read_deployment_by_name(name)
    except ObjectNotFound:
        return Route(False, f"Prefect 服务器上没有部署 {name}，在本进程运行")
    except Exception:  # unreachable, refused, timed out: the operator still gets a run
        return down
    waiting = "等待其结束（Ctrl-C 只停止等待）"
    return Route(True, f"经部署 {name} 运行（Prefect 服务器 {url}），{waiting}")


def run_through_deployment(name: str, parameters: dict[str, Any]) -> CycleOutcome:
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    run = run_deployment(name, parameters=parameters, timeout=None, as_subflow=False)
    assert isinstance(run, FlowRun)  # called from synchronous code: the run, not a coroutine
    state = run.state
    if state is None:  # pragma: no cover - a finished run has a state
        return CycleOutcome("UNKNOWN", "", "")
    return outcome_of_state(state)


@contextmanager
def console_without_tracebacks() -> Iterator[None]:
    """While inside, the console's log lines carry no traceback (the Prefect API's keep them).

    Prefect logs a failed task's or flow's exception with its traceback to the console;
    the operator gets the one-line outcome instead, the traceback with ``--debug``.
    """
    consoles = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    for handler in consoles:
        plain_format = handler.format

        def without_traceback(
            record: logging.LogRecord, plain: Callable[[logging.LogRecord], str] = plain_format
        ) -> str:
            bare = copy.copy(record)
            bare.exc_info, bare.exc_text, bare.stack_info = None, None, None
            return plain(bare)

        handler.format = without_traceback  # type: ignore[method-assign]
    try:
        yield
    finally:
        for handler in consoles:
            del handler.format  # back to the class's method


def run_in_process(
    cycle: Cycle, parameters: dict[str, Any], server_down: bool, debug: bool = False
) -> CycleOutcome:
    """Run the flow here; with a configured but unreachable server, on an ephemeral one."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    flow = load_flow(cycle)  # imports Prefect, which sets up its console logging
    ephemeral = temporary_settings(restore_defaults={PREFECT_API_URL})
    with (
        ephemeral if server_down else nullcontext(),
        nullcontext() if debug else console_without_tracebacks(),
    ):
        state = flow(**parameters, return_state=True)
    return outcome_of_state(state)


@cycle_app.command("run")
def run_cycle(
    ctx: typer.Context,
    cycle: Annotated[
        str,
        typer.Argument(help=CYCLE_HELP),
    ],
    period: Annotated[
        str,
        typer.Option(
            help="期次：月分析、截止前提醒写月份 2026-03；季度监测写 2026-Q1；"
            "半年评估写 2026-H1；年度考核写 2026"
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="已完成的期次也重跑（只记差额）")] = False,
    preview: Annotated[
        bool, typer.Option("--preview", help="只计算并展示结果，不记账、不发消息")
    ] = False,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="不经 Prefect 部署，在本进程运行")
    ] = False,
) -> None:
    """运行一个考核周期的一个期次，并用中文报告结果。

    有 Prefect 服务器且已部署该周期时经部署运行（由 worker 执行），否则在本进程运行。
    退出码：0 完成；3 未运行（期次未到期，或另一运行正占用该期次）；1 运行失败；2 输入有误。

    例：assess cycle run monthly_analysis --period 2026-03 --force
    """
    the_cycle = parse_cycle(cycle)
    the_period = parse_cycle_period(the_cycle, period)
    parameters = flow_parameters(the_cycle, the_period, force, preview)
    name = deployment_name(the_cycle)
    route = Route(False, "按 --in-process 在本进程运行") if in_process else find_route(name)
    mode = "（预览，不记账、不发消息）" if preview else ""
    typer.echo(f"{CYCLE_LABELS[the_cycle.value]} {the_period.key}{mode}：{route.reason}。")
    if route.use_server:
        outcome = run_through_deployment(name, parameters)
    else:
        debug = is_debug(ctx)
        outcome = run_in_process(the_cycle, parameters, route.server_down, debug)
    typer.echo(outcome.line(the_cycle, the_period), err=outcome.exit_code is not ExitCode.OK)
    raise typer.Exit(int(outcome.exit_code))


__all__ = ["CycleOutcome", "Route", "cycle_app", "parse_cycle", "run_cycle"]
