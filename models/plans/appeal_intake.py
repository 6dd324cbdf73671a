"""Appeal intake (申诉受理) as a pure plan: register, refuse with a reason, or set aside.

``plan_intake`` checks each raw appeal from the platform against plain data
(``IntakeContext``: our units and indicators, when each month's result reached
each unit, the working-day calendar and each year's rules) and decides:

- *set aside* (``BadRecord``, kept in ``quarantined_record`` with source
  ``appeals``): records we cannot attribute to one of our units, indicators
  and months (not an object, a required field missing or of the wrong type, an
  unknown unit or indicator, a period that is not a month, an unreadable
  ``filed_at``), or that break a limit of ``models.plans.limits`` (an appeal id
  too long for its column or holding control characters, a claimed value beyond
  the plausible range or negative for a count, a ``filed_at`` later than *now*
  plus the allowed clock skew). Nobody can be told about these but the office.
- *refuse* (an ``Appeal`` with status ``refused`` and the reason in Chinese, and
  the unit is told): attributable appeals that cannot be accepted: outside the
  appeal window, about an indicator that does not apply to the unit, of an
  unknown kind, a data-error appeal without a usable value, no reason given.
- *register* (status ``registered``): everything else, waiting for a ruling.

The appeal window (rulebook section 7): 5 working days after the month's result
was *sent* to the unit. The result of month m is sent at the monthly analysis
of m: we take the latest ``delivered_at`` of the unit's ``monthly_analysis``
message for m when there is one (a correction the unit received restarts the
window, since it received changed results), else the monthly analysis run time
``WorkCalendar.monthly_analysis_at(m)``, which is when the results were published
on the platform. An appeal filed before the analysis ran has no result to
appeal; one filed after the analysis but before the message was delivered is in
time (the unit could already see its results).

Catch-up (``result_deliveries``): a month's message merged into a newer month's message
(``merged``, see ``models.messages.merging``) reached the unit when that message did: its
window counts from that delivery. A month whose message is still waiting (or merged into
one still waiting) has not been sent: its window has not begun (``IntakeContext.awaiting``),
so an appeal about it is in time. The message names its deadline from the same delivery
day (``models.messages.deadlines``).

The watermark to read from next time (``IntakePlan.high_water``) is the latest
readable ``filed_at`` that is not in the future, never later than *now*: an appeal
stamped in the future is set aside and does not move it.

Nothing here reads a database, the network or the clock (*now* is in the context).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from models.plans.limits import (
    MAX_APPEAL_REASON,
    MAX_RECORD_ID,
    clean_text,
    latest_acceptable,
    number_problem,
    parse_time,
)
from models.plans.records import BadRecord, identifier_bad, not_an_object
from models.rules import (
    DEFAULT_RULES,
    AppealStatus,
    Period,
    WorkCalendar,
    YearRules,
    intake_status,
    is_appeal_in_time,
)
from models.rules.periods import local_text, to_shanghai

__all__ = [
    "APPEAL_KINDS",
    "APPEAL_REQUIRED",
    "KIND_LABELS",
    "QUARANTINE_LABELS",
    "IndicatorRef",
    "IntakeContext",
    "IntakePlan",
    "NewAppeal",
    "ResultMessage",
    "UnitRef",
    "check_appeal",
    "plan_intake",
    "result_deliveries",
    "window_check",
]

APPEAL_REQUIRED = ("appeal_id", "unit_code", "indicator_code", "period", "reason", "filed_at")
APPEAL_KINDS = ("data_error", "force_majeure", "innovation", "other")
KIND_LABELS: dict[str, str] = {
    "data_error": "数据有误",
    "force_majeure": "不可抗力（规划政策调整、自然灾害）",
    "innovation": "改革创新探索",
    "other": "其他",
}

QUARANTINE_LABELS: dict[str, str] = {
    "not_an_object": "记录格式无效",
    "missing_fields": "缺少必填字段",
    "bad_type": "字段类型无效",
    "unknown_unit": "单位编码不存在",
    "unknown_indicator": "指标编码不存在",
    "bad_period": "申诉期次不是月份",
    "bad_time": "提交时间格式无效",
    "future_time": "提交时间晚于当前时间",
    "too_long": "字段超长",
    "bad_characters": "字段含有控制字符或无效字符",
    "value_out_of_range": "申诉所附数值超出合理范围",
}
"""Chinese labels of the reasons a raw appeal is set aside (for the office's artifact)."""

_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_REASON_MAX = MAX_APPEAL_REASON
_REFUSAL_MAX = 500
_KIND_MAX = 20


@dataclass(frozen=True)
class UnitRef:
    id: int
    category: str


@dataclass(frozen=True)
class IndicatorRef:
    id: int
    categories: frozenset[str]
    count: bool = False
    """Its values are counts (milestones completed): a claimed value is never negative."""


@dataclass(frozen=True)
class IntakeContext:
    """What checking appeals needs, as plain data.

    ``indicators`` maps (year, code) to the year's assessed indicator;
    ``delivered_at`` maps (unit id, month key) to the latest delivery of the unit's
    monthly-analysis message for that month; ``rules`` maps a year to its rules
    (a year absent uses the defaults); ``now`` is the run's time: an appeal filed
    later than now (plus the allowed clock skew) is set aside (None: not checked).
    """

    units: Mapping[str, UnitRef]
    indicators: Mapping[tuple[int, str], IndicatorRef]
    calendar: WorkCalendar
    delivered_at: Mapping[tuple[int, str], datetime] = field(default_factory=dict)
    rules: Mapping[int, YearRules] = field(default_factory=dict)
    now: datetime | None = None
    awaiting: frozenset[tuple[int, str]] = frozenset()
    """(unit id, month key) whose result message is queued but has not reached the unit."""


@dataclass(frozen=True)
class ResultMessage:
    """A unit's monthly-analysis message, as far as the appeal window is concerned."""

    id: int
    unit_id: int
    period: str
    status: str
    delivered_at: datetime | None
    merged_into_id: int | None = None


_NOT_SENT = frozenset({"withdrawn"})
_MAX_HOPS = 100


def result_deliveries(
    messages: Iterable[ResultMessage],
) -> tuple[dict[tuple[int, str], datetime], frozenset[tuple[int, str]]]:
    """When each (unit, month)'s result reached the unit, and which have not yet.

    A month's delivery is the latest ``delivered_at`` of its own messages; else, if one of
    them was merged into a newer message, the delivery of that message's month (followed
    through further merges). A month with a message but no delivery is *awaiting*.
    """
    rows = list(messages)
    by_id = {m.id: m for m in rows}
    delivered: dict[tuple[int, str], datetime] = {}
    merged_into: dict[tuple[int, str], int] = {}
    slots: set[tuple[int, str]] = set()
    for m in rows:
        slot = (m.unit_id, m.period)
        if m.status in _NOT_SENT:
            continue
        slots.add(slot)
        if m.delivered_at is not None and (
            slot not in delivered or m.delivered_at > delivered[slot]
        ):
            delivered[slot] = m.delivered_at
        if m.merged_into_id is not None:
            merged_into[slot] = m.merged_into_id
    out = dict(delivered)
    awaiting: set[tuple[int, str]] = set()
    for slot in sorted(slots - set(delivered)):
        at: datetime | None = None
        target_id = merged_into.get(slot)
        for _ in range(_MAX_HOPS):
            target = by_id.get(target_id) if target_id is not None else None
            if target is None:
                break
            target_slot = (target.unit_id, target.period)
            at = delivered.get(target_slot)
            if at is not None:
                break
            target_id = merged_into.get(target_slot)
        if at is None:
            awaiting.add(slot)
        else:
            out[slot] = at
    return out, frozenset(awaiting)


@dataclass(frozen=True)
class NewAppeal:
    """An appeal to store: ``status`` registered or refused (with ``refusal_reason``)."""

    platform_id: str
    unit_id: int
    indicator_id: int
    period: str
    kind: str
    claimed_value: Decimal | None
    reason: str
    filed_at: datetime
    status: str
    refusal_reason: str = ""

    @property
    def refused(self) -> bool:
        return self.status == AppealStatus.REFUSED


@dataclass(frozen=True)
class IntakePlan:
    appeals: tuple[NewAppeal, ...]
    bad: tuple[BadRecord, ...]
    high_water: datetime | None
    """The latest readable ``filed_at`` seen that is not in the future, at most *now*
    (the watermark to read from next time)."""

    @property
    def registered(self) -> tuple[NewAppeal, ...]:
        return tuple(a for a in self.appeals if not a.refused)

    @property
    def refused(self) -> tuple[NewAppeal, ...]:
        return tuple(a for a in self.appeals if a.refused)


def _time(value: Any) -> datetime | None:
    return parse_time(value)


def _zh_time(when: datetime) -> str:
    local = to_shanghai(when)
    return f"{local.year}年{local.month}月{local.day}日{local:%H:%M}"


def window_check(
    filed_at: datetime,
    analysis_at: datetime,
    delivered_at: datetime | None,
    calendar: WorkCalendar,
    rules: YearRules = DEFAULT_RULES,
    *,
    awaiting: bool = False,
) -> tuple[bool, str]:
    """Whether an appeal filed at ``filed_at`` is inside its window, with the reason in Chinese.

    ``analysis_at``: when the month's analysis ran (its results published);
    ``delivered_at``: when the unit's monthly-analysis message was last delivered, if it
    was; ``awaiting``: its message is queued but has not reached the unit (the window has
    not begun). See the module docstring.
    """
    if filed_at < analysis_at:
        return False, (
            f"申诉提交时间（{_zh_time(filed_at)}）早于该月考核结果发布时间"
            f"（{_zh_time(analysis_at)}），无对应结果可申诉。"
        )
    sent_at = (
        delivered_at if delivered_at is not None and delivered_at > analysis_at else analysis_at
    )
    if filed_at < sent_at or (awaiting and delivered_at is None):
        return True, "在申诉期内：结果已发布，通知送达前提出的申诉同样受理。"
    return is_appeal_in_time(sent_at, filed_at, calendar, rules)


def _bad(reason: str, detail: str, record_id: str | None, raw: Mapping[str, Any]) -> BadRecord:
    return BadRecord(reason, detail[:500], record_id, raw)


def check_appeal(raw: Any, ctx: IntakeContext) -> NewAppeal | BadRecord:
    """Check one raw appeal: a ``NewAppeal`` (registered or refused) or a ``BadRecord``."""
    if not isinstance(raw, Mapping):
        return not_an_object(raw)
    appeal_id = raw.get("appeal_id") if isinstance(raw.get("appeal_id"), str) else None
    missing = [f for f in APPEAL_REQUIRED if raw.get(f) is None or raw.get(f) == ""]
    if missing:
        return _bad("missing_fields", "missing: " + ", ".join(missing), appeal_id, raw)
    wrong = [f for f in APPEAL_REQUIRED if not isinstance(raw[f], str)]
    if wrong:
        return _bad("bad_type", "not a string: " + ", ".join(wrong), appeal_id, raw)
    assert appeal_id is not None
    bad_id = identifier_bad("appeal_id", appeal_id, MAX_RECORD_ID)
    if bad_id is not None:
        return _bad(*bad_id, appeal_id, raw)
    unit = ctx.units.get(raw["unit_code"])
    if unit is None:
        return _bad("unknown_unit", f"unit_code {raw['unit_code']!r}", appeal_id, raw)
    period = raw["period"]
    if not _MONTH.match(period):
        return _bad("bad_period", f"period {period!r} is not a month", appeal_id, raw)
    month = Period.parse(period)
    indicator = ctx.indicators.get((month.year, raw["indicator_code"]))
    if indicator is None:
        detail = f"indicator_code {raw['indicator_code']!r} in {month.year}"
        return _bad("unknown_indicator", detail, appeal_id, raw)
    filed_at = _time(raw["filed_at"])
    if filed_at is None:
        return _bad("bad_time", f"filed_at {raw['filed_at'][:80]!r}", appeal_id, raw)
    if ctx.now is not None and filed_at > latest_acceptable(ctx.now):
        shown = raw["filed_at"][:80]
        detail = f"filed_at {shown!r} is later than now ({local_text(ctx.now)} 北京时间)"
        return _bad("future_time", detail, appeal_id, raw)

    kind_raw = raw.get("kind")
    kind = kind_raw if isinstance(kind_raw, str) and kind_raw else "other"
    claimed_raw = raw.get("claimed_value")
    claimed: Decimal | None = None
    claimed_ok = True
    if claimed_raw is not None:
        if isinstance(claimed_raw, bool) or not isinstance(claimed_raw, int | float):
            claimed_ok = False
        else:
            try:
                claimed = Decimal(str(claimed_raw))
            except InvalidOperation:  # pragma: no cover - ints and floats always convert
                claimed_ok = False
            if claimed is not None and not claimed.is_finite():
                claimed, claimed_ok = None, False
    if claimed is not None:
        problem = number_problem(claimed, count=indicator.count)
        if problem is not None:
            return _bad(problem[0], f"claimed_value: {problem[1]}", appeal_id, raw)
    rules = ctx.rules.get(month.year, DEFAULT_RULES)

    refusal = ""
    if unit.category not in indicator.categories:
        refusal = "该指标不适用于贵单位所属类别，无对应考核结果可申诉。"
    if not refusal:
        in_time, why = window_check(
            filed_at,
            ctx.calendar.monthly_analysis_at(month, rules),
            ctx.delivered_at.get((unit.id, month.key)),
            ctx.calendar,
            rules,
            awaiting=(unit.id, month.key) in ctx.awaiting,
        )
        refusal = "" if in_time else why
    if not refusal and kind not in APPEAL_KINDS:
        refusal = (
            f"申诉类型“{kind[:40]}”无法识别，应为数据有误、不可抗力（规划政策调整、自然灾害）、"
            "改革创新探索或其他。"
        )
    if not refusal and not claimed_ok:
        refusal = f"申诉所附正确数值“{str(claimed_raw)[:40]}”不是数字，请更正后重新提交。"
    if not refusal and kind == "data_error" and claimed is None:
        refusal = "以数据有误为由申诉，须同时提供正确数值，请补充后重新提交。"
    if not refusal and not raw["reason"].strip():
        refusal = "未填写申诉理由。"
    return NewAppeal(
        platform_id=appeal_id,
        unit_id=unit.id,
        indicator_id=indicator.id,
        period=month.key,
        kind=clean_text(kind, _KIND_MAX),
        claimed_value=claimed,
        reason=clean_text(raw["reason"], _REASON_MAX),
        filed_at=filed_at,
        status=intake_status(bool(refusal)).value,
        refusal_reason=clean_text(refusal, _REFUSAL_MAX),
    )


def plan_intake(items: Iterable[Any], ctx: IntakeContext) -> IntakePlan:
    """Check a batch of raw appeals; the same ``appeal_id`` twice keeps the first."""
    appeals: list[NewAppeal] = []
    bad: list[BadRecord] = []
    seen: set[str] = set()
    high_water: datetime | None = None
    latest = None if ctx.now is None else latest_acceptable(ctx.now)
    for raw in items:
        if isinstance(raw, Mapping):
            filed = _time(raw.get("filed_at"))
            if (
                filed is not None
                and (latest is None or filed <= latest)
                and (high_water is None or filed > high_water)
            ):
                high_water = filed
        checked = check_appeal(raw, ctx)
        if isinstance(checked, BadRecord):
            bad.append(checked)
            continue
        if checked.platform_id in seen:
            continue
        seen.add(checked.platform_id)
        appeals.append(checked)
    if high_water is not None and ctx.now is not None and high_water > ctx.now:
        high_water = ctx.now
    return IntakePlan(tuple(appeals), tuple(bad), high_water)
