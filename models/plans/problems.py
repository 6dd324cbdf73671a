"""Problems found by analysis (rulebook section 5) as pure plans.

The quarterly monitoring opens a problem in the problem ledger (问题台账) for each
unit and indicator that was red or missing in *all three* months of the quarter,
with the next quarter's last upload deadline as its rectification deadline. The
decision is taken as of the quarter: only the quarter's own months' levels count,
so the same quarter gives the same problems whether it is monitored on time or in
a December catch-up. A problem is opened once per (unit, indicator, quarter): a
rerun opens nothing twice.

A problem is closed (销号) by the first later month in which the indicator is green
or yellow (the monthly analysis of that month closes it; a quarterly monitoring
run late closes it at once by the later months already analysed), or by the office
(``flows.close_problem``). A month that is unavailable, orange, red or missing
closes nothing.

No database, Prefect or clock here: the shell passes the levels, the problems that
exist and the deadline.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from models.rules import Level, Period

ANALYSIS_SOURCE = "analysis"
"""``ProblemEntry.source`` of the problems the quarterly monitoring opens."""

FAILING_LEVELS = frozenset({Level.RED.value, Level.MISSING.value})
"""A month in which the indicator counts against the unit for a problem."""

CLEARING_LEVELS = frozenset({Level.GREEN.value, Level.YELLOW.value})
"""A later month that closes the problem."""

_LEVEL_WORDS = {
    Level.GREEN.value: "绿色",
    Level.YELLOW.value: "黄色（提醒）",
    Level.RED.value: "红色（预扣分）",
    Level.MISSING.value: "未按期上传",
}

Pair = tuple[int, int]
"""(unit id, indicator id)."""


@dataclass(frozen=True)
class ProblemToOpen:
    """A problem the quarterly monitoring opens: who, which indicator, until when."""

    unit_id: int
    indicator_id: int
    period: str
    description: str
    rectify_by: date


@dataclass(frozen=True)
class OpenAnalysisProblem:
    """An open problem opened by analysis, as the closing plan needs it."""

    id: int
    unit_id: int
    indicator_id: int
    period: str


@dataclass(frozen=True)
class ProblemClosing:
    """A closing (销号) of an analysis problem by a later month's level."""

    problem_id: int
    month: str
    level: str
    note: str


def _words(level: str) -> str:
    return _LEVEL_WORDS.get(level, level)


def problem_description(indicator_name: str, months: Sequence[str], levels: Sequence[str]) -> str:
    """The problem as the ledger (and the unit's rectification reminder) states it."""
    detail = "，".join(f"{m}：{_words(level)}" for m, level in zip(months, levels, strict=True))
    return (
        f"“{indicator_name}”连续三个月为红色或未按期上传（{detail}），"
        "请分析原因并限期整改，整改期内该指标出现绿色或黄色即自动销号。"
    )


def plan_quarter_problems(
    quarter: Period,
    levels: Mapping[Pair, Mapping[str, str]],
    existing: Collection[Pair],
    rectify_by: date,
    indicator_names: Mapping[int, str],
) -> list[ProblemToOpen]:
    """The problems to open for ``quarter``: pairs red or missing in all its months.

    ``levels`` maps (unit, indicator) to month key → level; only the quarter's
    months are looked at (as of the quarter). ``existing`` holds the pairs that
    already have an analysis problem for this quarter (open or closed): none is
    opened twice. Sorted by unit, then indicator.
    """
    months = [m.key for m in quarter.months()]
    out: list[ProblemToOpen] = []
    for pair in sorted(levels):
        if pair in existing:
            continue
        by_month = levels[pair]
        cells = [by_month.get(m) for m in months]
        if not all(level in FAILING_LEVELS for level in cells):
            continue
        unit_id, indicator_id = pair
        name = indicator_names.get(indicator_id, str(indicator_id))
        description = problem_description(name, months, [str(c) for c in cells])
        out.append(ProblemToOpen(unit_id, indicator_id, quarter.key, description, rectify_by))
    return out


def rectification_month(quarter: Period) -> Period:
    """The month whose upload deadline is a quarter's problems' rectification deadline:
    the next quarter's last month."""
    return quarter.next().months()[-1]


def plan_problem_closures(
    problems: Sequence[OpenAnalysisProblem],
    levels: Mapping[Pair, Mapping[str, str]],
) -> list[ProblemClosing]:
    """Closings of open analysis problems by the first later green or yellow month.

    ``levels`` maps (unit, indicator) to month key → level for the months known;
    only months after the problem's quarter count. Sorted by problem id.
    """
    out: list[ProblemClosing] = []
    for problem in sorted(problems, key=lambda p: p.id):
        after = Period.parse(problem.period).months()[-1]
        by_month = levels.get((problem.unit_id, problem.indicator_id), {})
        for month in sorted(by_month, key=Period.parse):
            if not after < Period.parse(month):
                continue
            level = by_month[month]
            if level in CLEARING_LEVELS:
                note = f"{month} 该指标为{_words(level)}，按规则自动销号。"
                out.append(ProblemClosing(problem.id, month, level, note))
                break
    return out
