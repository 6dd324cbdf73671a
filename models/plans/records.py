"""Checking raw platform records (pure): keep the good, set aside the bad with a reason."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

PROGRESS_REQUIRED = (
    "record_id",
    "unit_code",
    "indicator_code",
    "period",
    "value",
    "status",
    "updated_at",
)
STATUSES = frozenset({"submitted", "draft", "withdrawn"})

REASON_LABELS: dict[str, str] = {
    "missing_fields": "缺少必填字段",
    "unknown_unit": "单位编码不存在",
    "unknown_indicator": "指标编码不存在或不适用",
    "wrong_period": "填报期与查询期不符",
    "non_numeric_value": "数值不是数字",
    "bad_status": "状态无效",
    "bad_time": "时间格式无效",
    "not_an_object": "记录格式无效",
}


@dataclass(frozen=True)
class GoodRecord:
    record_id: str
    period: str
    unit_id: int
    indicator_id: int
    value: Decimal | None
    status: str
    updated_at: datetime
    reported_at: datetime | None
    evidence_count: int
    note: str | None


@dataclass(frozen=True)
class BadRecord:
    reason: str
    detail: str
    record_id: str | None
    raw: Mapping[str, Any]

    @property
    def fingerprint(self) -> str:
        """Stable across runs, so setting the same record aside twice writes nothing."""
        payload = json.dumps(
            {"reason": self.reason, "raw": self.raw},
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def check_progress_record(
    raw: Any,
    period: str,
    unit_ids: Mapping[str, int],
    indicator_ids: Mapping[str, int],
) -> GoodRecord | BadRecord:
    """Check one raw progress record of the month ``period``.

    ``unit_ids`` / ``indicator_ids`` map the codes we assess to our ids (for the
    indicators: those assessed in the month's year).
    """
    if not isinstance(raw, Mapping):
        return BadRecord("not_an_object", f"expected an object, got {type(raw).__name__}", None, {})
    record_id = raw.get("record_id") if isinstance(raw.get("record_id"), str) else None
    missing = [f for f in PROGRESS_REQUIRED if f not in raw or (raw[f] is None and f != "value")]
    if missing or not record_id:
        fields = ", ".join(missing or ["record_id"])
        return BadRecord("missing_fields", f"missing: {fields}", record_id, raw)
    unit_id = unit_ids.get(str(raw["unit_code"]))
    if unit_id is None:
        return BadRecord("unknown_unit", f"unit_code {raw['unit_code']!r}", record_id, raw)
    indicator_id = indicator_ids.get(str(raw["indicator_code"]))
    if indicator_id is None:
        detail = f"indicator_code {raw['indicator_code']!r}"
        return BadRecord("unknown_indicator", detail, record_id, raw)
    if raw["period"] != period:
        detail = f"period {raw['period']!r} in a query for {period}"
        return BadRecord("wrong_period", detail, record_id, raw)
    status = raw["status"]
    if status not in STATUSES:
        return BadRecord("bad_status", f"status {status!r}", record_id, raw)
    value = raw["value"]
    number: Decimal | None = None
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return BadRecord("non_numeric_value", f"value {value!r}", record_id, raw)
        try:
            number = Decimal(str(value))
        except InvalidOperation:  # pragma: no cover - int/float always convert
            return BadRecord("non_numeric_value", f"value {value!r}", record_id, raw)
        if not number.is_finite():
            return BadRecord("non_numeric_value", f"value {value!r}", record_id, raw)
    elif status == "submitted":
        return BadRecord("non_numeric_value", "a submitted record has no value", record_id, raw)
    updated_at = _time(raw["updated_at"])
    if updated_at is None:
        return BadRecord("bad_time", f"updated_at {raw['updated_at']!r}", record_id, raw)
    reported_at = _time(raw.get("reported_at"))
    evidence = raw.get("evidence_count")
    note = raw.get("note")
    return GoodRecord(
        record_id=record_id,
        period=period,
        unit_id=unit_id,
        indicator_id=indicator_id,
        value=number,
        status=status,
        updated_at=updated_at,
        reported_at=reported_at,
        evidence_count=evidence if isinstance(evidence, int) and evidence >= 0 else 0,
        note=note if isinstance(note, str) else None,
    )


ProgressRow = tuple[
    str, str, int, int, Decimal | None, str, datetime, datetime | None, int, str | None
]
"""A good record as a row: GoodRecord's fields in order (record_id, period, unit_id,
indicator_id, value, status, updated_at, reported_at, evidence_count, note)."""


@dataclass
class CheckedPage:
    """A page of raw progress records checked: good rows, bad records, and more."""

    good: list[ProgressRow] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)
    high_water: datetime | None = None
    """The latest ``updated_at`` of the good rows (the first one seen among equals)."""
    reasons: dict[str, int] = field(default_factory=dict)
    """How many bad records per reason, in order of first appearance."""


def _row(good: GoodRecord) -> ProgressRow:
    return (
        good.record_id,
        good.period,
        good.unit_id,
        good.indicator_id,
        good.value,
        good.status,
        good.updated_at,
        good.reported_at,
        good.evidence_count,
        good.note,
    )


def check_progress_page(
    items: Iterable[Any],
    period: str,
    unit_ids: Mapping[str, int],
    indicator_ids: Mapping[str, int],
) -> CheckedPage:
    """:func:`check_progress_record` over a page, good records as rows.

    The same verdicts, faster: a record that is plainly good (a dict whose fields all
    have their JSON types and valid values) becomes a row at once; every other record
    goes through :func:`check_progress_record`, which gives it its reason.
    """
    page = CheckedPage()
    good = page.good
    high_water: datetime | None = None
    for raw in items:
        row: ProgressRow | None = None
        if type(raw) is dict:
            row = _plainly_good(raw, period, unit_ids, indicator_ids)
        if row is None:
            checked = check_progress_record(raw, period, unit_ids, indicator_ids)
            if isinstance(checked, BadRecord):
                page.bad.append(checked)
                page.reasons[checked.reason] = page.reasons.get(checked.reason, 0) + 1
                continue
            row = _row(checked)
        good.append(row)
        if high_water is None or row[6] > high_water:
            high_water = row[6]
    page.high_water = high_water
    return page


def _plainly_good(
    raw: dict[str, Any],
    period: str,
    unit_ids: Mapping[str, int],
    indicator_ids: Mapping[str, int],
) -> ProgressRow | None:
    """The row of a record that passes every check with plain JSON types, else None
    (None means "ask check_progress_record", never "bad")."""
    get = raw.get
    record_id = get("record_id")
    unit_code = get("unit_code")
    indicator_code = get("indicator_code")
    raw_period = get("period")
    status = get("status")
    updated = get("updated_at")
    if (
        type(record_id) is not str
        or not record_id
        or type(unit_code) is not str
        or type(indicator_code) is not str
        or type(raw_period) is not str
        or raw_period != period
        or type(status) is not str
        or status not in STATUSES
        or type(updated) is not str
        or "value" not in raw
    ):
        return None
    unit_id = unit_ids.get(unit_code)
    indicator_id = indicator_ids.get(indicator_code)
    if unit_id is None or indicator_id is None:
        return None
    value = raw["value"]
    kind = type(value)
    number: Decimal | None
    if kind is float or kind is int:
        number = Decimal(str(value))
        if not number.is_finite():
            return None
    elif value is None and status != "submitted":
        number = None
    else:
        return None
    try:
        updated_at = datetime.fromisoformat(updated.replace("Z", "+00:00"))
    except ValueError:
        return None
    if updated_at.tzinfo is None:
        return None
    reported = get("reported_at")
    reported_at = updated_at if reported == updated else _time(reported)
    evidence = get("evidence_count")
    note = get("note")
    return (
        record_id,
        period,
        unit_id,
        indicator_id,
        number,
        status,
        updated_at,
        reported_at,
        evidence if isinstance(evidence, int) and evidence >= 0 else 0,
        note if isinstance(note, str) else None,
    )
