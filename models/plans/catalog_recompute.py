"""The recomputation after a catalog revision, as pure decisions and the office's summary.

A revision effective from month *m* changes the months from *m* on: each month already
analysed is planned again under the catalog as of that month (``plan_month_under_revision``),
in month order, and only the difference is booked, as correcting entries naming the
revision. Months before *m* keep the revision they were assessed under: they are not
planned again. ``catalog_recompute_markdown`` is the office's artifact (Chinese).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from models.plans.monthly import MonthlyPlan, MonthSnapshot
from models.plans.recompute import plan_monthly_analysis_with_rulings
from models.rules import Ruling
from models.rules.due import CYCLE_LABELS_ZH

__all__ = [
    "MonthBooked",
    "RecomputeSummary",
    "RestatedResult",
    "UnitTotalChange",
    "catalog_recompute_lines",
    "catalog_recompute_markdown",
    "plan_month_under_revision",
    "unit_total_changes",
]


def plan_month_under_revision(
    snapshot: MonthSnapshot, rulings: Mapping[tuple[int, int], Ruling]
) -> MonthlyPlan:
    """The month planned again under the catalog of ``snapshot`` (as of its month), the
    month's standing rulings kept.

    Unlike a forced monthly rerun, the ledger is booked even when later months are
    already booked: the recomputation goes month by month in order, each month's sums
    read as of that month (``snapshot.ledger_sums``), so each month's correction is the
    difference between what it booked and what it books now. Once the year is settled
    (``snapshot.year_settled``) only the months before December book pre-deductions;
    December's difference is the annual settlement's, recomputed after it.
    """
    december = snapshot.month.index == 12
    replanned = dataclasses.replace(
        snapshot,
        latest_booked_month=None,
        year_settled=snapshot.year_settled and december,
    )
    return plan_monthly_analysis_with_rulings(replanned, rulings)


@dataclass(frozen=True)
class MonthBooked:
    """What a month's recomputation booked (correcting entries per ledger)."""

    month: str
    deductions: int = 0
    warnings: int = 0
    negative_events: int = 0

    def __add__(self, other: MonthBooked) -> MonthBooked:
        return MonthBooked(
            self.month or other.month,
            self.deductions + other.deductions,
            self.warnings + other.warnings,
            self.negative_events + other.negative_events,
        )

    @property
    def total(self) -> int:
        return self.deductions + self.warnings + self.negative_events


@dataclass(frozen=True)
class UnitTotalChange:
    """A unit whose year-to-date pre-deduction (latest analysed month) moved."""

    code: str
    name: str
    before: Decimal
    after: Decimal


@dataclass(frozen=True)
class RestatedResult:
    """A period's results restated: its new version and how many units' rows changed."""

    cycle: str
    period: str
    version: int
    units: int


@dataclass
class RecomputeSummary:
    """The whole recomputation, for the artifact, the CLI and the flow's return value."""

    revision_id: int
    document_ref: str
    effective_month: str
    months: list[MonthBooked] = field(default_factory=list)
    settlements: int = 0
    units: list[UnitTotalChange] = field(default_factory=list)
    restated: list[RestatedResult] = field(default_factory=list)

    @property
    def booked(self) -> int:
        return sum(m.total for m in self.months) + self.settlements

    @property
    def changed(self) -> bool:
        return bool(self.booked or self.restated)

    def as_dict(self) -> dict[str, object]:
        return {
            "revision_id": self.revision_id,
            "months": [m.month for m in self.months],
            "entries": {m.month: m.total for m in self.months},
            "settlements": self.settlements,
            "units_moved": len(self.units),
            "restated": {f"{r.cycle}:{r.period}": r.version for r in self.restated},
            "lines": catalog_recompute_lines(self),
        }


