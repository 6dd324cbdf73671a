"""Scores, ranks, grades and the annual settlement as pure plans (rulebook section 6).

``plan_results`` turns units, indicators and the deduction ledger's current sums
into each unit's running score, rank inside its category and (annual only) grade.
``plan_settlement`` decides the entries that settle the pre-deductions into the
final deductions on December's completions. ``quarterly_trend`` counts red or
missing cells per category and month. Nothing here reads a database or the clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from models.plans.monthly import IndicatorSnap, UnitSnap, applies
from models.rules import (
    DEFAULT_RULES,
    MISSING,
    Grade,
    Level,
    YearRules,
    final_deduction,
    grades,
    rank_competition,
    round_points,
    running_score,
    settle,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class UnitResult:
    """A unit's score at a cycle: W, D, score, rank in its category, grade (annual only)."""

    unit_id: int
    category: str
    total_weight: Decimal
    deductions: Decimal
    score: Decimal
    rank: int
    grade: Grade | None = None


@dataclass(frozen=True)
class DecemberCell:
    """December's assessed state of a (unit, indicator): its level and completion."""

    level: str
    completion: Decimal | None


@dataclass(frozen=True)
class Settlement:
    """One settling entry: ``amount = final − current`` for a (unit, indicator)."""

    unit_id: int
    indicator_id: int
    amount: Decimal
    final: Decimal
    current: Decimal
    level: str
    completion: Decimal | None


def plan_results(
    units: Sequence[UnitSnap],
    indicators: Sequence[IndicatorSnap],
    ledger_sums: Mapping[tuple[int, int], Decimal],
    rules: YearRules = DEFAULT_RULES,
    *,
    with_grades: bool = False,
    with_data: Collection[tuple[int, int]] | None = None,
) -> list[UnitResult]:
    """Each unit's running score ``100 × (W − D) / W``, its rank and, when asked, its grade.

    W is the sum of the unit's applicable indicator weights, D the sum of the current
    deductions of those indicators. ``with_data``, when given, holds the (unit,
    indicator) pairs with platform data in some month of the period: an indicator
    unavailable all period long counts in neither W nor D (rulebook section 6). A unit
    with no such indicator has no score and is left out of the results, ranks and
    grades (``data_gaps`` lists it for the office).
    """
    weights: dict[int, Decimal] = {}
    deductions: dict[int, Decimal] = {}
    category: dict[int, str] = {}
    for unit in units:
        w = ZERO
        d = ZERO
        for indicator in indicators:
            if applies(indicator, unit) and (
                with_data is None or (unit.id, indicator.id) in with_data
            ):
                w += indicator.weight
                d += ledger_sums.get((unit.id, indicator.id), ZERO)
        if w <= ZERO:
            continue
        weights[unit.id] = w
        deductions[unit.id] = round_points(d)
        category[unit.id] = unit.category
    scores = {u: running_score(weights[u], deductions[u]) for u in weights}
    by_category: dict[str, dict[int, Decimal]] = defaultdict(dict)
    for unit_id, score in scores.items():
        by_category[category[unit_id]][unit_id] = score
    ranks: dict[int, int] = {}
    unit_grades: dict[int, Grade] = {}
    for members in by_category.values():
        ranks.update(rank_competition(members))
        if with_grades:
            unit_grades.update(grades(members, rules))
    return [
        UnitResult(
            unit_id=u,
            category=category[u],
            total_weight=weights[u],
            deductions=deductions[u],
            score=scores[u],
            rank=ranks[u],
            grade=unit_grades.get(u) if with_grades else None,
        )
        for u in sorted(weights, key=lambda u: (category[u], ranks[u], u))
    ]


