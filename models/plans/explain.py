"""考核结果溯源: the chain behind one unit's indicator in one month, rendered in Chinese.

From the platform's record versions (which one the monthly analysis took, and why)
to the expected value, completion and level, every appeal and ruling on the
month, every entry of the indicator's deduction ledger for the year (with what
each corrects and which ruling it comes from), the month's warning entries, the
unit's negative-list events, and its score: now and as published at each cycle.

``explain_markdown`` renders ``ExplainFacts`` (plain data gathered by
``tasks.appeals.explain.load_explain``). Nothing here reads a database or the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from models.catalog.vocabulary import CATEGORY_LABELS, DIRECTION_LABELS
from models.plans.appeal_intake import KIND_LABELS as APPEAL_KIND_LABELS
from models.plans.recompute import CellState
from models.plans.result_versions import cause_label
from models.rules import Grade, Level, Period, RulingKind, appeal_status_label
from models.rules.due import CYCLE_LABELS_ZH
from models.rules.periods import local_text

__all__ = [
    "AppealFact",
    "EntryFact",
    "ExplainFacts",
    "NegativeFact",
    "ResultFact",
    "RulingFact",
    "VersionFact",
    "WarningFact",
    "chosen_version",
    "explain_markdown",
]

ZERO = Decimal(0)
_CENT = Decimal("0.01")

ENTRY_KIND_LABELS = {"new": "新增", "adjusted": "调整", "released": "释放", "settled": "结算"}
STAGE_LABELS = {"pre": "预扣分", "final": "最终扣分"}
CYCLE_LABELS = CYCLE_LABELS_ZH
STATUS_LABELS = {"submitted": "已提交", "draft": "草稿", "withdrawn": "已撤回"}


@dataclass(frozen=True)
class VersionFact:
    record_id: str
    value: Decimal | None
    status: str
    updated_at: datetime
    reported_at: datetime | None = None


@dataclass(frozen=True)
class AppealFact:
    id: int
    platform_id: str
    kind: str
    status: str
    filed_at: datetime
    reason: str
    claimed_value: Decimal | None = None
    refusal_reason: str = ""


@dataclass(frozen=True)
class CommitteeFact:
    approved: bool
    document_ref: str
    note: str
    decided_at: datetime


@dataclass(frozen=True)
class RulingFact:
    id: int
    appeal_id: int
    kind: str
    reason: str
    document_ref: str
    ruled_by: str
    ruled_at: datetime
    effective_at: datetime | None
    corrected_value: Decimal | None = None
    share: Decimal | None = None
    recommendation: str | None = None
    experts: str = ""
    committee: tuple[CommitteeFact, ...] = ()


@dataclass(frozen=True)
class EntryFact:
    id: int
    period: str
    kind: str
    stage: str
    amount: Decimal
    level: str
    completion: Decimal | None
    corrects_id: int | None
    ruling_id: int | None
    created_at: datetime
    note: str = ""
    revision_id: int | None = None


@dataclass(frozen=True)
class WarningFact:
    id: int
    level: str
    completion: Decimal | None
    corrects_id: int | None
    ruling_id: int | None
    created_at: datetime
    revision_id: int | None = None


@dataclass(frozen=True)
class NegativeFact:
    id: int
    period: str
    event: str
    ruling_id: int | None
    revision_id: int | None = None


@dataclass(frozen=True)
class ResultFact:
    id: int
    cycle: str
    period: str
    score: Decimal
    deductions: Decimal
    total_weight: Decimal
    rank: int
    grade: str | None
    ruling_id: int | None
    created_at: datetime
    version: int = 1
    cause: str = ""


@dataclass(frozen=True)
class ExplainFacts:
    """Everything shown about one (unit, indicator, month)."""

    unit_code: str
    unit_name: str
    category: str
    indicator_code: str
    indicator_name: str
    weight: Decimal
    direction: str
    target: Decimal | None
    baseline: Decimal | None
    unit_of_measure: str
    period: str
    deadline: date
    cutoff: datetime
    versions: tuple[VersionFact, ...] = ()
    observation: str = "missing"
    """``value`` (a submitted value was taken), ``missing`` or ``unavailable``."""
    platform_state: CellState | None = None
    """The month's assessment on the platform's value alone."""
    stored: CellState | None = None
    """The month's assessment as it stands (``MonthlyAssessment``), rulings applied."""
    appeals: tuple[AppealFact, ...] = ()
    rulings: tuple[RulingFact, ...] = ()
    entries: tuple[EntryFact, ...] = ()
    warnings: tuple[WarningFact, ...] = ()
    negative: tuple[NegativeFact, ...] = ()
    results: tuple[ResultFact, ...] = ()
    total_weight: Decimal = ZERO
    unit_deductions: Decimal = ZERO
    """The unit's current deduction: the sum of its ledgers for the year."""
    notes: tuple[str, ...] = field(default_factory=tuple)


