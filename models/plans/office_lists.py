"""The office's lists and a unit's year, as Chinese tables.

``assess appeals list``, ``assess problems list``, ``assess unit C04 --year 2026`` and
``assess ledgers export`` show what the ledgers hold. The loaders
(``tasks.office_lists``) gather plain rows with the stored codes (``status``,
``level``, ``kind`` …) and typed values (``Decimal`` points, aware UTC datetimes);
the functions here turn them into tables ``{sheet title: [row, …]}`` whose keys
are the Chinese column headers and whose values stay typed (the workbook writer
writes numbers as numbers and datetimes in Beijing time). ``json_safe`` makes a
table JSON-ready (numbers stay numbers, times become ``+08:00`` ISO text) and
``tables_text`` prints it for a terminal.

Pure: no database, no clock (``today`` is passed in where a deadline is judged).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from models.catalog.vocabulary import CATEGORY_LABELS, UNIT_KIND_LABELS
from models.plans.appeal_intake import KIND_LABELS as APPEAL_KIND_LABELS
from models.plans.explain import CYCLE_LABELS, ENTRY_KIND_LABELS, STAGE_LABELS
from models.plans.result_versions import cause_label
from models.rules import Grade, Level, RulingKind, appeal_status_label
from models.rules.periods import local_text, to_shanghai

__all__ = [
    "COMPLETION_COLUMNS",
    "LEDGER_SHEETS",
    "UnitYearFacts",
    "appeal_table",
    "json_safe",
    "ledger_tables",
    "problem_table",
    "tables_text",
    "unit_artifact_key",
    "unit_year_markdown",
    "unit_year_tables",
]

Row = dict[str, Any]
Tables = dict[str, list[Row]]

ZERO = Decimal(0)
COMPLETION_COLUMNS = ("完成度",)
"""Columns holding a ratio (0.95 = 95%): the workbook shows them as percentages."""

PROBLEM_SOURCE_LABELS = {
    "onsite_check": "实地核查",
    "analysis": "季度监测分析",
    "inspection": "巡察",
}
NEGATIVE_EVENT_LABELS = {"on": "列入", "off": "移出"}
APPEAL_SHEET = "申诉与裁定"
PROBLEM_SHEET = "问题台账"
LEDGER_SHEETS = ("扣分台账", "预警台账", "问题台账", "负面清单", "考核结果", "月度结果")
"""The sheets of ``assess ledgers export``, in order."""


def _label(labels: Mapping[str, str], code: str | None) -> str:
    if code is None:
        return ""
    return labels.get(code, code)


def _level(code: str | None) -> str:
    if not code:
        return ""
    try:
        return Level(code).label
    except ValueError:
        return code


def _ruling(code: str | None) -> str:
    if not code:
        return ""
    try:
        return RulingKind(code).label
    except ValueError:
        return code


def _grade(code: str | None) -> str:
    if not code:
        return ""
    try:
        return Grade(code).label
    except (ValueError, AttributeError):
        return code


def _committee(approved: bool | None) -> str:
    return {None: "", True: "批准", False: "不批准"}[approved]


# --------------------------------------------------------------------------- appeals


def appeal_table(appeals: Sequence[Mapping[str, Any]]) -> list[Row]:
    """One row per appeal with its latest ruling and the committee's decision, if any.

    Each input row: ``id platform_id unit_code unit_name indicator_code indicator_name
    period kind status filed_at received_at reason refusal_reason`` and, when ruled,
    ``ruling_kind ruling_reason ruled_at document_ref committee_approved``.
    """
    return [
        {
            "申诉编号": a["id"],
            "平台编号": a["platform_id"],
            "单位编码": a["unit_code"],
            "单位名称": a["unit_name"],
            "指标编码": a["indicator_code"],
            "指标名称": a["indicator_name"],
            "月份": a["period"],
            "申诉类型": _label(APPEAL_KIND_LABELS, a["kind"]),
            "状态": appeal_status_label(a["status"]),
            "提交时间": a["filed_at"],
            "受理时间": a["received_at"],
            "申诉理由": a["reason"],
            "不予受理理由": a.get("refusal_reason") or "",
            "裁定": _ruling(a.get("ruling_kind")),
            "裁定理由": a.get("ruling_reason") or "",
            "裁定时间": a.get("ruled_at"),
            "裁定文号": a.get("document_ref") or "",
            "考核委审定": _committee(a.get("committee_approved")),
        }
        for a in sorted(appeals, key=lambda a: (a["filed_at"], a["id"]))
    ]


# -------------------------------------------------------------------------- problems


def _problem_state(p: Mapping[str, Any], today: date) -> str:
    if p.get("closed_at") is not None:
        return "已销号"
    return "逾期未整改" if p["rectify_by"] < today else "整改中"


def problem_table(problems: Sequence[Mapping[str, Any]], today: date) -> list[Row]:
    """One row per problem: whether it is closed, in rectification or overdue on ``today``.

    Each input row: ``id unit_code unit_name source period indicator_code description
    rectify_by created_at`` and, when closed, ``closed_at closing_note``.
    """
    return [
        {
            "问题编号": p["id"],
            "单位编码": p["unit_code"],
            "单位名称": p["unit_name"],
            "来源": _label(PROBLEM_SOURCE_LABELS, p["source"]),
            "期次": p["period"],
            "指标编码": p.get("indicator_code") or "",
            "问题描述": p["description"],
            "整改期限": p["rectify_by"],
            "状态": _problem_state(p, today),
            "登记时间": p["created_at"],
            "销号时间": p.get("closed_at"),
            "销号说明": p.get("closing_note") or "",
        }
        for p in sorted(problems, key=lambda p: p["id"])
    ]


# ------------------------------------------------------------------------- unit year


@dataclass(frozen=True)
class UnitYearFacts:
    """Everything stored about one unit in one year (rows as the loader reads them)."""

    unit_code: str
    unit_name: str
    unit_kind: str
    category: str
    year: int
    indicators: Mapping[int, tuple[str, str]]
    """indicator id → (code, name), the year's indicators the unit is assessed on."""
    months: Sequence[Mapping[str, Any]] = ()
    """``period indicator_id level completion pre_deduction``"""
    deductions: Sequence[Mapping[str, Any]] = ()
    """``id period indicator_id kind stage amount level completion ruling_id created_at note``"""
    warnings: Sequence[Mapping[str, Any]] = ()
    """``id period indicator_id level completion corrects_id ruling_id created_at``"""
    negative: Sequence[Mapping[str, Any]] = ()
    """``id period event ruling_id created_at``"""
    appeals: Sequence[Mapping[str, Any]] = ()
    """as ``appeal_table`` reads them"""
    results: Sequence[Mapping[str, Any]] = ()
    """``cycle period score deductions total_weight rank grade version cause created_at``"""
    category_sizes: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """(cycle, period) → units ranked in the unit's category"""


