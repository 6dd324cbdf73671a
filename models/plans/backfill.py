"""补跑: which periods of a cycle a backfill runs, and the report it publishes. Pure.

- ``cycle_periods``: the cycle's periods from ``first`` to ``last`` (a month key names
  the period it falls in).
- ``pick_periods``: the periods a mode picks, in order, and whether each needs
  ``force``; a period that is not due (``models.rules.due``: the cycle's scheduled
  run for the period's closing month, by the year's rules) is never picked, whatever
  the mode: its values are not due, so every unit would be pre-deducted as missing.
  - ``missing``: no run recorded;
  - ``failed``: a run that failed or completed partially, or a running/queued claim
    older than ``stale_after`` (forced: the claim is abandoned);
  - ``all``: every due period, forced.
- ``backfill_markdown``: the run's report in Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from models.rules import (
    DEFAULT_RULES,
    Cycle,
    Period,
    PeriodKind,
    WorkCalendar,
    YearRules,
    period_range,
)
from models.rules.cycle_runs import CLAIM_STATUSES, RERUN_STATUSES
from models.rules.due import is_due

Mode = Literal["missing", "failed", "all"]
MODE_LABELS: dict[str, str] = {
    "missing": "未运行",
    "failed": "失败、部分完成或卡住",
    "all": "全部（强制重跑）",
}


class RecordedRun(Protocol):
    """What a backfill needs of a recorded run of the cycle for a period."""

    @property
    def status(self) -> str: ...

    @property
    def claimed_at(self) -> datetime: ...


@dataclass(frozen=True)
class BackfillPick:
    """The periods to run in order (each with whether it needs ``force``) and those
    of the range left out because they are not due yet."""

    chosen: tuple[tuple[Period, bool], ...]
    not_due: tuple[Period, ...] = ()

    @property
    def keys(self) -> list[str]:
        return [p.key for p, _ in self.chosen]


def cycle_periods(cycle: Cycle, first: str, last: str) -> list[Period]:
    """The periods of ``cycle`` from ``first`` to ``last``; a month key names its period."""
    kind = cycle.period_kind

    def lift(key: str) -> Period:
        p = Period.parse(key)
        if p.kind is kind:
            return p
        if p.kind is not PeriodKind.MONTH:
            raise ValueError(f"{cycle.value} needs {kind.value} periods or months, not {key!r}")
        return Period(kind, p.year, (p.index - 1) // kind.months_per_period + 1)

    return period_range(lift(first), lift(last))


def pick_periods(
    cycle: Cycle,
    periods: Sequence[Period],
    runs: Mapping[str, RecordedRun],
    mode: Mode,
    now: datetime,
    calendar: WorkCalendar,
    rules: Mapping[int, YearRules],
    stale_after: timedelta,
) -> BackfillPick:
    """The due periods ``mode`` picks among ``periods`` (see the module's docstring).

    ``runs``: the recorded run of each period key; ``rules``: each year's rules (the
    rulebook's defaults for a year not given).
    """
    chosen: list[tuple[Period, bool]] = []
    not_due: list[Period] = []
    for p in periods:
        if not is_due(cycle, p, now, calendar, rules.get(p.year, DEFAULT_RULES)):
            not_due.append(p)
            continue
        run = runs.get(p.key)
        if mode == "all":
            chosen.append((p, True))
        elif mode == "missing":
            if run is None:
                chosen.append((p, False))
        elif run is not None:
            if run.status in RERUN_STATUSES:
                chosen.append((p, False))
            elif run.status in CLAIM_STATUSES and now - run.claimed_at > stale_after:
                chosen.append((p, True))
    return BackfillPick(tuple(chosen), tuple(not_due))


@dataclass(frozen=True)
class BackfillOutcome:
    """One picked period and how its run ended (or that it was only planned)."""

    period: str
    forced: bool
    result: str
    completed: bool = True


def backfill_key(cycle: str, first: str, last: str) -> str:
    """The artifact key of a backfill's report."""
    return f"backfill-{cycle}-{first}-{last}".replace("_", "-").lower()


def backfill_markdown(
    cycle: str,
    first: str,
    last: str,
    mode: Mode,
    *,
    dry_run: bool,
    parallel: bool,
    periods: int,
    pick: BackfillPick,
    outcomes: Sequence[BackfillOutcome],
) -> str:
    """The backfill's report in Chinese: what was asked, picked, left out, and how it ended."""
    keys = pick.keys
    lines = [
        f"# 补跑 {cycle}：{first} 至 {last}",
        "",
        f"- 方式：{MODE_LABELS[mode]}{'（演练，不实际运行）' if dry_run else ''}"
        f"{'，并行交给工作进程（按期次顺序计算）' if parallel else ''}",
        f"- 区间内期次 {periods} 个，选中 {len(keys)} 个：{'、'.join(keys) or '无'}",
    ]
    if pick.not_due:
        lines.append(f"- 尚未到运行时间、未补跑的期次：{'、'.join(p.key for p in pick.not_due)}")
    lines.append("")
    if outcomes:
        lines += ["| 期次 | 强制 | 结果 |", "| --- | --- | --- |"]
        lines += [f"| {o.period} | {'是' if o.forced else '否'} | {o.result} |" for o in outcomes]
    return "\n".join(lines) + "\n"
