"""What a cycle run shows the office (artifacts, run summaries), computed from a plan."""

from __future__ import annotations

from collections import Counter, defaultdict
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


def category_rows(plan: MonthlyPlan, snapshot: MonthSnapshot) -> list[dict[str, Any]]:
    """One row per category: cells by level, pre-deductions booked, negative-list changes."""
    category = {u.id: u.category for u in snapshot.units}
    levels: dict[str, Counter[Level]] = defaultdict(Counter)
    for r in plan.results:
        levels[category[r.unit_id]][r.assessment.level] += 1
    booked: dict[str, Decimal] = defaultdict(Decimal)
    for d in plan.deductions:
        booked[category[d.unit_id]] += d.change.amount
    on: Counter[str] = Counter()
    off: Counter[str] = Counter()
    for e in plan.negative_events:
        (on if e.event == "on" else off)[category[e.unit_id]] += 1
    rows = []
    for code, label in CATEGORY_LABELS.items():
        if code not in levels:
            continue
        row: dict[str, Any] = {"类别": label}
        for level in LEVEL_ORDER:
            row[level.label] = levels[code][level]
        row["本期预扣分变动"] = str(booked[code].quantize(Decimal("0.01")))
        row["新列入负面清单"] = on[code]
        row["移出负面清单"] = off[code]
        rows.append(row)
    return rows


def lagging_indicators(
    plan: MonthlyPlan, snapshot: MonthSnapshot, top: int = 10
) -> list[dict[str, Any]]:
    """The indicators with the most red or missing cells this month."""
    names = {i.id: i.name for i in snapshot.indicators}
    red: Counter[int] = Counter()
    total: Counter[int] = Counter()
    for r in plan.results:
        if r.assessment.level is Level.UNAVAILABLE:
            continue
        total[r.indicator_id] += 1
        if r.assessment.is_red:
            red[r.indicator_id] += 1
    ranked = sorted(red.items(), key=lambda kv: (-kv[1], names[kv[0]]))[:top]
    return [{"指标": names[i], "红色或未上传单位数": n, "适用单位数": total[i]} for i, n in ranked]


def monthly_markdown(plan: MonthlyPlan, snapshot: MonthSnapshot, collection: dict[str, Any]) -> str:
    """The monthly analysis report in Chinese, as Markdown."""
    lines = [f"# {plan.month.key} 月度分析", ""]
    if collection.get("unavailable"):
        lines += [
            "> **平台数据未能读取**：本月数据标记为“平台不可用”，不因此预扣任何单位分数。",
            f"> 原因：{collection.get('reason', '')}",
            "",
        ]
    lines += [
        f"- 平台记录：{collection.get('records', 0)} 条，"
        f"新增存储 {collection.get('stored', 0)} 条，隔离 {collection.get('quarantined', 0)} 条",
        f"- 预扣分台账新增条目：{len(plan.deductions)}；预警台账新增条目：{len(plan.warnings)}",
    ]
    if not plan.books_ledger:
        lines.append("- 本月晚于已分析的后续月份补跑：只记录结果，不改变预扣分台账。")
    lines += ["", "## 分类汇总", ""]
    rows = category_rows(plan, snapshot)
    if rows:
        header = list(rows[0])
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + " --- |" * len(header))
        for row in rows:
            lines.append("| " + " | ".join(str(row[h]) for h in header) + " |")
    lagging = lagging_indicators(plan, snapshot)
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


def monthly_summary(plan: MonthlyPlan, collection: dict[str, Any]) -> dict[str, Any]:
    """A JSON-friendly summary kept with the cycle run."""
    levels: Counter[str] = Counter(r.assessment.level.value for r in plan.results)
    return {
        "period": plan.month.key,
        "cells": len(plan.results),
        "levels": dict(levels),
        "deduction_entries": len(plan.deductions),
        "deduction_change": str(sum((d.change.amount for d in plan.deductions), Decimal(0))),
        "warning_entries": len(plan.warnings),
        "negative_on": sum(1 for e in plan.negative_events if e.event == "on"),
        "negative_off": sum(1 for e in plan.negative_events if e.event == "off"),
        "books_ledger": plan.books_ledger,
        "collection": collection,
    }