def _ind(facts: UnitYearFacts, indicator_id: int) -> tuple[str, str]:
    return facts.indicators.get(indicator_id, (str(indicator_id), ""))


def _current_results(results: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The row of the highest version of each (cycle, period), oldest period first."""
    best: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in results:
        key = (r["cycle"], r["period"])
        if key not in best or r["version"] > best[key]["version"]:
            best[key] = r
    order = {"half_year_evaluation": 0, "annual_assessment": 1}
    return sorted(
        best.values(), key=lambda r: (r["period"][:4], order.get(r["cycle"], 9), r["period"])
    )


def _summary(facts: UnitYearFacts) -> list[Row]:
    pre = sum((d["amount"] for d in facts.deductions if d["stage"] == "pre"), ZERO)
    final = sum((d["amount"] for d in facts.deductions if d["stage"] != "pre"), ZERO)
    events = sorted(facts.negative, key=lambda n: (n["period"], n["id"]))
    on_list = bool(events) and events[-1]["event"] == "on"
    current = _current_results(facts.results)
    rows: list[tuple[str, Any]] = [
        ("单位编码", facts.unit_code),
        ("单位名称", facts.unit_name),
        ("单位类型", _label(UNIT_KIND_LABELS, facts.unit_kind)),
        ("考核类别", _label(CATEGORY_LABELS, facts.category)),
        ("考核年度", facts.year),
        ("已分析月份数", len({m["period"] for m in facts.months})),
        ("预扣分累计", pre),
        ("最终扣分累计", final),
        ("预警记录数", len(facts.warnings)),
        ("负面清单", "在清单中" if on_list else "不在清单中"),
        ("申诉数", len(facts.appeals)),
    ]
    if current:
        latest = current[-1]
        size = facts.category_sizes.get((latest["cycle"], latest["period"]))
        rows += [
            ("当前得分", latest["score"]),
            ("当前类别内排名", latest["rank"]),
            ("类别单位数", size if size is not None else ""),
            ("当前等次", _grade(latest["grade"]) or "（未定等次）"),
            (
                "得分依据",
                f"{_label(CYCLE_LABELS, latest['cycle'])} {latest['period']}"
                f" 第{latest['version']}版",
            ),
        ]
    else:
        rows.append(("当前得分", "尚无半年评估或年度考核结果"))
    return [{"项目": k, "内容": v} for k, v in rows]


def _level_matrix(facts: UnitYearFacts) -> list[Row]:
    by_cell = {(m["indicator_id"], m["period"]): m for m in facts.months}
    ids = sorted(
        {m["indicator_id"] for m in facts.months} | set(facts.indicators),
        key=lambda i: _ind(facts, i)[0],
    )
    rows: list[Row] = []
    for indicator_id in ids:
        code, name = _ind(facts, indicator_id)
        row: Row = {"指标编码": code, "指标名称": name}
        for month in range(1, 13):
            cell = by_cell.get((indicator_id, f"{facts.year:04d}-{month:02d}"))
            row[f"{month}月"] = _level(cell["level"]) if cell else ""
        rows.append(row)
    return rows


def _month_rows(facts: UnitYearFacts) -> list[Row]:
    return [
        {
            "月份": m["period"],
            "指标编码": _ind(facts, m["indicator_id"])[0],
            "指标名称": _ind(facts, m["indicator_id"])[1],
            "等级": _level(m["level"]),
            "完成度": m.get("completion"),
            "预扣分": m["pre_deduction"],
        }
        for m in sorted(facts.months, key=lambda m: (m["period"], _ind(facts, m["indicator_id"])))
    ]


def _deduction_sums(facts: UnitYearFacts) -> list[Row]:
    sums: dict[int, dict[str, Decimal]] = defaultdict(lambda: {"pre": ZERO, "final": ZERO})
    for d in facts.deductions:
        sums[d["indicator_id"]]["pre" if d["stage"] == "pre" else "final"] += d["amount"]
    return [
        {
            "指标编码": _ind(facts, i)[0],
            "指标名称": _ind(facts, i)[1],
            "预扣分合计": s["pre"],
            "最终扣分合计": s["final"],
        }
        for i, s in sorted(sums.items(), key=lambda kv: _ind(facts, kv[0]))
    ]


def deduction_rows(rows: Sequence[Mapping[str, Any]], names: IndicatorNames) -> list[Row]:
    """Deduction ledger entries (``unit_code`` optional, for the ledgers export)."""
    return [
        {
            **({"单位编码": d["unit_code"]} if "unit_code" in d else {}),
            "分录编号": d["id"],
            "月份": d["period"],
            "指标编码": names(d["indicator_id"])[0],
            "类型": _label(ENTRY_KIND_LABELS, d["kind"]),
            "阶段": _label(STAGE_LABELS, d["stage"]),
            "分值": d["amount"],
            "等级": _level(d["level"]),
            "完成度": d.get("completion"),
            "裁定编号": d.get("ruling_id"),
            "记录时间": d["created_at"],
            "说明": d.get("note") or "",
        }
        for d in rows
    ]


def warning_rows(rows: Sequence[Mapping[str, Any]], names: IndicatorNames) -> list[Row]:
    """Warning ledger entries (``unit_code`` optional)."""
    return [
        {
            **({"单位编码": w["unit_code"]} if "unit_code" in w else {}),
            "分录编号": w["id"],
            "月份": w["period"],
            "指标编码": names(w["indicator_id"])[0],
            "等级": _level(w["level"]),
            "完成度": w.get("completion"),
            "更正分录": w.get("corrects_id"),
            "裁定编号": w.get("ruling_id"),
            "记录时间": w["created_at"],
        }
        for w in rows
    ]


def negative_rows(rows: Sequence[Mapping[str, Any]]) -> list[Row]:
    """Negative-list events (``unit_code`` optional)."""
    return [
        {
            **({"单位编码": n["unit_code"]} if "unit_code" in n else {}),
            "分录编号": n["id"],
            "月份": n["period"],
            "事项": _label(NEGATIVE_EVENT_LABELS, n["event"]),
            "裁定编号": n.get("ruling_id"),
            "记录时间": n["created_at"],
        }
        for n in rows
    ]


def result_rows(
    rows: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]] = ()
) -> list[Row]:
    """Result entries, every version; ``current`` marks the rows now in force."""
    now_in_force = {id(r) for r in current}
    return [
        {
            **({"单位编码": r["unit_code"]} if "unit_code" in r else {}),
            "周期": _label(CYCLE_LABELS, r["cycle"]),
            "期次": r["period"],
            "得分": r["score"],
            "扣分": r["deductions"],
            "总权重": r["total_weight"],
            "类别内排名": r["rank"],
            "等次": _grade(r["grade"]),
            "版本": r["version"],
            **({"当前有效": "是" if id(r) in now_in_force else "否"} if current else {}),
            "原因": cause_label(r.get("cause") or ""),
            "记录时间": r["created_at"],
        }
        for r in rows
    ]


class IndicatorNames:
    """indicator id → (code, name), with the id itself for an unknown one."""

    def __init__(self, indicators: Mapping[int, tuple[str, str]]) -> None:
        self._indicators = indicators

    def __call__(self, indicator_id: int | None) -> tuple[str, str]:
        if indicator_id is None:
            return ("", "")
        return self._indicators.get(indicator_id, (str(indicator_id), ""))


def unit_year_tables(facts: UnitYearFacts) -> Tables:
    """A unit's year: summary, level per indicator per month, the month details, the
    ledgers (sums and entries), warnings, the negative list, appeals and results."""
    names = IndicatorNames(facts.indicators)
    current = _current_results(facts.results)
    ordered = sorted(facts.results, key=lambda r: (r["period"], r["cycle"], r["version"]))
    return {
        "概况": _summary(facts),
        "月度等级": _level_matrix(facts),
        "月度明细": _month_rows(facts),
        "扣分汇总": _deduction_sums(facts),
        "扣分台账": deduction_rows(sorted(facts.deductions, key=lambda d: d["id"]), names),
        "预警记录": warning_rows(sorted(facts.warnings, key=lambda w: w["id"]), names),
        "负面清单": negative_rows(sorted(facts.negative, key=lambda n: n["id"])),
        APPEAL_SHEET: appeal_table(facts.appeals),
        "考核结果": result_rows(ordered, current),
    }


# --------------------------------------------------------------------------- ledgers


def ledger_tables(
    indicators: Mapping[int, tuple[str, str]],
    deductions: Sequence[Mapping[str, Any]],
    warnings: Sequence[Mapping[str, Any]],
    problems: Sequence[Mapping[str, Any]],
    negative: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    months: Sequence[Mapping[str, Any]],
    today: date,
) -> Tables:
    """The year's ledgers, one table each (``LEDGER_SHEETS``); rows carry ``unit_code``."""
    names = IndicatorNames(indicators)
    return {
        "扣分台账": deduction_rows(deductions, names),
        "预警台账": warning_rows(warnings, names),
        "问题台账": problem_table(problems, today),
        "负面清单": negative_rows(negative),
        "考核结果": result_rows(results),
        "月度结果": [
            {
                "单位编码": m["unit_code"],
                "月份": m["period"],
                "指标编码": names(m["indicator_id"])[0],
                "等级": _level(m["level"]),
                "应完成值": m.get("expected"),
                "实际值": m.get("actual"),
                "完成度": m.get("completion"),
                "预扣分": m["pre_deduction"],
                "计算时间": m["computed_at"],
            }
            for m in months
        ],
    }


# ---------------------------------------------------------------------------- output


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return (
            int(value) if value == value.to_integral_value() and value.is_finite() else float(value)
        )
    if isinstance(value, datetime):
        return to_shanghai(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def json_safe(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[Row]]:
    """The tables for ``json.dumps``: numbers stay numbers, times are Beijing ISO text."""
    return {
        t: [{k: _plain(v) for k, v in row.items()} for row in rows] for t, rows in tables.items()
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_text(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def tables_text(tables: Mapping[str, Sequence[Mapping[str, Any]]], empty: str = "（无）") -> str:
    """The tables for a terminal: a title line, a header line, one line per row."""
    lines: list[str] = []
    for title, rows in tables.items():
        if len(tables) > 1:
            lines.append(f"【{title}】")
        if not rows:
            lines.append(empty)
            continue
        keys = list(dict.fromkeys(k for row in rows for k in row))
        lines.append("  ".join(keys))
        lines.extend("  ".join(_cell(row.get(k)) for k in keys) for row in rows)
    return "\n".join(lines)


def unit_artifact_key(unit_code: str, year: int) -> str:
    """The Prefect artifact key of a unit's year (``unit-c04-2026``): lowercase letters,
    digits and dashes only (anything else in a code becomes a dash)."""
    code = re.sub(r"[^a-z0-9]+", "-", unit_code.lower()).strip("-") or "unit"
    return f"unit-{code}-{year:04d}"


def _md_cell(value: Any) -> str:
    return _cell(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def unit_year_markdown(facts: UnitYearFacts, as_of: str) -> str:
    """The unit's year as the markdown artifact the monthly analysis publishes."""
    tables = unit_year_tables(facts)
    lines = [
        f"# {facts.unit_name}（{facts.unit_code}）{facts.year} 年度考核情况",
        "",
        f"截至 {as_of} 月分析。命令行：`assess unit {facts.unit_code} --year {facts.year}`",
    ]
    for title, rows in tables.items():
        lines += ["", f"## {title}", ""]
        if not rows:
            lines.append("（无）")
            continue
        keys = list(dict.fromkeys(k for row in rows for k in row))
        lines.append("| " + " | ".join(keys) + " |")
        lines.append("|" + "---|" * len(keys))
        lines += ["| " + " | ".join(_md_cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"
