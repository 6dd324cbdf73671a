"""Checking raw platform records (pure): keep the good, set aside the bad with a reason."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from models.plans.limits import (
    MAX_ABS_VALUE,
    MAX_DETAIL,
    MAX_EVIDENCE_COUNT,
    MAX_NOTE,
    MAX_REASON_CODE,
    MAX_RECORD_ID,
    clean_text,
    clip,
    identifier_problem,
    is_month,
    latest_acceptable,
    number_problem,
    parse_time,
    safe_json,
    values_equal,
)
from models.rules.periods import local_text

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
    "non_finite_value": "数值不是有限数（NaN 或无穷大）",
    "value_out_of_range": "数值超出合理范围",
    "bad_status": "状态无效",
    "bad_time": "时间格式无效",
    "future_time": "时间晚于当前时间",
    "bad_type": "字段类型无效",
    "too_long": "字段超长",
    "bad_characters": "字段含有控制字符或无效字符",
    "not_an_object": "记录格式无效",
    "conflicting_version": "同一版本（记录编号与更新时间相同）数值不一致",
}
"""Chinese labels of the reasons a platform record is set aside (for the office)."""


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
            {"reason": self.reason, "raw": safe_json(dict(self.raw))},
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8", "replace")).hexdigest()


def not_an_object(item: Any, period: str | None = None) -> BadRecord:
    """A page item that is not a JSON object, kept (made safe) so it can be looked at."""
    raw: dict[str, Any] = {"item": safe_json(item)}
    if period is not None:
        raw["period"] = period
    return BadRecord("not_an_object", f"expected an object, got {_json_type(item)}", None, raw)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    return clip(repr(value), 80)


def identifier_bad(name: str, value: Any, limit: int) -> tuple[str, str] | None:
    """(reason, detail) when ``value`` cannot be stored as the identifier ``name``."""
    problem = identifier_problem(value, limit)
    if problem is None:
        return None
    if not isinstance(value, str):
        return "bad_type", f"{name} is {_json_type(value)}, not a string"
    if len(value) > limit:
        return "too_long", f"{name} has {problem}"
    if not value:
        return "missing_fields", f"missing: {name}"
    return "bad_characters", f"{name} {_show(value)} {problem}"


def check_progress_record(
    raw: Any,
    period: str,
    unit_ids: Mapping[str, int],
    indicator_ids: Mapping[str, int],
    *,
    counts: AbstractSet[int] = frozenset(),
    now: datetime | None = None,
) -> GoodRecord | BadRecord:
    """Check one raw progress record of the month ``period`` (limits: ``models.plans.limits``).

    ``unit_ids`` / ``indicator_ids`` map the codes we assess to our ids (for the
    indicators: those assessed in the month's year); ``counts`` are the indicator ids
    whose values are counts (milestones completed: never negative); ``now`` is the
    run's time (times later than now plus the allowed skew are refused).
    """
    if not isinstance(raw, Mapping):
        return not_an_object(raw, period)
    rid = raw.get("record_id")
    record_id = rid if isinstance(rid, str) else None
    missing = [f for f in PROGRESS_REQUIRED if f not in raw or (raw[f] is None and f != "value")]
    if missing:
        return BadRecord("missing_fields", f"missing: {', '.join(missing)}", record_id, raw)
    bad_id = identifier_bad("record_id", rid, MAX_RECORD_ID)
    if bad_id is not None:
        return BadRecord(*bad_id, record_id, raw)
    assert record_id is not None
    for name in ("unit_code", "indicator_code", "period", "status", "updated_at"):
        if not isinstance(raw[name], str):
            detail = f"{name} is {_json_type(raw[name])}, not a string"
            return BadRecord("bad_type", detail, record_id, raw)
    unit_id = unit_ids.get(raw["unit_code"])
    if unit_id is None:
        return BadRecord("unknown_unit", f"unit_code {_show(raw['unit_code'])}", record_id, raw)
    indicator_id = indicator_ids.get(raw["indicator_code"])
    if indicator_id is None:
        detail = f"indicator_code {_show(raw['indicator_code'])}"
        return BadRecord("unknown_indicator", detail, record_id, raw)
    if raw["period"] != period:
        detail = f"period {_show(raw['period'])} in a query for {period}"
        return BadRecord("wrong_period", detail, record_id, raw)
    status = raw["status"]
    if status not in STATUSES:
        return BadRecord("bad_status", f"status {_show(status)}", record_id, raw)
    value = raw["value"]
    number: Decimal | None = None
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return BadRecord("non_numeric_value", f"value {_show(value)}", record_id, raw)
        if isinstance(value, float) and not math.isfinite(value):
            return BadRecord("non_finite_value", f"value {value}", record_id, raw)
        number = Decimal(value) if isinstance(value, int) else Decimal(str(value))
        problem = number_problem(number, count=indicator_id in counts)
        if problem is not None:
            return BadRecord(problem[0], f"value: {problem[1]}", record_id, raw)
    elif status == "submitted":
        return BadRecord("non_numeric_value", "a submitted record has no value", record_id, raw)
    latest = None if now is None else latest_acceptable(now)
    times: dict[str, datetime | None] = {}
    for name in ("updated_at", "reported_at"):
        text = raw.get(name)
        if text is None:
            times[name] = None
            continue
        when = parse_time(text)
        if when is None:
            return BadRecord("bad_time", f"{name} {_show(text)}", record_id, raw)
        if latest is not None and when > latest:
            detail = f"{name} {_show(text)} is later than now ({local_text(now)} 北京时间)"
            return BadRecord("future_time", detail, record_id, raw)
        times[name] = when
    updated_at = times["updated_at"]
    assert updated_at is not None
    evidence = raw.get("evidence_count")
    if evidence is None:
        evidence = 0
    elif isinstance(evidence, bool) or not isinstance(evidence, int):
        detail = f"evidence_count is {_json_type(evidence)}, not an integer"
        return BadRecord("bad_type", detail, record_id, raw)
    elif not 0 <= evidence <= MAX_EVIDENCE_COUNT:
        detail = f"evidence_count {_show(evidence)} outside 0..{MAX_EVIDENCE_COUNT}"
        return BadRecord("value_out_of_range", detail, record_id, raw)
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        detail = f"note is {_json_type(note)}, not a string"
        return BadRecord("bad_type", detail, record_id, raw)
    return GoodRecord(
        record_id=record_id,
        period=period,
        unit_id=unit_id,
        indicator_id=indicator_id,
        value=number,
        status=status,
        updated_at=updated_at,
        reported_at=times["reported_at"],
        evidence_count=evidence,
        note=None if note is None else clean_text(note, MAX_NOTE),
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
    *,
    counts: AbstractSet[int] = frozenset(),
    now: datetime | None = None,
) -> CheckedPage:
    """:func:`check_progress_record` over a page, good records as rows.

    The same verdicts, faster: a record that is plainly good (a dict whose fields all
    have their JSON types and valid values) becomes a row at once; every other record
    goes through :func:`check_progress_record`, which gives it its reason.
    """
    page = CheckedPage()
    good = page.good
    high_water: datetime | None = None
    latest = None if now is None else latest_acceptable(now)
    for raw in items:
        row: ProgressRow | None = None
        if type(raw) is dict:
            row = _plainly_good(raw, period, unit_ids, indicator_ids, counts, latest)
        if row is None:
            checked = check_progress_record(
                raw, period, unit_ids, indicator_ids, counts=counts, now=now
            )
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


_MAX_PLAIN = float(MAX_ABS_VALUE)


def _plainly_good(
    raw: dict[str, Any],
    period: str,
    unit_ids: Mapping[str, int],
    indicator_ids: Mapping[str, int],
    counts: AbstractSet[int],
    latest: datetime | None,
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
        or len(record_id) > MAX_RECORD_ID
        or not record_id.isprintable()
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
        # NaN fails every comparison, so it takes the careful path too
        if not -_MAX_PLAIN <= value <= _MAX_PLAIN or (value < 0 and indicator_id in counts):
            return None
        number = Decimal(str(value))
    elif value is None and status != "submitted":
        number = None
    else:
        return None
    updated_at = _plain_time(updated, latest)
    if updated_at is None:
        return None
    reported = get("reported_at")
    if reported == updated:
        reported_at: datetime | None = updated_at
    elif reported is None:
        reported_at = None
    else:
        reported_at = _plain_time(reported, latest)
        if reported_at is None:
            return None
    evidence = get("evidence_count")
    if evidence is None:
        evidence = 0
    elif type(evidence) is not int or not 0 <= evidence <= MAX_EVIDENCE_COUNT:
        return None
    note = get("note")
    if note is not None and (
        type(note) is not str or len(note) > MAX_NOTE or not note.isprintable()
    ):
        return None
    return (
        record_id,
        period,
        unit_id,
        indicator_id,
        number,
        status,
        updated_at,
        reported_at,
        evidence,
        note,
    )


def _plain_time(text: Any, latest: datetime | None) -> datetime | None:
    """A plainly good time (a recent year, not in the future), else None."""
    if type(text) is not str:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None or when.year <= 2000 or (latest is not None and when > latest):
        return None
    return when


# ------------------------------------------------------------------ conflicts, quarantine

StoredVersion = tuple[Decimal | None, str]
"""A stored version's (value, status), keyed by (record_id, updated_at)."""


def find_conflicts(
    rows: Iterable[ProgressRow], stored: Mapping[tuple[str, datetime], StoredVersion]
) -> list[BadRecord]:
    """The rows that repeat a stored version (same ``record_id`` and ``updated_at``)
    with another value or status: the platform said two things about one version, so
    the later one is set aside (the first one seen stays stored)."""
    bad: list[BadRecord] = []
    for row in rows:
        record_id, period, unit_id, indicator_id, value, status, updated_at = row[:7]
        version = stored.get((record_id, updated_at))
        if version is None:
            continue
        old_value, old_status = version
        if values_equal(value, old_value) and status == old_status:
            continue
        detail = (
            f"record_id {clip(record_id, 60)!r} updated_at {updated_at.isoformat()} is already "
            f"stored with value {old_value} ({old_status}); this copy says {value} ({status})"
        )
        raw = {
            "record_id": record_id,
            "period": period,
            "unit_id": unit_id,
            "indicator_id": indicator_id,
            "value": None if value is None else str(value),
            "status": status,
            "updated_at": updated_at.isoformat(),
            "stored_value": None if old_value is None else str(old_value),
            "stored_status": old_status,
        }
        bad.append(BadRecord("conflicting_version", detail, record_id, raw))
    return bad


def quarantine_row(
    bad: BadRecord, source: str, now: datetime, period: str | None = None
) -> dict[str, Any]:
    """A ``quarantined_record`` row that fits its columns whatever the record held:
    the period only when it is a month (else ``period``), ids and detail cut to their
    columns, the raw record made JSON-safe."""
    raw_period = bad.raw.get("period") if isinstance(bad.raw, Mapping) else None
    return {
        "source": source,
        "period": raw_period if is_month(raw_period) else period,
        "record_id": None if bad.record_id is None else clean_text(bad.record_id, MAX_RECORD_ID),
        "reason": bad.reason[:MAX_REASON_CODE],
        "detail": clean_text(bad.detail, MAX_DETAIL),
        "raw": safe_json(dict(bad.raw) if isinstance(bad.raw, Mapping) else {"item": bad.raw}),
        "fingerprint": bad.fingerprint,
        "first_seen_at": now,
    }
