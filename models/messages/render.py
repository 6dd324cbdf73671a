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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2

from models.rules.levels import Level
from models.rules.periods import PeriodKind, local_text, parse_period
from models.rules.scores import Grade

from .deadlines import appeal_placeholder
from .digest import (
    KIND_LABELS,
    AppealDecision,
    Canonical,
    ConfidentialContentError,
    DeductionChange,
    DigestItem,
    LevelItem,
    MessageKind,
    MissingUpload,
    Rectification,
    ResultItem,
    UnitDigest,
    canonical_form,
    check_item_types,
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

_NORMALISED_MARKERS = tuple(
    (marker, "".join(marker.lower().split())) for marker in ON_SITE_CHECK_MARKERS
)
_ANY_MARKER = re.compile(
    "|".join(r"\s*".join(map(re.escape, normalised)) for _, normalised in _NORMALISED_MARKERS)
)
r"""Any marker, whitespace allowed between its characters: one pass over lowercased text.

It matches exactly when some normalised marker is a substring of the text with all
whitespace removed (``\s`` and `str.split` agree on whitespace)."""


def _lowered(text: str) -> str:
    return html.unescape(text).lower()


def find_confidential_marker(text: str) -> str | None:
    """The first on-site check marker found in `text` (HTML entities decoded), or None."""
    lowered = _lowered(text)
    if _ANY_MARKER.search(lowered) is None:
        return None
    flat = "".join(lowered.split())
    for marker, normalised in _NORMALISED_MARKERS:
        if normalised in flat:
            return marker
    return None


_UNIT_SEAL = object()


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for the outbox: subject, three bodies and the digest's content hash.

    Only `build_unit_message` seals a message as fit for a unit (`for_unit`); the
    outbox (`tasks.delivery.queueing.save_outbox`) refuses any other for a unit.
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
    # Quantized to hundredths, str() never uses an exponent (and is faster than format).
    text = str(value.quantize(_CENT, ROUND_HALF_UP))
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def points_label(value: Decimal) -> str:
    """Points with two decimals: 1.2 → 1.20."""
    return str(value.quantize(_CENT, ROUND_HALF_UP))


def percent_label(completion: Decimal) -> str:
    """A completion ratio as a percentage with one decimal: 0.6667 → 66.7%."""
    return f"{(completion * 100).quantize(_TENTH, ROUND_HALF_UP)}%"


# --------------------------------------------------------------------------- templates


def _environment(*, autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # templates ship with the code: compiled once, no stat per render
    )


_TEXT_ENV = _environment(autoescape=False)
_HTML_ENV = _environment(autoescape=True)
_BLANK_LINES = re.compile(r"\n{3,}")


def _render(name: str, view: Mapping[str, Any]) -> str:
    env = _HTML_ENV if name.endswith(".html.j2") else _TEXT_ENV
    # Attribute access on a namespace is direct; on a dict Jinja first tries (and
    # fails) getattr for each ``v.x`` before indexing. Rows are namespaces too.
    text = env.get_template(name).render(v=SimpleNamespace(**view))
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"


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
        if digest.covers:
            period = f"{period}（此前{_covered(digest.covers)}的提醒已合并至本消息）"
        when = f"将于{deadline}截止上传" if deadline else "即将截止上传"
        return f"{period}考核数据{when}，贵单位以下指标尚未上传数值，请及时在考核平台填报。"
    if kind == MessageKind.ANNUAL_ASSESSMENT and any(
        type(item) is ResultItem for item in digest.items
    ):
        return f"{period}综合考核结果已经确定，现将贵单位的考核结果通知如下。"
    if kind in (
        MessageKind.MONTHLY_ANALYSIS,
        MessageKind.QUARTERLY_MONITORING,
        MessageKind.HALF_YEAR_EVALUATION,
        MessageKind.ANNUAL_ASSESSMENT,
    ):
        if digest.covers:
            return (
                f"此前{_covered(digest.covers)}{kind_label}消息尚未送达，现合并为本消息："
                f"根据考核平台数据，截至{period}{kind_label}，贵单位仍有以下事项需要关注和处理。"
            )
        return f"根据考核平台数据，{period}{kind_label}中贵单位有以下事项需要关注和处理。"
    if kind == MessageKind.APPEAL_OUTCOME:
        return f"贵单位对{period}考核结果提出的申诉已复查完毕，结果如下。"
    if kind == MessageKind.APPEAL_REFUSED:
        return f"贵单位对{period}考核结果提出的申诉不予受理，原因如下。"
    if kind == MessageKind.RECTIFICATION_REMINDER:
        return "以下整改事项即将到期，请抓紧落实，整改完成后在考核平台更新即可。"
    return "请按期完成以下问题的整改，整改完成后在考核平台更新即可。"


def _covered(periods: tuple[str, ...]) -> str:
    """2026-01, 2026-02, 2026-03 → 2026年1月至2026年3月的 (the merged periods, in order)."""
    ordered = sorted(periods)
    if len(ordered) == 1:
        return f"{period_label(ordered[0])}的"
    return f"{period_label(ordered[0])}至{period_label(ordered[-1])}的"


_LEVEL_MARK_LABELS = {level: (mark, Level(level).label) for level, mark in _LEVEL_MARKS.items()}


def _view(digest: UnitDigest, items: tuple[DigestItem, ...], correction: bool) -> dict[str, Any]:
    """What the templates show; ``items`` are the digest's items in `ordered_items` order.

    Rows are namespaces (the templates read ``row.field``).
    """
    kind_label = KIND_LABELS[digest.kind]
    period = period_label(digest.period_key)
    missing: list[SimpleNamespace] = []
    levels: list[SimpleNamespace] = []
    deductions: list[SimpleNamespace] = []
    appeals: list[SimpleNamespace] = []
    rectifications: list[SimpleNamespace] = []
    results: list[SimpleNamespace] = []
    first_missing_deadline: date | None = None
    for item in items:  # exactly of the allowed types (checked): isinstance is type(...) is
        if isinstance(item, LevelItem):
            mark, label = _LEVEL_MARK_LABELS[item.level]
            unit_of_measure = item.unit_of_measure
            levels.append(
                SimpleNamespace(
                    mark=mark,
                    label=label,
                    name=item.indicator_name,
                    code=item.indicator_code,
                    expected=(
                        "—"
                        if item.expected is None
                        else _value_with_unit(item.expected, unit_of_measure)
                    ),
                    actual=_value_with_unit(item.actual, unit_of_measure),
                    completion=(
                        None if item.completion is None else percent_label(item.completion)
                    ),
                )
            )
        elif isinstance(item, DeductionChange):
            deductions.append(
                SimpleNamespace(
                    name=item.indicator_name,
                    code=item.indicator_code,
                    before=points_label(item.before),
                    after=points_label(item.after),
                    label=_deduction_change_label(item),
                )
            )
        elif isinstance(item, MissingUpload):
            if first_missing_deadline is None or item.deadline < first_missing_deadline:
                first_missing_deadline = item.deadline
            missing.append(
                SimpleNamespace(
                    name=item.indicator_name,
                    code=item.indicator_code,
                    deadline=date_label(item.deadline),
                )
            )
        elif isinstance(item, AppealDecision):
            appeals.append(
                SimpleNamespace(
                    name=item.indicator_name,
                    code=item.indicator_code,
                    outcome=_OUTCOME_LABELS[item.outcome],
                    reason=item.reason,
                    before=(
                        None
                        if item.deduction_before is None
                        else points_label(item.deduction_before)
                    ),
                    after=(
                        None if item.deduction_after is None else points_label(item.deduction_after)
                    ),
                )
            )
        elif isinstance(item, Rectification):
            rectifications.append(
                SimpleNamespace(
                    id=item.problem_id,
                    description=item.description,
                    by=date_label(item.rectify_by),
                )
            )
        elif isinstance(item, ResultItem):
            results.append(
                SimpleNamespace(
                    category=item.category_label,
                    score=points_label(item.score),
                    rank=item.rank,
                    size=item.category_size,
                    grade=Grade(item.grade).label,
                )
            )
    deadline_day = digest.deadline
    if deadline_day is None:
        deadline_day = first_missing_deadline
    deadline = None if deadline_day is None else date_label(deadline_day)
    title_prefix = f"【{SENDER}·更正】" if correction else f"【{SENDER}】"
    heading = f"{period}{kind_label}".replace("年度年度", "年度")  # 2026年度考核, not 年度年度
    subject = f"{title_prefix}{heading} · {digest.unit_name}"
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
        "missing": missing,
        "levels": levels,
        "deductions": deductions,
        "appeals": appeals,
        "rectifications": rectifications,
        "results": results,
        "appeal_ends": _appeal_ends(digest),
        "footer": _footer(digest),
    }