def plan_settlement(
    december: Mapping[tuple[int, int], DecemberCell],
    weights: Mapping[int, Decimal],
    ledger_sums: Mapping[tuple[int, int], Decimal],
    rules: YearRules = DEFAULT_RULES,
) -> list[Settlement]:
    """The entries settling each (unit, indicator)'s pre-deductions into its final deduction.

    Final deduction: ``round(weight × (1 − min(c, 1)), 2)`` on December's completion,
    the full weight when December's value is missing. An unavailable December keeps
    the current sum (no entry); a zero difference books nothing. ``december`` holds
    December's assessed cells (every applicable pair once December is analysed).
    """
    out: list[Settlement] = []
    for (unit_id, indicator_id), cell in sorted(december.items()):
        if cell.level == Level.UNAVAILABLE.value:
            continue
        weight = weights.get(indicator_id)
        if weight is None or weight <= ZERO:
            continue
        if cell.level == Level.MISSING.value or cell.completion is None:
            final = final_deduction(weight, MISSING, rules)
        else:
            final = final_deduction(weight, cell.completion, rules)
        current = ledger_sums.get((unit_id, indicator_id), ZERO)
        amount = round_points(settle(current, final))
        if amount == ZERO:
            continue
        out.append(
            Settlement(unit_id, indicator_id, amount, final, current, cell.level, cell.completion)
        )
    return out


def apply_settlement(
    ledger_sums: Mapping[tuple[int, int], Decimal], settlements: Sequence[Settlement]
) -> dict[tuple[int, int], Decimal]:
    """The ledger's sums once ``settlements`` are booked."""
    sums = dict(ledger_sums)
    for s in settlements:
        key = (s.unit_id, s.indicator_id)
        sums[key] = round_points(sums.get(key, ZERO) + s.amount)
    return sums


@dataclass(frozen=True)
class AnnualPlan:
    """The year's settlement entries and the final results they give."""

    settlements: list[Settlement]
    results: list[UnitResult]


def plan_annual(
    units: Sequence[UnitSnap],
    indicators: Sequence[IndicatorSnap],
    december: Mapping[tuple[int, int], DecemberCell],
    ledger_sums: Mapping[tuple[int, int], Decimal],
    rules: YearRules = DEFAULT_RULES,
    with_data: Collection[tuple[int, int]] | None = None,
) -> AnnualPlan:
    """Settle the pre-deductions on December's completions, then score, rank and grade
    (``with_data``: see ``plan_results``)."""
    weights = {i.id: i.weight for i in indicators}
    settlements = plan_settlement(december, weights, ledger_sums, rules)
    final_sums = apply_settlement(ledger_sums, settlements)
    results = plan_results(
        units, indicators, final_sums, rules, with_grades=True, with_data=with_data
    )
    return AnnualPlan(settlements, results)


NO_PLATFORM_DATA = "无平台数据"


@dataclass(frozen=True)
class DataGap:
    """A unit's indicators with no platform data all period long (rulebook section 6).

    ``scored`` is False when the unit has no indicator with data left: it gets no
    score, rank or grade, and the office decides.
    """

    unit_id: int
    unit_code: str
    unit_name: str
    category: str
    indicators: tuple[str, ...]
    scored: bool


def data_gaps(
    units: Sequence[UnitSnap],
    indicators: Sequence[IndicatorSnap],
    with_data: Collection[tuple[int, int]],
) -> list[DataGap]:
    """Per unit (by code), its applicable indicators without platform data in the period."""
    out: list[DataGap] = []
    for unit in sorted(units, key=lambda u: u.code):
        mine = [i for i in indicators if applies(i, unit)]
        lacking = [i for i in mine if (unit.id, i.id) not in with_data]
        if not lacking:
            continue
        names = tuple(f"{i.name}（{i.code}）" for i in sorted(lacking, key=lambda i: i.code))
        scored = len(lacking) < len(mine)
        out.append(DataGap(unit.id, unit.code, unit.name, unit.category, names, scored))
    return out


def gap_rows(gaps: Sequence[DataGap], labels: Mapping[str, str]) -> list[dict[str, object]]:
    """One row per unit with a gap (Chinese headers), for the office to decide."""
    return [
        {
            "类别": labels.get(g.category, g.category),
            "单位": f"{g.unit_name}（{g.unit_code}）",
            "状态": NO_PLATFORM_DATA,
            "无平台数据的指标": "、".join(g.indicators),
            "处理": "不计入权重，其余指标照常计分"
            if g.scored
            else "不计分、不参与排名和定等，待考核办决定",
        }
        for g in gaps
    ]


