"""Rendering messages: THE one place a message to an assessed unit is built.

`build_unit_message` turns a `UnitDigest` into a subject and three bodies:
markdown (DingTalk, WeCom, Feishu robots and JSON webhooks), plain text, and
HTML (email; autoescaped). Text is Chinese and names the period, the
indicators with expected and actual values, the deadline and the end of the
appeal window; a correction says it replaces the earlier message (更正).

Confidential by construction (rulebook section 8): on-site check plans
(四不两直) never reach an assessed unit. `build_unit_message` refuses, with
`ConfidentialContentError`,

1. anything that is not a `UnitDigest` whose items are exactly one of
   `ALLOWED_ITEM_TYPES` (missing uploads, level items, deduction changes,
   rectifications, appeal decisions); a plan, a candidate list or a sample has
   no item type and cannot be expressed, and
2. any digest whose fields or rendered subject/bodies mention an on-site check
   plan: the markers in `ON_SITE_CHECK_MARKERS` (e.g. 四不两直, 暗访, 现场检查计划,
   抽查名单, onsite_check), matched case-insensitively and ignoring whitespace.

So a finding's description written into a rectification must not name the
check plan; the error names the marker so the office can reword it.

Office-facing messages (to the operations channel) are built by
`build_office_alert`; they never go to a unit.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jinja2

from models.rules.levels import Level
from models.rules.periods import PeriodKind, parse_period

from .digest import (
    KIND_LABELS,
    AppealDecision,
    ConfidentialContentError,
    DeductionChange,
    LevelItem,
    MessageKind,
    MissingUpload,
    Rectification,
    UnitDigest,
    canonical_digest,
    check_item_types,
    content_hash,
    ordered_items,
)

__all__ = [
    "ON_SITE_CHECK_MARKERS",
    "SENDER",
    "RenderedMessage",
    "build_office_alert",
    "build_unit_message",
    "date_label",
    "find_confidential_marker",
    "number_label",
    "percent_label",
    "period_label",
    "points_label",
]

TEMPLATES_DIR = Path(__file__).parent / "templates"
SENDER = "市考核办"
SUBJECT_MAX = 300

ON_SITE_CHECK_MARKERS: tuple[str, ...] = (
    "四不两直",
    "暗访",
    "明察暗访",
    "突击检查",
    "现场检查计划",
    "现场检查名单",
    "现场核查计划",
    "抽查名单",
    "抽查计划",
    "抽检名单",
    "不发通知",
    "不打招呼",
    "不听汇报",
    "不用陪同",
    "直奔基层",
    "直插现场",
    "onsite_check",
    "onsite-check",
    "onsitecheck",
    "on-sitecheck",
    "on_site_check",
)
"""Words that betray an on-site check plan; a message to a unit containing one is refused.

Matched after lowercasing and removing all whitespace (so "onsite check" and
"四 不 两 直" match too)."""

_WS = re.compile(r"\s+")
_NORMALISED_MARKERS = tuple(_WS.sub("", m.lower()) for m in ON_SITE_CHECK_MARKERS)


def find_confidential_marker(text: str) -> str | None:
    """The first on-site check marker found in `text` (HTML entities decoded), or None."""
    flat = _WS.sub("", html.unescape(text).lower())
    for marker, normalised in zip(ON_SITE_CHECK_MARKERS, _NORMALISED_MARKERS, strict=True):
        if normalised in flat:
            return marker
    return None


_UNIT_SEAL = object()


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for the outbox: subject, three bodies and the digest's content hash.

    Only `build_unit_message` seals a message as fit for a unit (`for_unit`); the
    outbox (`tasks.notify.save_outbox`) refuses any other for a unit.
    """

    subject: str
    markdown: str
    text: str
    html: str
    content_hash: str
    _seal: object = field(default=None, repr=False, compare=False)

    @property
    def for_unit(self) -> bool:
        """Built (and checked) by `build_unit_message`."""
        return self._seal is _UNIT_SEAL


# -------------------------------------------------------------------------- formatting

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")
_HALF_NAMES = {1: "上半年", 2: "下半年"}
_QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


def period_label(period_key: str) -> str:
    """2026-09 → 2026年9月; 2026-Q3 → 2026年第三季度; 2026-H1 → 2026年上半年; 2026 → 2026年度."""
    period = parse_period(period_key)
    if period.kind is PeriodKind.MONTH:
        return f"{period.year}年{period.index}月"
    if period.kind is PeriodKind.QUARTER:
        return f"{period.year}年{_QUARTER_NAMES[period.index]}"
    if period.kind is PeriodKind.HALF:
        return f"{period.year}年{_HALF_NAMES[period.index]}"
    return f"{period.year}年度"


