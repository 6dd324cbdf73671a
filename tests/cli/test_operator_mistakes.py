"""Twenty-odd typical operator mistakes: each is one Chinese line and exit code 2, never a
traceback; ``--debug`` (or ``ASSESS_DEBUG=1``) shows the traceback; a bug is exit code 1."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from deployments.cli_errors import ExitCode
from tests.fixtures.cli import Ran

CHINESE = re.compile(r"[\u4e00-\u9fff]")

# (what the operator typed, a fragment the one line must hold: what was wrong or how to write it)
MISTAKES: list[tuple[list[str], str]] = [
    (["calendar", "--year", "26"], "请写四位年份，如 2026"),
    (["calendar", "--year", "二〇二六"], "选项 --year 的值应为整数，例如 --year 2026"),
    (["calendar", "--yaer", "2026"], "没有选项 --yaer，您是否想用 --year"),
    (["calendar"], "缺少选项 --year，例如 --year 2026"),
    (["calendar", "--year"], "选项 --year 需要一个值"),
    (["calendar", "--year", "2026", "2027"], "多余的参数：2027"),
    (["calender", "--year", "2026"], "没有命令“calender”。您是否想用 calendar？"),
    (["outbox", "--day", "2026-13-01"], "日期“2026-13-01”不存在"),
    (["outbox", "--day", "2026/03/15"], "请写成 2026-03-15"),
    (
        ["share", "export", "--recipient", "inspection", "--period", "2026-9", "s.xlsx"],
        "统计月份“2026-9”写法不对：月份请写成 2026-09",
    ),
    (
        ["share", "export", "--recipient", "police", "--period", "2026-09", "s.xlsx"],
        "未知的接收方“police”",
    ),
    (["share", "changes", "--since", "2026/10/01"], "请写成 2026-10-01"),
    (["onsite", "export", "--period", "2026Q3", "plan.xlsx"], "季度请写成 2026-Q3"),
    (
        ["onsite", "export", "--period", "2026-09", "plan.xlsx"],
        "是月份，这里需要季度（如 2026-Q3）",
    ),
    (["results", "export", "--year", "2026", "results.pdf"], "不支持的文件格式“.pdf”"),
    (["catalog", "import", "目录2026.xlsx"], "找不到考核目录文件“目录2026.xlsx”"),
    (["catalog", "import", "catalog.csv"], "请使用 .xlsx 或 .yaml"),
    (["catalog", "change", "修订.xlsx", "--effective", "2026-07"], "缺少选项 --document"),
    (
        [
            "catalog",
            "change",
            "修订.xlsx",
            "--document",
            "青考办〔2026〕12号",
            "--effective",
            "2026-7",
        ],
        "找不到考核目录文件“修订.xlsx”",
    ),
    (["catalog", "export", "a.xlsx", "--as-of", "2026-Q2"], "这里需要月份"),
    (["cycle", "run", "monthly", "--period", "2026-03"], "monthly_analysis（月分析）"),
    (["cycle", "run", "monthly_analysis"], "缺少选项 --period，例如 --period 2026-03"),
    (["cycle", "run", "monthly_analysis", "--period", "2026-13"], "月份只有 01 到 12"),
    (
        ["cycle", "run", "quarterly_monitoring", "--period", "2026-03"],
        "季度监测的期次“2026-03”是月份，这里需要季度",
    ),
    (["cycle", "run", "half_year_evaluation", "--period", "2026-H3"], "半年只有 H1、H2"),
    (
        ["cycle", "run", "monthly_analysis", "--period", "2026-03", "--force", "--preview"],
        "--force 与 --preview 不能同时使用",
    ),
    (["problems", "close", "第3号"], "参数 PROBLEM_ID 的值应为整数"),
    (["explain", "C01", "fai", "2026-Q1"], "不是月份，请写成 2026-03"),
    (["report", "burden", "--year", "202"], "请写四位年份"),
    (["deployments", "render", "--years", "27", "--check"], "年份“27”不对"),
]


def assert_one_chinese_line(ran: Ran, fragment: str) -> None:
    assert ran.code == ExitCode.USER, ran
    assert "Traceback" not in ran.out + ran.err, ran.err
    assert len(ran.error_lines) == 1, ran.err
    line = ran.error_lines[0]
    assert line.startswith("错误：") and CHINESE.search(line.removeprefix("错误：")), line
    assert fragment in line, line


@pytest.fixture
def nowhere_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A database URL no mistake may reach: the mistake is caught before any data is read."""
    monkeypatch.setenv("ASSESS_DATABASE_URL", f"sqlite:///{tmp_path / 'absent' / 'no.db'}")