def gaps_markdown(gaps: Sequence[DataGap], labels: Mapping[str, str]) -> str:
    """The report's section listing the units and indicators with no platform data."""
    unscored = sum(1 for g in gaps if not g.scored)
    lines = [
        "",
        f"## {NO_PLATFORM_DATA}（待考核办决定）",
        "",
        "- 整个期间平台均无数据的指标不计入总权重和扣分；没有任何有数据指标的单位不计分、"
        "不参与排名和定等，列出待考核办决定。",
        f"- 涉及单位 {len(gaps)} 个，其中不计分单位 {unscored} 个。",
        "",
    ]
    return "\n".join(lines + _table(gap_rows(gaps, labels))) + "\n"


def gaps_summary(gaps: Sequence[DataGap]) -> dict[str, list[str]]:
    """For a run's summary: units without a score, units with indicators out of weight."""
    return {
        "no_platform_data": [g.unit_code for g in gaps if not g.scored],
        "indicators_without_data": [g.unit_code for g in gaps if g.scored],
    }


def quarterly_trend(
    units: Sequence[UnitSnap],
    months: Sequence[str],
    levels: Mapping[tuple[int, str], Sequence[str]],
) -> list[dict[str, object]]:
    """Per category and month of the quarter: red cells, missing cells, cells assessed.

    ``levels`` maps (unit, month) to that unit's cell levels in the month; an
    unavailable cell is counted apart (never the unit's failing).
    """
    category = {u.id: u.category for u in units}
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"red": 0, "missing": 0, "unavailable": 0, "cells": 0}
    )
    for (unit_id, month), cells in levels.items():
        if unit_id not in category or month not in months:
            continue
        row = counts[(category[unit_id], month)]
        for level in cells:
            row["cells"] += 1
            if level == Level.RED.value:
                row["red"] += 1
            elif level == Level.MISSING.value:
                row["missing"] += 1
            elif level == Level.UNAVAILABLE.value:
                row["unavailable"] += 1
    out: list[dict[str, object]] = []
    for code in sorted({c for c, _ in counts}):
        for month in months:
            if (code, month) not in counts:
                continue
            row = counts[(code, month)]
            out.append({"category": code, "month": month, **row})
    return out


def _table(rows: Sequence[Mapping[str, object]]) -> list[str]:
    if not rows:
        return ["（无）"]
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in rows]
    return lines


def result_rows(
    results: Sequence[UnitResult], names: Mapping[int, str], labels: Mapping[str, str]
) -> list[dict[str, object]]:
    """One row per unit (Chinese headers): category, rank, score, W, D, grade."""
    rows: list[dict[str, object]] = []
    for r in results:
        row: dict[str, object] = {
            "类别": labels.get(r.category, r.category),
            "单位": names.get(r.unit_id, str(r.unit_id)),
            "排名": r.rank,
            "得分": str(r.score),
            "总权重": str(r.total_weight),
            "扣分": str(r.deductions),
        }
        if r.grade is not None:
            row["等次"] = r.grade.label
        rows.append(row)
    return rows


def results_markdown(
    title: str,
    results: Sequence[UnitResult],
    names: Mapping[int, str],
    labels: Mapping[str, str],
    notes: Sequence[str] = (),
) -> str:
    """A results report in Chinese: notes, then one table per category."""
    lines = [f"# {title}", ""]
    lines += [f"- {n}" for n in notes]
    by_category: dict[str, list[UnitResult]] = defaultdict(list)
    for r in results:
        by_category[r.category].append(r)
    for code, members in by_category.items():
        lines += ["", f"## {labels.get(code, code)}", ""]
        lines += _table(result_rows(members, names, labels))
    return "\n".join(lines) + "\n"


def trend_markdown(
    title: str,
    trend: Sequence[Mapping[str, object]],
    on_list: Sequence[str],
    labels: Mapping[str, str],
) -> str:
    """The quarterly monitoring report in Chinese: trend table and the negative list."""
    rows = [
        {
            "类别": labels.get(str(t["category"]), str(t["category"])),
            "月份": t["month"],
            "预扣分（红色）": t["red"],
            "未按期上传": t["missing"],
            "数据暂不可用": t["unavailable"],
            "评估单元格": t["cells"],
        }
        for t in trend
    ]
    lines = [f"# {title}", "", "## 红色与未上传趋势", ""]
    lines += _table(rows)
    lines += ["", f"## 负面清单复核（当前在列 {len(on_list)} 个单位）", ""]
    lines += [f"- {name}" for name in on_list] or ["（无单位在列）"]
    return "\n".join(lines) + "\n"
