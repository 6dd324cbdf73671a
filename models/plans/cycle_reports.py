"""What the higher cycles publish: their reports (artifacts) and run summaries. Pure.

The quarterly monitoring, half-year evaluation and annual assessment flows load
their inputs, book their results and hand what this module returns to the
publishing task. The rule prose in the reports (scores, settlement, grades) is
written from the year's rules (``YearRules``), never hard-coded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from models.catalog.vocabulary import CATEGORY_LABELS
from models.plans.annual import SimplificationProposal, proposal_rows, proposals_markdown
from models.plans.burden import BurdenCounts, burden_figures, burden_markdown
from models.plans.monthly import UnitSnap
from models.plans.onsite import onsite_artifact_note
from models.plans.results import (
    DataGap,
    Settlement,
    UnitResult,
    gaps_markdown,
    gaps_summary,
    quarterly_trend,
    result_rows,
    results_markdown,
    trend_markdown,
)
from models.rules import DEFAULT_RULES, Period, PeriodKind, YearRules


@dataclass(frozen=True)
class Publication:
    """One report of a run: artifact key, optional table, Markdown text, title."""

    key: str
    table: list[dict[str, Any]] | None
    markdown: str
    title: str


def _number(value: Decimal) -> str:
    """90 → "90", 92.50 → "92.5": a rule's number as the office writes it."""
    text = f"{value.normalize():f}"
    return text


def _percent(share: Decimal) -> str:
    return f"{_number(share * 100)}%"


# ------------------------------------------------------------------------- rule prose


def grade_rule_text(rules: YearRules = DEFAULT_RULES) -> str:
    """The grade rule as the annual report states it, from the year's rules."""
    return (
        f"等次：优秀（≥{_number(rules.excellent_min_score)}分且居类别前"
        f"{_percent(rules.excellent_top_share)}）、良好（≥{_number(rules.good_min_score)}）、"
        f"一般（≥{_number(rules.fair_min_score)}）、较差（<{_number(rules.fair_min_score)}）"
    )


def settlement_rule_text(rules: YearRules = DEFAULT_RULES) -> str:
    """The final-deduction rule as the annual report states it, from the year's rules."""
    cap = _number(rules.scoring_completion_cap)
    return f"最终扣分 = round(权重 × (1 − min(完成度, {cap})), 2)，按12月完成度；未上传扣全部权重"


def score_rule_text(last_month: Period) -> str:
    """The running-score rule as the half-year report states it."""
    return f"得分 = 100 ×（总权重 − 当前扣分）÷ 总权重，截至 {last_month.key} 月分析"


# --------------------------------------------------------------------------- quarterly


@dataclass(frozen=True)
class QuarterlyReport:
    publication: Publication
    summary: dict[str, Any]


def quarterly_report(
    quarter: Period,
    units: Sequence[UnitSnap],
    levels: Mapping[tuple[int, str], Sequence[str]],
    on_list: frozenset[int],
) -> QuarterlyReport:
    """The quarter's trend report (with the draw's fixed note) and its run summary.

    The on-site draw is confidential: the report and summary say only that it was made.
    """
    keys = [m.key for m in quarter.months()]
    trend = quarterly_trend(units, keys, levels)
    names = [u.name for u in units if u.id in on_list]
    title = f"{quarter.key} 季度监测"
    markdown = trend_markdown(title, trend, names, CATEGORY_LABELS) + onsite_artifact_note()
    summary: dict[str, Any] = {
        "period": quarter.key,
        "months": keys,
        "red": sum(int(str(r["red"])) for r in trend),
        "missing": sum(int(str(r["missing"])) for r in trend),
        "negative_list": sorted(on_list),
        "onsite_draw": "done",
    }
    key = f"quarterly-monitoring-{quarter.key}".lower()
    return QuarterlyReport(Publication(key, [dict(r) for r in trend], markdown, title), summary)


# --------------------------------------------------------------------------- half-year


def _with_gaps(
    table: list[dict[str, Any]], markdown: str, gaps: Sequence[DataGap]
) -> tuple[list[dict[str, Any]], str]:
    """The results table, and the text with the units without platform data (无平台数据)
    listed after the results (the table keeps one row shape: scored units only)."""
    if not gaps:
        return table, markdown
    return table, markdown + gaps_markdown(gaps, CATEGORY_LABELS)


