"""What operators type, read strictly, refused in Chinese with the way to write it.

Pure functions over text: periods (``2026-03``, ``2026-Q3``, ``2026-H1``, ``2026``),
days (``2026-03-15``) and years (``2026``). Each raises ``InputError`` with one Chinese
line naming what was typed and an example of the right form.
"""

from __future__ import annotations

import re
from datetime import date

from models.errors import InputError
from models.rules import Period, PeriodError, PeriodKind

__all__ = [
    "KIND_EXAMPLES",
    "KIND_LABELS",
    "check_year",
    "parse_day_text",
    "parse_period_text",
]

KIND_LABELS: dict[PeriodKind, str] = {
    PeriodKind.MONTH: "月份",
    PeriodKind.QUARTER: "季度",
    PeriodKind.HALF: "半年",
    PeriodKind.YEAR: "年度",
}
KIND_EXAMPLES: dict[PeriodKind, str] = {
    PeriodKind.MONTH: "2026-03",
    PeriodKind.QUARTER: "2026-Q3",
    PeriodKind.HALF: "2026-H1",
    PeriodKind.YEAR: "2026",
}
_ALL_FORMS = "月份写 2026-03，季度写 2026-Q3，半年写 2026-H1，年度写 2026"

_MONTH_LOOSE = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})月?$")
_QUARTER_LOOSE = re.compile(r"^(\d{4})[-/ ]?[Qq](\d+)$")
_HALF_LOOSE = re.compile(r"^(\d{4})[-/ ]?[Hh](\d+)$")
_DAY_LOOSE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


def _forms(kinds: tuple[PeriodKind, ...]) -> str:
    return "或".join(f"{KIND_LABELS[k]}（如 {KIND_EXAMPLES[k]}）" for k in kinds)


def _hint(text: str) -> str:
    """How ``text`` should have been written, when it looks like a period written loosely."""
    if m := _HALF_LOOSE.match(text):
        year, half = m.group(1), int(m.group(2))
        if half in (1, 2):
            return f"半年请写成 {year}-H{half}"
        return f"半年只有 H1、H2，如 {year}-H1"
    if m := _QUARTER_LOOSE.match(text):
        year, quarter = m.group(1), int(m.group(2))
        if 1 <= quarter <= 4:
            return f"季度请写成 {year}-Q{quarter}"
        return f"季度只有 Q1 到 Q4，如 {year}-Q3"
    if m := _MONTH_LOOSE.match(text):
        year, month = m.group(1), int(m.group(2))
        if 1 <= month <= 12:
            return f"月份请写成 {year}-{month:02d}（两位月份）"
        return f"月份只有 01 到 12，如 {year}-12"
    if re.match(r"^\d{1,3}$|^\d{5,}$", text):
        return "年份请写四位数字，如 2026"
    return _ALL_FORMS


def parse_period_text(
    text: str, kinds: tuple[PeriodKind, ...] = tuple(PeriodKind), what: str = "期次"
) -> Period:
    """``text`` as a period of one of ``kinds``; ``InputError`` (Chinese) otherwise."""
    cleaned = text.strip()
    try:
        period = Period.parse(cleaned)
    except PeriodError:
        raise InputError(f"{what}“{text}”写法不对：{_hint(cleaned)}。") from None
    if period.kind not in kinds:
        raise InputError(f"{what}“{text}”是{KIND_LABELS[period.kind]}，这里需要{_forms(kinds)}。")
    return period


def parse_day_text(text: str, what: str = "日期") -> date:
    """``text`` as a calendar day written ``YYYY-MM-DD``; ``InputError`` (Chinese) otherwise."""
    cleaned = text.strip()
    m = _DAY_LOOSE.match(cleaned)
    if m is None:
        raise InputError(f"{what}“{text}”写法不对：请写成 YYYY-MM-DD，如 2026-03-15。")
    year, month, day = (int(g) for g in m.groups())
    try:
        parsed = date(year, month, day)
    except ValueError:
        raise InputError(
            f"{what}“{text}”不存在：月份为 01 到 12，日期不超过当月天数，如 2026-03-15。"
        ) from None
    if cleaned != parsed.isoformat():
        raise InputError(f"{what}“{text}”写法不对：请写成 {parsed.isoformat()}。")
    return parsed


def check_year(year: int, what: str = "年度") -> int:
    """``year`` if it is a four-digit year; ``InputError`` (Chinese) otherwise."""
    if not 1000 <= year <= 9998:
        raise InputError(f"{what}“{year}”不对：请写四位年份，如 2026。")
    return year
