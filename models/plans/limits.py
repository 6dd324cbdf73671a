"""What a platform record or appeal may bring: every limit in one place (pure).

The platform is read, never trusted (issue 17). A progress record or an appeal is
checked against these limits *before anything is written*; one that breaks a limit is
set aside (``quarantined_record``) with its reason, and the rest of the page, the
month and the intake batch go on, on SQLite and PostgreSQL alike.

Limits and why:

- **Values** (``value``, ``claimed_value``): a JSON number, finite (no NaN/Infinity),
  ``|v| ≤ MAX_ABS_VALUE`` (10¹², well inside what ``Numeric(20, 6)`` holds: |v| < 10¹⁴).
  A *count* (a milestone indicator's "number completed") is never negative. The
  contract and the catalog state no percentage range (a ``%`` unit of measure may be
  a growth rate above 100 or below 0), so none is imposed.
- **Identifiers** (record id, appeal id): non-empty, printable (no control characters,
  no lone surrogates: PostgreSQL refuses NUL), at most ``MAX_RECORD_ID`` characters
  (the ``record_id`` / ``platform_id`` columns). Unit and indicator codes must be ours
  (so at most ``MAX_CODE``); the period must be the month asked for (``YYYY-MM``).
- **Free text** (a record's ``note``, an appeal's ``reason``): kept, cleaned (NUL and
  lone surrogates replaced) and cut to ``MAX_NOTE`` / ``MAX_APPEAL_REASON``
  characters; a long note never costs a unit its value.
- **Evidence count**: an integer 0..``MAX_EVIDENCE_COUNT`` (the column is int4).
- **Times** (``updated_at``, ``reported_at``, ``filed_at``): RFC 3339 with an offset,
  not before ``EARLIEST_TIME`` and not later than *now* + ``MAX_CLOCK_SKEW``. *Now*
  is always passed in by the caller (the flow's run time), never read here. A
  future-stamped record is set aside and never moves a watermark; watermarks
  themselves never pass *now* (:func:`clamp_watermark`).
- **Quarantine rows** hold whatever a hostile record brings: the raw record is made
  JSON-safe (:func:`safe_json`: non-finite numbers as text, strings cut to
  ``MAX_RAW_STRING``, at most ``MAX_RAW_ITEMS`` entries per object or array, nesting
  cut at ``MAX_RAW_DEPTH``), ids cut to the column, the detail to ``MAX_DETAIL``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

__all__ = [
    "EARLIEST_TIME",
    "MAX_ABS_VALUE",
    "MAX_APPEAL_REASON",
    "MAX_CLOCK_SKEW",
    "MAX_CODE",
    "MAX_DETAIL",
    "MAX_EVIDENCE_COUNT",
    "MAX_NOTE",
    "MAX_RAW_DEPTH",
    "MAX_RAW_ITEMS",
    "MAX_RAW_STRING",
    "MAX_REASON_CODE",
    "MAX_RECORD_ID",
    "MONTH",
    "PERIOD_LENGTH",
    "VALUE_COLUMN_BOUND",
    "clamp_watermark",
    "clean_text",
    "clip",
    "identifier_problem",
    "is_month",
    "latest_acceptable",
    "number_problem",
    "parse_time",
    "safe_json",
    "usable_watermark",
    "values_equal",
]

# ----------------------------------------------------------------------------- values

VALUE_COLUMN_BOUND: Final = Decimal(10) ** 14
"""``Numeric(20, 6)`` holds |v| < 10¹⁴ (14 digits before the point)."""
MAX_ABS_VALUE: Final = Decimal(10) ** 12
"""The largest |value| or |claimed_value| accepted (a plausible indicator value)."""
MAX_EVIDENCE_COUNT: Final = 1_000_000
"""The largest ``evidence_count`` accepted (the column is int4)."""

# ---------------------------------------------------------------------------- strings

MAX_RECORD_ID: Final = 120
"""``progress_record.record_id``, ``appeal.platform_id``, ``quarantined_record.record_id``."""
MAX_CODE: Final = 64
"""``unit.code``, ``indicator.code``."""
PERIOD_LENGTH: Final = 7
"""``YYYY-MM``: every ``period`` column."""
MAX_STATUS: Final = 20
MAX_NOTE: Final = 2000
"""A progress record's ``note`` is kept up to this many characters."""
MAX_APPEAL_REASON: Final = 2000
"""``appeal.reason``."""
MAX_REASON_CODE: Final = 40
"""``quarantined_record.reason``."""
MAX_DETAIL: Final = 500
"""``quarantined_record.detail``."""
MAX_RAW_STRING: Final = 1000
MAX_RAW_ITEMS: Final = 100
MAX_RAW_DEPTH: Final = 6