@pytest.mark.parametrize(("argv", "fragment"), MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_a_typical_mistake_is_one_chinese_line_and_exit_code_2(
    assess: Callable[..., Ran], nowhere_db: None, argv: list[str], fragment: str
) -> None:
    assert_one_chinese_line(assess(*argv), fragment)


ENVIRONMENT_MISTAKES: list[tuple[str, str, str]] = [
    ("ASSESS_BATCH_CONCURRENCY", "many", "环境变量 ASSESS_BATCH_CONCURRENCY 的值不对"),
    ("ASSESS_DATABASE_URL", "assessment.db", "ASSESS_DATABASE_URL 写法不对"),
    ("ASSESS_DATABASE_URL", "postgres://assess@db/assessment", "postgresql+psycopg://"),
]


@pytest.mark.parametrize(("variable", "value", "fragment"), ENVIRONMENT_MISTAKES)
def test_a_mistyped_setting_is_one_chinese_line_and_exit_code_2(
    assess: Callable[..., Ran],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    fragment: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert_one_chinese_line(assess("outbox", "--day", "2026-03-16"), fragment)


def test_the_list_holds_at_least_twenty_distinct_mistakes() -> None:
    assert len({tuple(argv) for argv, _ in MISTAKES}) >= 20


@pytest.mark.db
@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["explain", "X99", "fai", "2026-03"], "单位编码“X99”不存在"),
        (["problems", "close", "4242", "--note", "已整改"], "问题编号 4242 不存在"),
        (
            ["results", "record-use", "C01", "--year", "2026", "--use", "promotion"],
            "未知的结果运用方向“promotion”",
        ),
        (["results", "export", "--year", "2026", "results.xlsx"], "尚无考核结果"),
    ],
)
def test_a_code_or_id_the_data_does_not_hold_is_one_chinese_line_and_exit_code_2(
    assess: Callable[..., Ran], db_env: Engine, argv: list[str], fragment: str
) -> None:
    assert_one_chinese_line(assess(*argv), fragment)


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "calendar", "--year", "26"],
        ["calendar", "--year", "26", "--debug"],
    ],
)
def test_debug_anywhere_on_the_line_adds_the_traceback_and_keeps_the_code(
    assess: Callable[..., Ran], argv: list[str]
) -> None:
    ran = assess(*argv)
    assert ran.code == ExitCode.USER
    assert "Traceback" in ran.err and "InputError" in ran.err
    assert ran.error_lines[-1] == "错误：年份“26”不对：请写四位年份，如 2026。"


def test_assess_debug_in_the_environment_adds_the_traceback(
    assess: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESS_DEBUG", "1")
    ran = assess("outbox", "--day", "2026-02-30")
    assert ran.code == ExitCode.USER and "Traceback" in ran.err


def test_a_bug_is_one_line_and_exit_code_1_without_a_traceback(
    assess: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    import deployments.timetable

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the timetable broke")

    monkeypatch.setattr(deployments.timetable, "timetable_rows", broken)
    ran = assess("calendar", "--year", "2026")
    assert ran.code == ExitCode.INTERNAL
    assert ran.error_lines == [
        "错误：内部错误（RuntimeError：the timetable broke）"
        "（加 --debug 或设 ASSESS_DEBUG=1 查看详情）"
    ]


def test_ctrl_c_exits_130_with_one_line(
    assess: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    import deployments.timetable

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(deployments.timetable, "timetable_rows", interrupted)
    ran = assess("calendar", "--year", "2026")
    assert ran.code == ExitCode.INTERRUPTED and ran.error_lines == ["错误：已中断。"]


def _command_paths() -> list[list[str]]:
    """Every command and group of ``assess``, as the words that name it."""
    import typer

    from deployments.cli import app

    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        commands = getattr(command, "commands", {})
        for name, sub in sorted(commands.items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


COMMAND_PATHS = _command_paths()


def test_every_command_of_the_office_is_walked() -> None:
    assert ["cycle", "run"] in COMMAND_PATHS and ["share", "export"] in COMMAND_PATHS
    assert len(COMMAND_PATHS) > 25


PATH_IDS = [" ".join(("assess", *p)) for p in COMMAND_PATHS]


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=PATH_IDS)
def test_every_help_is_chinese_with_an_example(assess: Callable[..., Ran], path: list[str]) -> None:
    ran = assess(*path, "--help")
    assert ran.code == ExitCode.OK
    assert "例：assess " in ran.out, ran.out
    assert "显示本帮助并退出" in ran.out and "Show this message" not in ran.out
