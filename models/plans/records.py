"""Checking raw platform records (pure): keep the good, set aside the bad with a reason."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
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
