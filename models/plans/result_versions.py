"""Result versions: a period's results are restated, never silently rewritten.

A (cycle, period)'s results are kept in versions. Version 1 is the first run's; when
the same period is computed again (a forced rerun, a ruling, a catalog change) and
some unit's result differs from its current one, the rows that differ are added as
the next version, naming its cause (``run:<id>``, ``rerun:<id>``, ``ruling:<id>``)
and its recorded time; the earlier rows stay readable. A unit's current result is
its row of the highest version. Computing the same results again adds nothing.

When a restatement changes a unit's rank or grade, the office gets one message (in
Chinese) listing the changes. Nothing here reads a database or the clock.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from models.plans.results import UnitResult
from models.rules import local_text
from models.rules.due import CYCLE_LABELS_ZH

__all__ = [
    "KIND_RESULT_RESTATED",
    "RankChange",
    "RestatementNotice",
    "ResultVersionPlan",
    "StoredVersionRow",
    "cause_label",
    "current_rows",
    "plan_result_version",
    "restatement_notice",
    "version_history_lines",
]

KIND_RESULT_RESTATED = "result_restated"
"""The outbox kind of the office's message about a restated rank or grade."""

_GRADE_LABELS = {"excellent": "优秀", "good": "良好", "fair": "一般", "poor": "较差"}


@dataclass(frozen=True)
class StoredVersionRow:
    """One stored result row of a (cycle, period)."""

    unit_id: int
    category: str
    score: Decimal
    deductions: Decimal
    total_weight: Decimal
    rank: int
    grade: str | None
    version: int
    cause: str
    recorded_at: datetime

    def same_as(self, r: UnitResult) -> bool:
        grade = None if r.grade is None else r.grade.value
        return (
            self.category,
            self.score,
            self.deductions,
            self.total_weight,
            self.rank,
            self.grade,
        ) == (
            r.category,
            r.score,
            r.deductions,
            r.total_weight,
            r.rank,
            grade,
        )


@dataclass(frozen=True)
class RankChange:
    unit_id: int
    rank_before: int
    rank_after: int
    grade_before: str | None
    grade_after: str | None
    score_before: Decimal
    score_after: Decimal


@dataclass(frozen=True)
class ResultVersionPlan:
    """The rows of the next version (``version``), and the ranks or grades they change."""

    version: int
    cause: str
    rows: tuple[UnitResult, ...]
    changes: tuple[RankChange, ...]

    @property
    def restates(self) -> bool:
        return self.version > 1


def current_rows(rows: Sequence[StoredVersionRow]) -> dict[int, StoredVersionRow]:
    """Each unit's current row: its row of the highest version (the latest recorded of equals)."""
    out: dict[int, StoredVersionRow] = {}
    for row in rows:
        held = out.get(row.unit_id)
        if held is None or (row.version, row.recorded_at) >= (held.version, held.recorded_at):
            out[row.unit_id] = row
    return out


def plan_result_version(
    stored: Sequence[StoredVersionRow], results: Sequence[UnitResult], cause: str
) -> ResultVersionPlan | None:
    """The next version of a period's results, or None when nothing differs from the
    current one (saving the same results again adds nothing)."""
    current = current_rows(stored)
    changed = tuple(r for r in results if (c := current.get(r.unit_id)) is None or not c.same_as(r))
    if not changed:
        return None
    version = max((row.version for row in stored), default=0) + 1
    changes = []
    for r in changed:
        before = current.get(r.unit_id)
        grade = None if r.grade is None else r.grade.value
        if before is not None and (before.rank != r.rank or before.grade != grade):
            changes.append(
                RankChange(
                    r.unit_id, before.rank, r.rank, before.grade, grade, before.score, r.score
                )
            )
    return ResultVersionPlan(version, cause, changed, tuple(changes))


def cause_label(cause: str) -> str:
    """A cause as the office reads it (``ruling:12`` → 申诉裁定 12)."""
    kind, _, ref = cause.partition(":")
    label = {
        "run": "周期运行",
        "rerun": "强制重跑",
        "ruling": "申诉裁定",
        "catalog": "指标目录变更",
    }
    return f"{label.get(kind, kind or '未记录')} {ref}".strip()


def _grade(grade: str | None) -> str:
    return "—" if grade is None else _GRADE_LABELS.get(grade, grade)


@dataclass(frozen=True)
class RestatementNotice:
    subject: str
    markdown: str
    text: str
    html: str
    content_hash: str


def restatement_notice(
    cycle: str,
    period: str,
    plan: ResultVersionPlan,
    units: Mapping[int, tuple[str, str]],
    now: datetime,
) -> RestatementNotice | None:
    """The office's message about the ranks or grades a restatement changed (None if none).

    ``units``: each unit id's (code, name)."""
    if not plan.changes or not plan.restates:
        return None
    label = CYCLE_LABELS_ZH.get(cycle, cycle)
    subject = (
        f"【结果更正】{period} {label}结果第 {plan.version} 版："
        f"{len(plan.changes)} 个单位名次或等次变化"
    )
    head = [
        f"{period} {label}的结果已更正为第 {plan.version} 版，原因：{cause_label(plan.cause)}，"
        f"记录时间 {local_text(now)}（北京时间）。原版本仍可查阅。",
        "",
    ]
    rows = []
    for c in sorted(plan.changes, key=lambda c: units.get(c.unit_id, ("", ""))[0]):
        code, name = units.get(c.unit_id, (str(c.unit_id), ""))
        rows.append(
            f"| {name}（{code}） | {c.score_before} → {c.score_after} | "
            f"{c.rank_before} → {c.rank_after} | "
            f"{_grade(c.grade_before)} → {_grade(c.grade_after)} |"
        )
    table = ["| 单位 | 得分 | 名次 | 等次 |", "| --- | --- | --- | --- |", *rows]
    markdown = "\n".join([*head, *table]) + "\n"
    text = "\n".join([*head, *(r.strip("| ").replace(" | ", "；") for r in rows)]) + "\n"
    body = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line)
    digest = hashlib.sha256(f"{cycle}|{period}|{plan.version}|{markdown}".encode()).hexdigest()
    return RestatementNotice(subject[:300], markdown, text, body, digest)


def version_history_lines(rows: Sequence[StoredVersionRow]) -> list[str]:
    """The period's versions, newest first, as Markdown lines (which one is current)."""
    versions: dict[int, tuple[str, datetime, int]] = {}
    for row in rows:
        cause, at, n = versions.get(row.version, (row.cause, row.recorded_at, 0))
        versions[row.version] = (cause, min(at, row.recorded_at), n + 1)
    if not versions:
        return []
    top = max(versions)
    lines = [
        "| 版本 | 原因 | 记录时间（北京时间） | 更新单位数 | 状态 |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for v in sorted(versions, reverse=True):
        cause, at, n = versions[v]
        state = "当前版本" if v == top else "历史版本"
        when = local_text(at)
        lines.append(f"| 第 {v} 版 | {cause_label(cause)} | {when} | {n} | {state} |")
    return lines