def half_year_publication(
    half: Period,
    results: Sequence[UnitResult],
    units: Sequence[UnitSnap],
    history: Sequence[str] = (),
    gaps: Sequence[DataGap] = (),
) -> Publication:
    """The half-year's scores and ranks per category (as of its last month), the history
    of its result versions (``models.plans.result_versions``), then the units without
    platform data."""
    names = {u.id: u.name for u in units}
    title = f"{half.key} 半年评估"
    notes = [score_rule_text(half.months()[-1]), "同分同名次", as_of_text(half)]
    table, markdown = _with_gaps(
        result_rows(results, names, CATEGORY_LABELS),
        results_markdown(title, results, names, CATEGORY_LABELS, notes) + history_markdown(history),
        gaps,
    )
    return Publication(f"half-year-evaluation-{half.key}".lower(), table, markdown, title)


def as_of_text(period: Period) -> str:
    last = period.months()[-1]
    return f"截至 {last.year}年{last.index}月末：只计有效月份不晚于该月的台账记录"


def history_markdown(history: Sequence[str]) -> str:
    """The result versions' table under the report (empty without versions)."""
    if not history:
        return ""
    return "\n## 结果版本\n\n" + "\n".join(history) + "\n"


# ------------------------------------------------------------------------------ annual


def settlement_change(settlements: Sequence[Settlement]) -> Decimal:
    return sum((s.amount for s in settlements), Decimal(0))


def annual_results_publication(
    year: Period,
    results: Sequence[UnitResult],
    settlements: Sequence[Settlement],
    units: Sequence[UnitSnap],
    rules: YearRules = DEFAULT_RULES,
    history: Sequence[str] = (),
    gaps: Sequence[DataGap] = (),
) -> Publication:
    """The year's final scores, ranks and grades per category, with the year's rules and
    the history of its result versions, then the units without platform data (无平台数据)
    for the office to decide."""
    names = {u.id: u.name for u in units}
    title = f"{year.key} 年度考核"
    notes = [
        settlement_rule_text(rules),
        f"结算条目 {len(settlements)} 条，扣分合计变动 {settlement_change(settlements)}",
        grade_rule_text(rules),
    ]
    table, markdown = _with_gaps(
        result_rows(results, names, CATEGORY_LABELS),
        results_markdown(title, results, names, CATEGORY_LABELS, notes) + history_markdown(history),
        gaps,
    )
    return Publication(f"annual-assessment-{year.key}".lower(), table, markdown, title)


def simplification_publication(
    year: Period, proposals: Sequence[SimplificationProposal], rules: YearRules = DEFAULT_RULES
) -> Publication:
    """The indicators proposed for simplification (low discrimination all year, or all
    the months of a half-year evaluation's period so far)."""
    through = year.last_month
    prefix = "annual" if year.kind is PeriodKind.YEAR else "half-year"
    return Publication(
        f"{prefix}-simplification-{year.key.lower()}",
        proposal_rows(proposals),
        proposals_markdown(year.year, proposals, rules, through),
        f"{year.key} 指标简化建议",
    )


def burden_publication(
    year: Period, counts: BurdenCounts, rules: YearRules = DEFAULT_RULES
) -> Publication:
    """The office's experience report (rulebook section 10)."""
    return Publication(
        f"burden-{year.key}",
        None,
        burden_markdown(counts, burden_figures(counts), rules),
        f"{year.key} 减负增效情况报告",
    )


def annual_summary(
    year: Period,
    results: Sequence[UnitResult],
    settlements: Sequence[Settlement],
    notices: Any,
    proposals: Sequence[SimplificationProposal],
    gaps: Sequence[DataGap] = (),
) -> dict[str, Any]:
    """The annual run's summary: units, settlements, grades counted, notices, proposals,
    units without platform data."""
    grades = Counter(r.grade.value for r in results if r.grade is not None)
    return {
        "period": year.key,
        "units": len(results),
        "settlements": len(settlements),
        "settlement_change": str(settlement_change(settlements)),
        "grades": dict(grades),
        "result_notices": notices,
        "simplification_proposals": [p.indicator_code for p in proposals],
        **gaps_summary(gaps),
    }
