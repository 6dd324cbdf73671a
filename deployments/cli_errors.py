"""Errors to exit codes and one Chinese line each: the one place the ``assess`` command maps them.

=====  ===========================================================================
code   meaning
=====  ===========================================================================
0      done
1      internal error (a bug, the database or the platform unreachable): one line,
       the traceback only with ``--debug`` or ``ASSESS_DEBUG=1``
2      the user's mistake (``models.errors.OfficeError``, a misspelt period, date,
       option or command, a missing file): one line saying how to write it
3      a cycle refused to run now (not yet due, or another run holds the period)
130    interrupted (Ctrl-C)
=====  ===========================================================================

Every command group of the CLI is an ``OfficeGroup``: whatever a command raises is
turned into its line and exit code here, so the sub-apps behave the same whether run
through ``assess`` or on their own (as the tests do).
"""

from __future__ import annotations

import difflib
import os
import re
import traceback
from enum import IntEnum

import typer
from typer import _click as click  # typer 0.29 vendors click: its exceptions and context
from typer._click import exceptions as cx
from typer.core import TyperArgument, TyperGroup, TyperOption

from models.catalog.revision import CatalogChangeRefused
from models.catalog.schema import CatalogError
from models.errors import CycleRefused, OfficeError
from models.rules import PeriodError
from models.rules.workdays import CalendarOverrideError
from models.rules.yearrules import YearRulesError

__all__ = [
    "DEBUG_ENV",
    "ExitCode",
    "OfficeGroup",
    "describe_error",
    "is_debug",
    "report_error",
    "usage_message",
]

DEBUG_ENV = "ASSESS_DEBUG"


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USER = 2
    REFUSED = 3
    INTERRUPTED = 130


PARAM_EXAMPLES: dict[str, str] = {
    "period": "2026-03",
    "year": "2026",
    "years": "2026",
    "day": "2026-03-15",
    "since": "2026-10-01",
    "unit": "C01",
    "indicator": "fai",
    "cycle": "monthly_analysis",
    "file": "结果.xlsx",
    "recipient": "inspection",
    "use": "appointment",
    "problem_id": "12",
    "note": "已整改",
    "document": "青考办〔2026〕12号",
    "effective": "2026-07",
    "as_of": "2026-05",
}
"""An example value per parameter name, for 'missing option' messages."""


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


Param = TyperOption | TyperArgument
_PYDANTIC_EXPECTED: tuple[tuple[str, str], ...] = (
    ("valid integer", "应为整数"),
    ("valid number", "应为数字"),
    ("valid boolean", "应为 true 或 false"),
    ("valid date", "应为日期 YYYY-MM-DD"),
)


def _param_hint(param: object) -> str:
    if isinstance(param, TyperOption):
        return f"选项 {max(param.opts, key=len)}"
    if isinstance(param, TyperArgument):
        return f"参数 {(param.name or '').upper()}"
    return "参数"


def _example(param: object) -> str:
    name = getattr(param, "name", None)
    if name not in PARAM_EXAMPLES:
        return ""
    value = PARAM_EXAMPLES[str(name)]
    if isinstance(param, TyperOption):
        return f"，例如 {max(param.opts, key=len)} {value}"
    return f"，例如 {value}"


def _expected(message: str) -> str:
    for phrase, chinese in _PYDANTIC_EXPECTED:
        if phrase in message:
            return chinese
    if m := re.match(r"Input should be (.+)$", message.strip()):
        choices = re.findall(r"'([^']*)'", m.group(1))
        if choices:
            return "只能是 " + "、".join(choices)
    return "写法不对"


def _help_hint(ctx: click.Context | None) -> str:
    return f"（用法见 {ctx.command_path} --help）" if ctx is not None else ""


def usage_message(exc: cx.UsageError) -> str:
    """A usage error (unknown command or option, missing or bad value) in Chinese."""
    ctx = exc.ctx
    hint = _help_hint(ctx)
    if isinstance(exc, cx.NoSuchOption):
        maybe = f"，您是否想用 {'、'.join(exc.possibilities)}" if exc.possibilities else ""
        return f"没有选项 {exc.option_name}{maybe}。{hint}"
    if isinstance(exc, cx.MissingParameter):
        return f"缺少{_param_hint(exc.param)}{_example(exc.param)}。{hint}"
    if isinstance(exc, cx.BadParameter):
        param = exc.param
        return f"{_param_hint(param)} 的值{_expected(exc.message)}{_example(param)}。{hint}"
    message = exc.message
    if m := re.match(r"No such command '(.+?)'", message):
        name = m.group(1)
        group = ctx.command if ctx is not None else None
        commands = group.list_commands(ctx) if isinstance(group, TyperGroup) and ctx else []
        close = difflib.get_close_matches(name, commands, n=1)
        maybe = f"您是否想用 {close[0]}？" if close else ""
        return f"没有命令“{name}”。{maybe}可用命令：{'、'.join(commands)}。"
    if m := re.match(r"Got unexpected extra arguments?(?:\(s\))? \((.+)\)", message):
        return f"多余的参数：{m.group(1)}。{hint}"
    if m := re.match(r"Option '(.+)' requires an argument", message):
        value = PARAM_EXAMPLES.get(m.group(1).lstrip("-").replace("-", "_"))
        example = f"，例如 {m.group(1)} {value}" if value else ""
        return f"选项 {m.group(1)} 需要一个值{example}。{hint}"
    if m := re.match(r"Option '(.+)' does not take a value", message):
        return f"选项 {m.group(1)} 不带值。{hint}"
    return f"用法不对：{_one_line(message)}{hint}"


