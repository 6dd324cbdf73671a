"""The annual results as pure plans: result notices, the 七关联 export, simplification proposals.

- ``result_notice_digests``: one ``annual_assessment`` digest per unit with its final
  score, rank inside its category and grade, and the appeal window the notice opens.
- ``results_export``: the year's results for the seven uses (七关联) as sheets (XLSX)
  and as one JSON document, with the uses already recorded (``ResultUse``).
- ``simplification_proposals``: indicators whose completions hardly differ across
  their units in every month of the year (coefficient of variation under the year's
  ``low_discrimination_cv``),
  proposed for simplification (区分度不大).

Nothing here reads a database or the clock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from models.catalog.vocabulary import CATEGORY_LABELS, RESULT_USES, UNIT_KIND_LABELS
from models.messages import AppealWindow, MessageKind, ResultItem, UnitDigest, content_hash
from models.rules import (
    DEFAULT_RULES,
    Grade,
    YearRules,
    coefficient_of_variation,
    low_discrimination,
    low_discrimination_for_year,
    to_shanghai,
)

_CV_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class AnnualResult:
    """A unit's latest annual result (the last ``ResultEntry`` of the year's assessment)."""

    unit_code: str
    unit_name: str
    kind: str
    category: str
    score: Decimal
    rank: int
    grade: str
    deductions: Decimal
    total_weight: Decimal


@dataclass(frozen=True)
class RecordedUse:
    """A recorded use of a unit's result (``ResultUse``)."""

    unit_code: str
    use: str
    reference: str
    recorded_at: datetime


def category_sizes(results: Sequence[AnnualResult]) -> Counter[str]:
    return Counter(r.category for r in results)


def result_notice_digests(
    results: Sequence[AnnualResult],
    year: int,
    appeal_ends: date | AppealWindow,
    previous: Mapping[str, tuple[str, date]] | None = None,
) -> list[UnitDigest]:
    """One result notice per unit: score, rank among its category's units, grade.

    The notice opens the appeal window: the unit may appeal until ``appeal_ends`` (a
    day, or an `AppealWindow` counted from the notice's delivery).
    ``previous`` maps a unit code to the content hash and appeal end of the notice
    it already has: when its result is unchanged the notice keeps that window, so
    the same content is rebuilt and nothing is sent again; a changed result gets a
    fresh window (the unit may appeal the new result).
    """
    earlier = previous or {}
    out = []
    for digest in _notices(results, year, appeal_ends):
        if digest.unit_code in earlier:
            old_hash, old_ends = earlier[digest.unit_code]
            same = replace(digest, appeal_window=AppealWindow(old_ends))
            if content_hash(same) == old_hash:
                digest = same
        out.append(digest)
    return out


def _notices(
    results: Sequence[AnnualResult], year: int, appeal_ends: date | AppealWindow
) -> list[UnitDigest]:
    sizes = category_sizes(results)
    window = appeal_ends if isinstance(appeal_ends, AppealWindow) else AppealWindow(appeal_ends)
    return [
        UnitDigest(
            unit_code=r.unit_code,
            unit_name=r.unit_name,
            kind=MessageKind.ANNUAL_ASSESSMENT.value,
            period_key=str(year),
            items=(
                ResultItem(
                    category_label=CATEGORY_LABELS.get(r.category, r.category),
                    score=r.score,
                    rank=r.rank,
                    category_size=sizes[r.category],
                    grade=r.grade,
                ),
            ),
            appeal_window=window,
        )
        for r in sorted(results, key=lambda r: r.unit_code)
    ]


def _grade_label(grade: str) -> str:
    try:
        return Grade(grade).label
    except ValueError:
        return grade


