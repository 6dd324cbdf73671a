"""What a cycle run shows the office (artifacts, run summaries), computed from its plans.

A month is analysed in batches of units; each batch yields a small ``MonthReport``
(counts only, plain data) and the reports merge into the month's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from models.catalog.vocabulary import CATEGORY_LABELS
from models.plans.monthly import MonthlyPlan, MonthSnapshot
from models.rules import Level

LEVEL_ORDER = (
    Level.GREEN,
    Level.YELLOW,
    Level.ORANGE,
    Level.RED,
    Level.MISSING,
    Level.UNAVAILABLE,
)


@dataclass
class MonthReport:
    """Counts of a month's analysis (of a batch, or merged over batches)."""

    period: str
    levels: dict[str, Counter[str]] = field(default_factory=dict)  # category -> level -> n
    booked: dict[str, Decimal] = field(default_factory=dict)  # category -> points
    negative_on: Counter[str] = field(default_factory=Counter)
    negative_off: Counter[str] = field(default_factory=Counter)
    red_by_indicator: Counter[str] = field(default_factory=Counter)  # indicator name -> n
    cells_by_indicator: Counter[str] = field(default_factory=Counter)
    deduction_entries: int = 0
    warning_entries: int = 0
    books_ledger: bool = True
    messages: Counter[str] = field(default_factory=Counter)

    def merge(self, other: MonthReport) -> MonthReport:
        for category, counts in other.levels.items():
            self.levels.setdefault(category, Counter()).update(counts)
        for category, points in other.booked.items():
            self.booked[category] = self.booked.get(category, Decimal(0)) + points
        self.negative_on.update(other.negative_on)
        self.negative_off.update(other.negative_off)
        self.red_by_indicator.update(other.red_by_indicator)
        self.cells_by_indicator.update(other.cells_by_indicator)
        self.deduction_entries += other.deduction_entries
        self.warning_entries += other.warning_entries
        self.books_ledger = self.books_ledger and other.books_ledger
        self.messages.update(other.messages)
        return self


def month_report(plan: MonthlyPlan, snapshot: MonthSnapshot) -> MonthReport:
    category = {u.id: u.category for u in snapshot.units}
    names = {i.id: i.name for i in snapshot.indicators}
    report = MonthReport(plan.month.key, books_ledger=plan.books_ledger)
    for r in plan.results:
        report.levels.setdefault(category[r.unit_id], Counter())[r.assessment.level.value] += 1
        if r.assessment.level is Level.UNAVAILABLE:
            continue
        report.cells_by_indicator[names[r.indicator_id]] += 1
        if r.assessment.is_red:
            report.red_by_indicator[names[r.indicator_id]] += 1
    for d in plan.deductions:
        cat = category[d.unit_id]
        report.booked[cat] = report.booked.get(cat, Decimal(0)) + d.change.amount
    for e in plan.negative_events:
        (report.negative_on if e.event == "on" else report.negative_off)[category[e.unit_id]] += 1
    report.deduction_entries = len(plan.deductions)
    report.warning_entries = len(plan.warnings)
    return report


def category_rows(report: MonthReport) -> list[dict[str, Any]]:
    """One row per category: cells by level, pre-deductions booked, negative-list changes."""
    rows = []
    for code, label in CATEGORY_LABELS.items():
        if code not in report.levels:
            continue
        row: dict[str, Any] = {"类别": label}
        for level in LEVEL_ORDER:
            row[level.label] = report.levels[code][level.value]
        row["本期预扣分变动"] = str(report.booked.get(code, Decimal(0)).quantize(Decimal("0.01")))
        row["新列入负面清单"] = report.negative_on[code]
        row["移出负面清单"] = report.negative_off[code]
        rows.append(row)
    return rows


def lagging_indicators(report: MonthReport, top: int = 10) -> list[dict[str, Any]]:
    """The indicators with the most red or missing cells this month."""
    ranked = sorted(report.red_by_indicator.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [
        {"指标": name, "红色或未上传单位数": n, "适用单位数": report.cells_by_indicator[name]}
        for name, n in ranked
    ]


def monthly_markdown(report: MonthReport, collection: dict[str, Any]) -> str:
    """The monthly analysis report in Chinese, as Markdown."""
    lines = [f"# {report.period} 月分析", ""]
    if collection.get("unavailable"):
        lines += [
            "> **平台数据未能读取**：本月数据标记为“平台不可用”，不因此预扣任何单位分数。",
            f"> 原因：{collection.get('reason', '')}",
            "",
        ]
    lines += [
        f"- 平台记录：{collection.get('records', 0)} 条，"
        f"新增存储 {collection.get('stored', 0)} 条，隔离 {collection.get('quarantined', 0)} 条",
        f"- 预扣分台账新增条目：{report.deduction_entries}；"
        f"预警台账新增条目：{report.warning_entries}",
        f"- 提醒消息：新增 {report.messages.get('new', 0)} 条，"
        f"更正 {report.messages.get('correction', 0)} 条",
    ]
    if not report.books_ledger:
        lines.append("- 本月晚于已分析的后续月份补跑：只记录结果，不改变预扣分台账。")
    lines += ["", "## 分类汇总", ""]
    rows = category_rows(report)
    if rows:
        header = list(rows[0])
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + " --- |" * len(header))
        for row in rows:
            lines.append("| " + " | ".join(str(row[h]) for h in header) + " |")
    lagging = lagging_indicators(report)
    if lagging:
        lines += [
            "",
            "## 滞后指标",
            "",
            "| 指标 | 红色或未上传 | 适用单位 |",
            "| --- | --- | --- |",
        ]
        for row in lagging:
            lines.append(f"| {row['指标']} | {row['红色或未上传单位数']} | {row['适用单位数']} |")
    return "\n".join(lines) + "\n"


def monthly_summary(report: MonthReport, collection: dict[str, Any]) -> dict[str, Any]:
    """A JSON-friendly summary kept with the cycle run."""
    levels: Counter[str] = Counter()
    for counts in report.levels.values():
        levels.update(counts)
    return {
        "period": report.period,
        "cells": sum(levels.values()),
        "levels": dict(levels),
        "deduction_entries": report.deduction_entries,
        "deduction_change": str(sum(report.booked.values(), Decimal(0))),
        "warning_entries": report.warning_entries,
        "negative_on": sum(report.negative_on.values()),
        "negative_off": sum(report.negative_off.values()),
        "books_ledger": report.books_ledger,
        "messages": dict(report.messages),
        "collection": collection,
    }