def chosen_version(versions: Sequence[VersionFact], cutoff: datetime) -> VersionFact | None:
    """The version the monthly analysis takes: the latest non-draft one updated by the
    cutoff; failing that, a later version of a record first reported by the cutoff."""
    on_time = [v for v in versions if v.status != "draft" and v.updated_at <= cutoff]
    if on_time:
        return max(on_time, key=lambda v: (v.updated_at, v.record_id))
    late = [
        v
        for v in versions
        if v.status != "draft" and v.reported_at is not None and v.reported_at <= cutoff
    ]
    return max(late, key=lambda v: v.updated_at) if late else None


# -------------------------------------------------------------------------- formatting


def _num(value: Decimal | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = format(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize(), "f")
    return ("0" if text in ("-0", "0") else text) + unit


def _pts(value: Decimal | None) -> str:
    return "—" if value is None else format(value.quantize(_CENT, rounding=ROUND_HALF_UP), "f")


def _signed(value: Decimal) -> str:
    text = _pts(value)
    return text if value < ZERO else f"+{text}"


def _pct(value: Decimal | None) -> str:
    if value is None:
        return "—"
    pct = (value * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{format(pct, 'f')}%"


def _time(value: datetime | None) -> str:
    return local_text(value)


def _day(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _level(level: str) -> str:
    try:
        return Level(level).label
    except ValueError:
        return level


def _grade(grade: str | None) -> str:
    if grade is None:
        return "—"
    try:
        return Grade(grade).label
    except ValueError:
        return grade


def _ruling_label(kind: str) -> str:
    try:
        return RulingKind(kind).label
    except ValueError:
        return kind


def _source(ruling_id: int | None, revision_id: int | None) -> str:
    """Where a correcting entry comes from: a ruling, a catalog revision, or a cycle run."""
    if ruling_id is not None:
        return f"裁定 {ruling_id}"
    return "—" if revision_id is None else f"目录修订 #{revision_id}"


def _cause(r: ResultFact) -> str:
    if r.cause:
        return cause_label(r.cause)
    return "—" if r.ruling_id is None else f"申诉裁定 {r.ruling_id}"


def _month_label(key: str) -> str:
    p = Period.parse(key)
    return f"{p.year}年{p.index}月"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return ["（无）"]
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += [
        "| " + " | ".join(c.replace("|", "／").replace("\n", " ") for c in r) + " |" for r in rows
    ]
    return out


def _cell_lines(state: CellState, unit: str) -> list[str]:
    return [
        f"- 预期值 E：{_num(state.expected, unit)}",
        f"- 实际值：{_num(state.actual, unit) if state.actual is not None else '无'}",
        f"- 完成度 c：{_pct(state.completion)}",
        f"- 等级：{_level(state.level)}",
        f"- 本月预扣分：{_pts(state.pre_deduction)} 分",
    ]


# ------------------------------------------------------------------------------ render


def explain_markdown(facts: ExplainFacts) -> str:
    """The chain from the platform's value to the score, in Chinese (markdown)."""
    f = facts
    month = _month_label(f.period)
    unit = f.unit_of_measure
    category = CATEGORY_LABELS.get(f.category, f.category)
    lines = [
        f"# 考核结果溯源：{f.unit_name}（{f.unit_code}）· {f.indicator_name}（{f.indicator_code}）"
        f" · {month}",
        "",
        f"- 单位类别：{category}",
        f"- 指标：权重 {_pts(f.weight)} 分，方向 {DIRECTION_LABELS.get(f.direction, f.direction)}，"
        f"年度目标 {_num(f.target, unit)}"
        + (f"，基期值 {_num(f.baseline, unit)}" if f.baseline is not None else ""),
    ]
    lines += [f"- {n}" for n in f.notes]

    # 1. platform
    chosen = chosen_version(f.versions, f.cutoff)
    lines += ["", "## 一、平台填报数据（记录版本）", ""]
    lines.append(f"上传截止：{_day(f.deadline)}（以截止日 24 时前最后更新的版本为准）。")
    lines.append("")
    rows = []
    for v in sorted(f.versions, key=lambda v: (v.updated_at, v.record_id)):
        rows.append(
            [
                v.record_id,
                _num(v.value, unit),
                STATUS_LABELS.get(v.status, v.status),
                _time(v.reported_at),
                _time(v.updated_at),
                "是" if v.updated_at <= f.cutoff else "否（截止后）",
                "✔ 采用" if v is chosen else "",
            ]
        )
    lines += _table(["记录", "数值", "状态", "首次提交", "更新时间", "截止前", "采用"], rows)
    lines.append("")
    if f.observation == "unavailable":
        lines.append("采用的观测值：数据暂不可用（平台无法读取，不属于单位责任，不扣分）。")
    elif f.observation == "missing" or chosen is None or chosen.value is None:
        lines.append("采用的观测值：未按期上传（按权重的 50% 预扣分）。")
    else:
        lines.append(f"采用的观测值：{_num(chosen.value, unit)}（记录 {chosen.record_id}）。")

    # 2. completion and level
    lines += ["", "## 二、完成度与等级", ""]
    if f.platform_state is not None:
        lines.append("按平台数据计算：")
        lines += _cell_lines(f.platform_state, unit)
    if f.stored is not None and f.stored != f.platform_state:
        lines += ["", "经申诉复查裁定后（现行结果）："]
        lines += _cell_lines(f.stored, unit)
    if f.stored is None:
        lines.append("该月尚未进行月分析。")

    # 3. appeals and rulings
    lines += ["", "## 三、申诉与复查裁定", ""]
    if not f.appeals:
        lines.append("（无申诉）")
    for a in f.appeals:
        kind = APPEAL_KIND_LABELS.get(a.kind, a.kind)
        claimed = (
            f"，申报正确数值 {_num(a.claimed_value, unit)}" if a.claimed_value is not None else ""
        )
        lines.append(
            f"- 申诉 {a.id}（平台编号 {a.platform_id}）：{kind}{claimed}；"
            f"提交于 {_time(a.filed_at)}；"
            f"状态：{appeal_status_label(a.status)}。理由：{a.reason}"
        )
        if a.refusal_reason:
            lines.append(f"  - 不予受理原因：{a.refusal_reason}")
        for r in (r for r in f.rulings if r.appeal_id == a.id):
            detail = ""
            if r.corrected_value is not None:
                detail = f"，更正数值 {_num(r.corrected_value, unit)}"
            if r.share is not None:
                detail = f"，减轻比例 {_pct(r.share)}"
            refused = any(not c.approved for c in r.committee)
            effective = (
                f"自 {_time(r.effective_at)} 起生效"
                if r.effective_at is not None
                else "未生效（考核委未批准，已退回考核办）"
                if refused
                else "尚未生效（待考核委审定）"
            )
            lines.append(
                f"  - 裁定 {r.id}：{_ruling_label(r.kind)}{detail}；{r.reason}"
                f"（文号：{r.document_ref or '—'}，{r.ruled_by or '—'}，"
                f"{_time(r.ruled_at)}）；{effective}"
            )
            if r.recommendation is not None:
                lines.append(f"    - 专家组建议（{r.experts or '专家组'}）：{r.recommendation}")
            for c in r.committee:
                verdict = "批准" if c.approved else "未批准"
                lines.append(
                    f"    - 考核委{verdict}（文号：{c.document_ref or '—'}，{_time(c.decided_at)}）"
                    + (f"：{c.note}" if c.note else "")
                )

    # 4. the deduction ledger
    lines += ["", f"## 四、扣分台账（{f.period[:4]}年，本指标全部条目）", ""]
    running = ZERO
    rows = []
    for e in sorted(f.entries, key=lambda e: e.id):
        running += e.amount
        rows.append(
            [
                str(e.id),
                _month_label(e.period),
                ENTRY_KIND_LABELS.get(e.kind, e.kind),
                STAGE_LABELS.get(e.stage, e.stage),
                _signed(e.amount),
                _pts(running),
                _level(e.level),
                "—" if e.corrects_id is None else str(e.corrects_id),
                _source(e.ruling_id, e.revision_id),
                e.note or "",
            ]
        )
    lines += _table(
        ["条目", "月份", "类型", "阶段", "金额", "累计", "等级", "更正条目", "来源", "说明"],
        rows,
    )
    lines += ["", f"本指标当前扣分（台账合计）：{_pts(running)} 分。"]

    # 5. warnings of the month
    lines += ["", f"## 五、预警台账（{month}）", ""]
    lines += _table(
        ["条目", "等级", "完成度", "更正条目", "来源", "记录时间"],
        [
            [
                str(w.id),
                _level(w.level),
                _pct(w.completion),
                "—" if w.corrects_id is None else str(w.corrects_id),
                _source(w.ruling_id, w.revision_id),
                _time(w.created_at),
            ]
            for w in sorted(f.warnings, key=lambda w: w.id)
        ],
    )

    # 6. negative list
    lines += ["", "## 六、负面清单", ""]
    events = sorted(f.negative, key=lambda n: n.id)
    lines += _table(
        ["条目", "月份", "事件", "来源"],
        [
            [
                str(n.id),
                _month_label(n.period),
                "列入" if n.event == "on" else "移出",
                _source(n.ruling_id, n.revision_id),
            ]
            for n in events
        ],
    )
    on_list = bool(events) and events[-1].event == "on"
    lines += ["", f"当前状态：{'在负面清单中' if on_list else '不在负面清单中'}。"]

    # 7. score
    lines += ["", "## 七、得分", ""]
    if f.total_weight > ZERO:
        score = (Decimal(100) * (f.total_weight - f.unit_deductions) / f.total_weight).quantize(
            _CENT, rounding=ROUND_HALF_UP
        )
        score = min(Decimal(100), max(ZERO, score))
        lines.append(
            f"当前得分 = 100 ×（总权重 {_pts(f.total_weight)} − "
            f"当前扣分 {_pts(f.unit_deductions)}）÷ 总权重 = {_pts(score)} 分。"
        )
    lines.append("")
    current = {(r.cycle, r.period): r.id for r in sorted(f.results, key=lambda r: r.id)}
    lines += _table(
        ["周期", "期次", "版本", "得分", "扣分", "排名", "等次", "原因", "记录时间"],
        [
            [
                CYCLE_LABELS.get(r.cycle, r.cycle),
                r.period,
                f"第 {r.version} 版" + ("（当前）" if current[(r.cycle, r.period)] == r.id else ""),
                _pts(r.score),
                _pts(r.deductions),
                str(r.rank),
                _grade(r.grade),
                _cause(r),
                _time(r.created_at),
            ]
            for r in sorted(f.results, key=lambda r: r.id)
        ],
    )
    return "\n".join(lines) + "\n"