def date_label(day: date) -> str:
    """2026-10-08 → 2026年10月8日."""
    return f"{day.year}年{day.month}月{day.day}日"


def number_label(value: Decimal) -> str:
    """A value as the unit reads it: at most two decimals (half up), no trailing zeros."""
    text = format(value.quantize(_CENT, rounding=ROUND_HALF_UP).normalize(), "f")
    return "0" if text == "-0" else text


def points_label(value: Decimal) -> str:
    """Points with two decimals: 1.2 → 1.20."""
    return format(value.quantize(_CENT, rounding=ROUND_HALF_UP), "f")


def percent_label(completion: Decimal) -> str:
    """A completion ratio as a percentage with one decimal: 0.6667 → 66.7%."""
    return f"{format((completion * 100).quantize(_TENTH, rounding=ROUND_HALF_UP), 'f')}%"


# --------------------------------------------------------------------------- templates


def _environment(*, autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


_TEXT_ENV = _environment(autoescape=False)
_HTML_ENV = _environment(autoescape=True)


def _render(name: str, view: dict[str, Any]) -> str:
    env = _HTML_ENV if name.endswith(".html.j2") else _TEXT_ENV
    text = env.get_template(name).render(v=view)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# ------------------------------------------------------------------------ unit messages

_LEVEL_MARKS = {"missing": "🔴", "red": "🔴", "orange": "🟠", "yellow": "🟡"}
_OUTCOME_LABELS = {
    "rejected": "维持原结果（申诉未获支持）",
    "corrected": "更正数值并重新核算",
    "waived": "免予扣分",
    "reduced": "减轻扣分",
    "refused": "不予受理",
}


def _value_with_unit(value: Decimal | None, unit_of_measure: str) -> str:
    if value is None:
        return "未上传"
    return f"{number_label(value)}{unit_of_measure}"


def _deduction_change_label(change: DeductionChange) -> str:
    if change.before == 0:
        return "新增预扣分"
    if change.after == 0:
        return "预扣分已释放"
    if change.after > change.before:
        return "预扣分增加"
    return "预扣分减少"


def _intro(digest: UnitDigest, period: str, kind_label: str, deadline: str | None) -> str:
    kind = digest.kind
    if kind == MessageKind.PRE_DEADLINE_REMINDER:
        when = f"将于{deadline}截止上传" if deadline else "即将截止上传"
        return f"{period}考核数据{when}，贵单位以下指标尚未上传数值，请及时在考核平台填报。"
    if kind in (
        MessageKind.MONTHLY_ANALYSIS,
        MessageKind.QUARTERLY_MONITORING,
        MessageKind.HALF_YEAR_EVALUATION,
        MessageKind.ANNUAL_ASSESSMENT,
    ):
        return f"根据考核平台数据，{period}{kind_label}中贵单位有以下事项需要关注和处理。"
    if kind == MessageKind.APPEAL_OUTCOME:
        return f"贵单位对{period}考核结果提出的申诉已复查完毕，结果如下。"
    if kind == MessageKind.APPEAL_REFUSED:
        return f"贵单位对{period}考核结果提出的申诉不予受理，原因如下。"
    if kind == MessageKind.RECTIFICATION_REMINDER:
        return "以下整改事项即将到期，请抓紧落实，整改完成后在考核平台更新即可。"
    return "请按期完成以下问题的整改，整改完成后在考核平台更新即可。"


def _view(digest: UnitDigest, correction: bool) -> dict[str, Any]:
    kind_label = KIND_LABELS[digest.kind]
    period = period_label(digest.period_key)
    items = ordered_items(digest)
    missing = [i for i in items if type(i) is MissingUpload]
    deadline_day = digest.deadline
    if deadline_day is None and missing:
        deadline_day = min(i.deadline for i in missing)
    deadline = None if deadline_day is None else date_label(deadline_day)
    levels = []
    for item in items:
        if type(item) is not LevelItem:
            continue
        levels.append(
            {
                "mark": _LEVEL_MARKS[item.level],
                "label": Level(item.level).label,
                "name": item.indicator_name,
                "code": item.indicator_code,
                "expected": (
                    "—"
                    if item.expected is None
                    else _value_with_unit(item.expected, item.unit_of_measure)
                ),
                "actual": _value_with_unit(item.actual, item.unit_of_measure),
                "completion": None if item.completion is None else percent_label(item.completion),
            }
        )
    title_prefix = f"【{SENDER}·更正】" if correction else f"【{SENDER}】"
    subject = f"{title_prefix}{period}{kind_label} · {digest.unit_name}"
    return {
        "subject": subject[:SUBJECT_MAX],
        "unit_name": digest.unit_name,
        "unit_code": digest.unit_code,
        "sender": SENDER,
        "kind_label": kind_label,
        "period": period,
        "correction": correction,
        "intro": _intro(digest, period, kind_label, deadline),
        "deadline": deadline,
        "missing": [
            {
                "name": i.indicator_name,
                "code": i.indicator_code,
                "deadline": date_label(i.deadline),
            }
            for i in missing
        ],
        "levels": levels,
        "deductions": [
            {
                "name": i.indicator_name,
                "code": i.indicator_code,
                "before": points_label(i.before),
                "after": points_label(i.after),
                "label": _deduction_change_label(i),
            }
            for i in items
            if type(i) is DeductionChange
        ],
        "appeals": [
            {
                "name": i.indicator_name,
                "code": i.indicator_code,
                "outcome": _OUTCOME_LABELS[i.outcome],
                "reason": i.reason,
                "before": None if i.deduction_before is None else points_label(i.deduction_before),
                "after": None if i.deduction_after is None else points_label(i.deduction_after),
            }
            for i in items
            if type(i) is AppealDecision
        ],
        "rectifications": [
            {"id": i.problem_id, "description": i.description, "by": date_label(i.rectify_by)}
            for i in items
            if type(i) is Rectification
        ],
        "appeal_ends": (
            None if digest.appeal_window is None else date_label(digest.appeal_window.ends_on)
        ),
    }


def _refuse_markers(where: str, text: str) -> None:
    marker = find_confidential_marker(text)
    if marker is not None:
        raise ConfidentialContentError(
            f"refused: the {where} mentions an on-site check plan ({marker!r}); "
            "on-site check plans are never sent to an assessed unit"
        )


def build_unit_message(digest: UnitDigest, *, correction: bool = False) -> RenderedMessage:
    """Render the message to one unit; THE one place messages to units are built.

    Raises `ConfidentialContentError` for anything that is not an allowed item
    or that mentions an on-site check plan (see the module docstring), and
    ValueError for an unknown kind, a bad period or an empty digest.
    """
    check_item_types(digest)
    raw = json.dumps(canonical_digest(digest), ensure_ascii=False) + digest.unit_name
    _refuse_markers("digest", raw)
    if digest.kind not in KIND_LABELS:
        raise ValueError(
            f"unknown message kind {digest.kind!r}; expected one of {', '.join(KIND_LABELS)}"
        )
    if digest.is_empty:
        raise ValueError(
            f"nothing to act on for {digest.unit_code} ({digest.kind} {digest.period_key}): "
            "no message is built"
        )
    view = _view(digest, correction)
    rendered = RenderedMessage(
        subject=view["subject"],
        markdown=_render("unit_digest.md.j2", view),
        text=_render("unit_digest.txt.j2", view),
        html=_render("unit_digest.html.j2", view),
        content_hash=content_hash(digest),
        _seal=_UNIT_SEAL,
    )
    for where, text in (
        ("subject", rendered.subject),
        ("markdown body", rendered.markdown),
        ("text body", rendered.text),
        ("HTML body", rendered.html),
    ):
        _refuse_markers(where, text)
    return rendered


# ------------------------------------------------------------------------ office alerts


def build_office_alert(
    *,
    unit_code: str,
    unit_name: str,
    message_subject: str,
    message_kind: str,
    period_key: str,
    attempts: int,
    channels: tuple[str, ...],
    last_error: str,
    first_attempt_at: datetime | None,
    last_attempt_at: datetime | None,
) -> RenderedMessage:
    """The operations alert for a unit that could not be reached (to the office only).

    ``channels`` must already be redacted and ``last_error`` scrubbed of secrets.
    """

    def when(at: datetime | None) -> str:
        return "—" if at is None else at.strftime("%Y-%m-%d %H:%M %Z").strip()

    view: dict[str, Any] = {
        "subject": f"【运维告警】消息无法送达：{unit_name}（{unit_code}）"[:SUBJECT_MAX],
        "unit_name": unit_name,
        "unit_code": unit_code,
        "message_subject": message_subject,
        "kind_label": KIND_LABELS.get(message_kind, message_kind),
        "period": period_key,
        "attempts": attempts,
        "channels": list(channels) or ["（未配置任何渠道）"],
        "last_error": last_error or "—",
        "first_attempt_at": when(first_attempt_at),
        "last_attempt_at": when(last_attempt_at),
    }
    digest = {k: v for k, v in view.items() if k != "subject"}
    digest_hash = hashlib.sha256(
        json.dumps(digest, ensure_ascii=False, sort_keys=True).encode("utf-8")
    ).hexdigest()
    return RenderedMessage(
        subject=view["subject"],
        markdown=_render("unit_unreachable.md.j2", view),
        text=_render("unit_unreachable.txt.j2", view),
        html=_render("unit_unreachable.html.j2", view),
        content_hash=digest_hash,
    )