def results_export(
    year: int, results: Sequence[AnnualResult], uses: Sequence[RecordedUse]
) -> dict[str, Any]:
    """The year's results for the seven uses, as ``{"json": ..., "sheets": ...}``.

    Sheet 年度考核结果: one row per unit (category, score, rank of n, grade) with one
    column per use listing the references recorded for it. Sheet 结果运用记录: every
    recorded use. Sheet 七关联说明: the seven uses. The JSON holds the same data with
    English keys. The sheets hold typed values for the workbook writer (the score a
    Decimal, the time a datetime); the JSON holds the score as text and Beijing-time
    ISO timestamps.
    """
    sizes = category_sizes(results)
    by_unit: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for u in sorted(uses, key=lambda u: (u.recorded_at, u.unit_code, u.use)):
        by_unit[u.unit_code][u.use].append(u.reference or "（无文号）")
    ordered = sorted(
        results,
        key=lambda r: (list(CATEGORY_LABELS).index(r.category)
                       if r.category in CATEGORY_LABELS else 99, r.rank, r.unit_code),
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for r in ordered:
        row: dict[str, Any] = {
            "单位编码": r.unit_code,
            "单位名称": r.unit_name,
            "单位类型": UNIT_KIND_LABELS.get(r.kind, r.kind),
            "考核类别": CATEGORY_LABELS.get(r.category, r.category),
            "最终得分": r.score,
            "扣分合计": r.deductions,
            "指标总分值": r.total_weight,
            "类别内排名": r.rank,
            "类别单位数": sizes[r.category],
            "考核等次": _grade_label(r.grade),
        }
        for use, label in RESULT_USES.items():
            row[f"运用：{label}"] = "；".join(by_unit[r.unit_code].get(use, []))
        rows.append(row)
        entries.append(
            {
                "unit_code": r.unit_code,
                "unit_name": r.unit_name,
                "kind": r.kind,
                "category": r.category,
                "score": str(r.score),
                "rank": r.rank,
                "category_size": sizes[r.category],
                "grade": r.grade,
                "grade_label": _grade_label(r.grade),
                "total_weight": str(r.total_weight),
                "deductions": str(r.deductions),
                "uses": {use: by_unit[r.unit_code].get(use, []) for use in RESULT_USES},
            }
        )
    names = {r.unit_code: r.unit_name for r in results}
    use_rows = [
        {
            "单位编码": u.unit_code,
            "单位名称": names.get(u.unit_code, u.unit_code),
            "运用方向": RESULT_USES.get(u.use, u.use),
            "文号或依据": u.reference,
            "登记时间": u.recorded_at,
        }
        for u in sorted(uses, key=lambda u: (u.recorded_at, u.unit_code, u.use))
    ]
    return {
        "json": {
            "year": year,
            "title": f"{year}年度综合考核结果（七关联运用）",
            "uses": dict(RESULT_USES),
            "results": entries,
            "recorded_uses": [
                {
                    "unit_code": u.unit_code,
                    "use": u.use,
                    "use_label": RESULT_USES.get(u.use, u.use),
                    "reference": u.reference,
                    "recorded_at": to_shanghai(u.recorded_at).isoformat(),
                }
                for u in sorted(uses, key=lambda u: (u.recorded_at, u.unit_code, u.use))
            ],
        },
        "sheets": {
            "年度考核结果": rows,
            "结果运用记录": use_rows,
            "七关联说明": [{"运用方向": label, "代码": use} for use, label in RESULT_USES.items()],
        },
    }


# --------------------------------------------------------------- simplification


@dataclass(frozen=True)
class IndicatorRef:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class SimplificationProposal:
    """An indicator proposed for simplification for low discrimination (区分度不大)."""

    indicator_code: str
    indicator_name: str
    months: int
    units: int
    max_cv: Decimal


def _low_through(
    months: Mapping[str, Mapping[int, Decimal]], through: int, rules: YearRules
) -> bool:
    """Every month 1..``through`` given and of low discrimination (12: the whole year)."""
    if through == 12:
        return low_discrimination_for_year(months, rules)
    return len(months) == through and all(low_discrimination(v, rules) for v in months.values())


def simplification_proposals(
    indicators: Sequence[IndicatorRef],
    completions: Mapping[int, Mapping[str, Mapping[int, Decimal]]],
    rules: YearRules = DEFAULT_RULES,
    through: int = 12,
) -> list[SimplificationProposal]:
    """Indicators whose completions across their units have a CV under the year's
    threshold in all 12 months (``low_discrimination_for_year``), or, at the half-year
    evaluation (``through=6``), in each of months 1..6.

    ``completions`` maps indicator id → month key → unit id → completion (missing
    and unavailable cells have no completion and are left out).
    """
    out: list[SimplificationProposal] = []
    for ind in sorted(indicators, key=lambda i: i.code):
        months = {
            key: values
            for key, values in completions.get(ind.id, {}).items()
            if int(key[-2:]) <= through
        }
        if not months or not _low_through(months, through, rules):
            continue
        cvs = [coefficient_of_variation(values.values()) for values in months.values()]
        worst = max((cv for cv in cvs if cv is not None), default=Decimal(0))
        out.append(
            SimplificationProposal(
                indicator_code=ind.code,
                indicator_name=ind.name,
                months=len(months),
                units=max(len(values) for values in months.values()),
                max_cv=worst.quantize(_CV_PLACES),
            )
        )
    return out


def proposal_rows(proposals: Sequence[SimplificationProposal]) -> list[dict[str, Any]]:
    return [
        {
            "指标编码": p.indicator_code,
            "指标名称": p.indicator_name,
            "适用单位数": p.units,
            "月份数": p.months,
            "月度最大变异系数": str(p.max_cv),
            "建议": "区分度不大，建议简化",
        }
        for p in proposals
    ]


def proposals_markdown(
    year: int,
    proposals: Sequence[SimplificationProposal],
    rules: YearRules = DEFAULT_RULES,
    through: int = 12,
) -> str:
    span = "全年12个月" if through == 12 else f"1–{through}月"
    title = (
        f"# {year} 年度指标简化建议"
        if through == 12
        else f"# {year} 年上半年指标简化建议（半年评估）"
    )
    lines = [
        title,
        "",
        f"- 规则：某指标在{span}中，每月各适用单位完成度的变异系数均低于 "
        f"{rules.low_discrimination_cv}，即视为区分度不大，建议简化。",
        f"- 建议简化指标：{len(proposals)} 项",
        "",
    ]
    rows = proposal_rows(proposals)
    if not rows:
        return "\n".join([*lines, "（本年度无符合条件的指标）"]) + "\n"
    header = list(rows[0])
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + " --- |" * len(header))
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    return "\n".join(lines) + "\n"