MONTH: Final = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")

# ------------------------------------------------------------------------------ times

MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far a platform time may lie ahead of our *now* (clocks differ a little)."""
EARLIEST_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
"""No platform time is older than this (and older ones would not fit every column)."""


def is_month(value: object) -> bool:
    return isinstance(value, str) and MONTH.fullmatch(value) is not None


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_text(text: str, limit: int) -> str:
    """Free text made storable anywhere: NUL and lone surrogates replaced, then cut."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return clip(text, limit)


def identifier_problem(value: object, limit: int = MAX_RECORD_ID) -> str | None:
    """Why ``value`` cannot be an identifier stored in a column of ``limit``, or None."""
    if not isinstance(value, str):
        return f"not a string but {type(value).__name__}"
    if not value:
        return "empty"
    if len(value) > limit:
        return f"{len(value)} characters, at most {limit}"
    if not value.isprintable():
        return "contains control or invalid characters"
    return None


def number_problem(value: Decimal, *, count: bool = False) -> tuple[str, str] | None:
    """(reason, detail) when a finite ``value`` is implausible, else None."""
    if not value.is_finite():
        return "non_finite_value", f"{value} is not a finite number"
    if abs(value) > MAX_ABS_VALUE:
        return "value_out_of_range", f"|{_short(value)}| exceeds {MAX_ABS_VALUE:.0e}"
    if count and value < 0:
        return "value_out_of_range", f"{_short(value)} is negative for a count"
    return None


def _short(value: Decimal) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{value:.6e}"


def values_equal(a: Decimal | None, b: Decimal | None) -> bool:
    """Whether two versions carry the same value, as stored (6 decimals; SQLite
    keeps a float, so a difference below float precision is no difference)."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=5e-7)


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time with an offset, not before ``EARLIEST_TIME``, else None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            return None
        in_utc = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return parsed if in_utc >= EARLIEST_TIME else None


def latest_acceptable(now: datetime) -> datetime:
    """The latest platform time accepted at ``now``."""
    return now + MAX_CLOCK_SKEW


def clamp_watermark(
    current: datetime | None, seen: datetime | None, now: datetime
) -> datetime | None:
    """The watermark after a run that saw good times up to ``seen``: it only moves
    forward and never passes ``now``. A ``current`` one already past ``now`` (left by
    a bad record before these checks) is dropped, so the month is read afresh."""
    if current is not None and current > now:
        current = None
    if seen is not None:
        seen = min(seen, now)
        if current is None or seen > current:
            return seen
    return current


def usable_watermark(current: datetime | None, now: datetime) -> datetime | None:
    """The watermark to read from: one past ``now`` is ignored (read everything)."""
    return None if current is None or current > now else current


def safe_json(value: Any, depth: int = 0) -> Any:
    """``value`` (parsed JSON) made storable in a JSON column on both databases."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else f"{value:.6e}"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return clean_text(value, MAX_RAW_STRING)
    if depth >= MAX_RAW_DEPTH:
        return "…"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for n, (key, item) in enumerate(value.items()):
            if n >= MAX_RAW_ITEMS:
                out["…"] = f"{len(value) - MAX_RAW_ITEMS} more"
                break
            out[clean_text(str(key), 100)] = safe_json(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        items = [safe_json(item, depth + 1) for item in value[:MAX_RAW_ITEMS]]
        if len(value) > MAX_RAW_ITEMS:
            items.append(f"… {len(value) - MAX_RAW_ITEMS} more")
        return items
    return clean_text(repr(value), MAX_RAW_STRING)