def unit_total_changes(
    before: Mapping[int, Decimal],
    after: Mapping[int, Decimal],
    names: Mapping[int, tuple[str, str]],
) -> list[UnitTotalChange]:
    """The units whose total differs (a unit missing on one side counts 0), by code."""
    zero = Decimal("0.00")
    out = [
        UnitTotalChange(*names.get(u, (str(u), "")), before.get(u, zero), after.get(u, zero))
        for u in set(before) | set(after)
        if before.get(u, zero) != after.get(u, zero)
    ]
    return sorted(out, key=lambda c: c.code)


def _signed(value: Decimal) -> str:
    return f"+{value}" if value > 0 else str(value)


def catalog_recompute_lines(summary: RecomputeSummary) -> list[str]:
    """The consequences in plain Chinese lines (the CLI prints them)."""
    lines: list[str] = []
    if summary.months:
        lines.append(f"重新核算的月份：{'、'.join(m.month for m in summary.months)}。")
        for m in summary.months:
            lines.append(
                f"  {m.month}：更正分录 {m.total} 条（扣分 {m.deductions}、预警 {m.warnings}、"
                f"负面清单 {m.negative_events}）"
            )
    else:
        lines.append(f"自 {summary.effective_month} 起尚无已分析的月份，无需重新核算。")
    if summary.settlements:
        lines.append(f"年度结算更正分录 {summary.settlements} 条。")
    if summary.units:
        lines.append(f"本年累计预扣分变动的单位 {len(summary.units)} 个：")
        lines += [
            f"  {u.code} {u.name}：{u.before} → {u.after}（{_signed(u.after - u.before)}）"
            for u in summary.units
        ]
    else:
        lines.append("没有单位的本年累计预扣分变动。")
    for r in summary.restated:
        name = CYCLE_LABELS_ZH.get(r.cycle, r.cycle)
        lines.append(
            f"{r.period} {name}结果更正为第 {r.version} 版（{r.units} 个单位变动，"
            f"原因：目录修订 #{summary.revision_id}）。"
        )
    return lines


def catalog_recompute_markdown(summary: RecomputeSummary) -> str:
    """The office's artifact: the revision, the months recomputed and what moved."""
    out = [
        f"# 目录修订 #{summary.revision_id} 重新核算",
        "",
        f"- 文号：{summary.document_ref}",
        f"- 生效月份：{summary.effective_month}（此前各月保持原目录，不重新核算）",
        f"- 更正分录合计：{summary.booked} 条",
        "",
        "## 各月更正分录",
        "",
    ]
    if summary.months:
        out += ["| 月份 | 扣分 | 预警 | 负面清单 | 合计 |", "|---|---:|---:|---:|---:|"]
        out += [
            f"| {m.month} | {m.deductions} | {m.warnings} | {m.negative_events} | {m.total} |"
            for m in summary.months
        ]
        if summary.settlements:
            out.append(f"| 年度结算 | {summary.settlements} | | | {summary.settlements} |")
    else:
        out.append("自生效月份起尚无已分析的月份。")
    out += ["", "## 本年累计预扣分变动的单位", ""]
    if summary.units:
        out += ["| 单位代码 | 单位名称 | 修订前 | 修订后 | 变动 |", "|---|---|---:|---:|---:|"]
        out += [
            f"| {u.code} | {u.name} | {u.before} | {u.after} | {_signed(u.after - u.before)} |"
            for u in summary.units
        ]
    else:
        out.append("无。")
    out += ["", "## 更正的期次结果", ""]
    if summary.restated:
        out += [
            f"- {r.period} {CYCLE_LABELS_ZH.get(r.cycle, r.cycle)}：第 {r.version} 版，"
            f"{r.units} 个单位变动（原因 catalog:{summary.revision_id}）"
            for r in summary.restated
        ]
    else:
        out.append("无（已有的期次结果不变）。")
    return "\n".join(out) + "\n"


def merge_months(parts: Sequence[MonthBooked]) -> list[MonthBooked]:
    """Batches' counts merged per month, in month order."""
    by_month: dict[str, MonthBooked] = {}
    for p in parts:
        by_month[p.month] = by_month.get(p.month, MonthBooked(p.month)) + p
    return [by_month[m] for m in sorted(by_month)]