def describe_error(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one Chinese line (the catalog's problems follow it) for ``exc``."""
    if isinstance(exc, KeyboardInterrupt | typer.Abort):
        return ExitCode.INTERRUPTED, "已中断。"
    if isinstance(exc, CycleRefused):
        return ExitCode.REFUSED, _one_line(str(exc))
    if isinstance(exc, OfficeError):
        return ExitCode.USER, _one_line(str(exc))
    if isinstance(exc, cx.UsageError):
        return ExitCode.USER, usage_message(exc)
    if isinstance(exc, CatalogChangeRefused):
        return ExitCode.USER, str(exc)
    if isinstance(exc, CatalogError):
        listed = str(exc).split("\n", 1)[1] if "\n" in str(exc) else ""
        head = f"目录文件未导入：共 {len(exc.problems)} 处问题，请全部修正后再导入。"
        return ExitCode.USER, f"{head}\n{listed}" if listed else head
    if isinstance(exc, PeriodError):
        return ExitCode.USER, (
            "期次写法不对：月份写 2026-03，季度写 2026-Q3，半年写 2026-H1，年度写 2026。"
        )
    if isinstance(exc, CalendarOverrideError):
        return (
            ExitCode.USER,
            f"工作日调整文件（ASSESS_CALENDAR_OVERRIDES）有误：{_one_line(str(exc))}",
        )
    if isinstance(exc, YearRulesError):
        return ExitCode.USER, f"年度规则有误：{_one_line(str(exc))}"
    if (settings := _settings_fields(exc)) is not None:
        return ExitCode.USER, f"环境变量 {settings} 的值不对，请按 README“Settings”一节设置。"
    if _is_database_url_error(exc):
        return ExitCode.USER, (
            "环境变量 ASSESS_DATABASE_URL 写法不对：如 sqlite:///data/assessment.db "
            "或 postgresql+psycopg://用户@主机/库名。"
        )
    if isinstance(exc, IsADirectoryError):
        return ExitCode.USER, f"“{exc.filename}”是文件夹，请给出文件名。"
    if isinstance(exc, FileNotFoundError):
        return ExitCode.USER, f"找不到文件或文件夹“{exc.filename}”。"
    if isinstance(exc, PermissionError):
        return ExitCode.USER, f"没有权限读写“{exc.filename}”。"
    return ExitCode.INTERNAL, _internal_message(exc)


def _settings_fields(exc: BaseException) -> str | None:
    """``ASSESS_X, ASSESS_Y`` when ``exc`` is the settings refusing the environment."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError) or exc.title != "Settings":
        return None
    names = {f"ASSESS_{str(e['loc'][0]).upper()}" for e in exc.errors() if e.get("loc")}
    return "、".join(sorted(names)) or "ASSESS_*"


def _is_database_url_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import ArgumentError

    if not isinstance(exc, ArgumentError):
        return False
    return "URL" in str(exc) or "sqlalchemy.dialects" in str(exc)  # unparsable, unknown dialect


def _internal_message(exc: BaseException) -> str:
    from sqlalchemy.exc import OperationalError

    from tasks.platform.errors import PlatformError

    more = f"（加 --debug 或设 {DEBUG_ENV}=1 查看详情）"
    if isinstance(exc, OperationalError):
        return (
            f"数据库不可用或尚未建表：请检查 ASSESS_DATABASE_URL，并运行 assess db upgrade。{more}"
        )
    if isinstance(exc, PlatformError):
        return f"考核信息平台不可用：{_one_line(exc.message)}{more}"
    detail = _one_line(str(exc))[:300]
    return f"内部错误（{type(exc).__name__}{'：' + detail if detail else ''}）{more}"


def is_debug(ctx: click.Context | None = None) -> bool:
    """``--debug`` was given, or ``ASSESS_DEBUG`` is set to a true value."""
    if os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        return True
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and root.params.get("debug"))


def report_error(exc: BaseException, ctx: click.Context | None = None) -> ExitCode:
    """Print ``exc``'s line (and with debug its traceback) on stderr; return its exit code."""
    code, line = describe_error(exc)
    if is_debug(ctx) and not isinstance(exc, cx.UsageError):
        traceback.print_exception(exc)
    typer.echo(f"错误：{line}", err=True)
    return code


HELP_OPTION_TEXT = "显示本帮助并退出。"


def _chinese_help_option(command: click.Command, ctx: click.Context) -> None:
    option = command.get_help_option(ctx)
    if option is not None:
        option.help = HELP_OPTION_TEXT


class OfficeGroup(TyperGroup):
    """A command group whose commands' errors become one Chinese line and an exit code
    (and whose ``--help`` says so in Chinese)."""

    def get_help_option(self, ctx: click.Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION_TEXT
        return option

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _chinese_help_option(command, ctx)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (typer.Exit, cx.NoArgsIsHelpError):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            raise typer.Exit(report_error(exc, ctx)) from None