def _footer(digest: UnitDigest) -> dict[str, str] | None:
    """The running total of the year's pre-deductions and the link to the unit's data."""
    footer = digest.footer
    if footer is None:
        return None
    return {
        "total": f"{footer.year}年度累计预扣分：{points_label(footer.pre_deductions)} 分",
        "url": footer.unit_url or "",
    }


def _appeal_ends(digest: UnitDigest) -> str | None:
    """The window's last day, or a placeholder filled in at delivery (`deadlines`)."""
    window = digest.appeal_window
    if window is None:
        return None
    if window.ends_on is None:
        return appeal_placeholder(window.working_days)
    return date_label(window.ends_on)


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
    return build_checked_unit_message(digest, canonical_form(digest), correction=correction)


def build_checked_unit_message(
    digest: UnitDigest, canonical: Canonical, *, correction: bool = False
) -> RenderedMessage:
    """`build_unit_message` for a digest whose `canonical_form` was just computed.

    ``canonical`` must be ``canonical_form(digest)``: `models.messages.plan_outbox`
    computes it once for the content hash and hands it here, so the digest is not
    sorted, serialised or hashed again. Not exported: use `build_unit_message`.
    """
    check_item_types(digest)
    if sorted(map(id, canonical.items)) != sorted(map(id, digest.items)):
        raise ValueError("the canonical form given is not the digest's")
    # The canonical JSON has every field of the digest but the display name: with the
    # name appended it is what the unit could be told. Its key order and separators do
    # not matter: markers are matched without whitespace and never span a quote.
    _refuse_markers("digest", canonical.payload + digest.unit_name)
    if digest.kind not in KIND_LABELS:
        raise ValueError(
            f"unknown message kind {digest.kind!r}; expected one of {', '.join(KIND_LABELS)}"
        )
    if digest.is_empty:
        raise ValueError(
            f"nothing to act on for {digest.unit_code} ({digest.kind} {digest.period_key}): "
            "no message is built"
        )
    view = _view(digest, canonical.items, correction)
    rendered = RenderedMessage(
        subject=view["subject"],
        markdown=_render("unit_digest.md.j2", view),
        text=_render("unit_digest.txt.j2", view),
        html=_render("unit_digest.html.j2", view),
        content_hash=canonical.content_hash,
        _seal=_UNIT_SEAL,
    )
    parts = (
        ("subject", rendered.subject),
        ("markdown body", rendered.markdown),
        ("text body", rendered.text),
        ("HTML body", rendered.html),
    )
    # One pass over all four, joined by '"': it is in no marker and in no HTML entity
    # name, so the joined text has a marker exactly when some part has one. Only then
    # is each part scanned, in order, to name the first one with a marker.
    if _ANY_MARKER.search(_lowered('"'.join(text for _, text in parts))) is not None:
        for where, text in parts:
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
    message_id: int | None = None,
) -> RenderedMessage:
    """The operations alert for a unit that could not be reached (to the office only);
    it names the command that queues the message again (``assess outbox requeue ID``).

    ``channels`` must already be redacted and ``last_error`` scrubbed of secrets.
    """

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
        "first_attempt_at": local_text(first_attempt_at),
        "last_attempt_at": local_text(last_attempt_at),
        "requeue": f"assess outbox requeue {message_id}" if message_id is not None else "",
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
