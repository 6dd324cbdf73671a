"""What a unit is told: digests of items to act on, their content hash and the outbox plan.

A `UnitDigest` is everything one unit should act on after one cycle (or one
reminder, appeal outcome, rectification notice). Its items are plain frozen
dataclasses of a few allowed types only (`ALLOWED_ITEM_TYPES`); nothing else,
in particular nothing about an on-site check plan, can be put in front of a
unit: `models.messages.render.build_unit_message` refuses it.

`plan_outbox` decides, for each digest, whether a message is new, already sent
(skip), a correction of one the unit already received, a replacement of one not
yet delivered, or whether a pending one must be withdrawn. It is pure: the
caller passes the existing messages, `now` and the send-window function.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any, NamedTuple

__all__ = [
    "ALLOWED_ITEM_TYPES",
    "KIND_LABELS",
    "LEVEL_ITEM_LEVELS",
    "AppealDecision",
    "AppealWindow",
    "ConfidentialContentError",
    "DeductionChange",
    "DigestItem",
    "LevelItem",
    "MessageKind",
    "MissingUpload",
    "Rectification",
    "ResultItem",
    "UnitDigest",
    "canonical_digest",
    "content_hash",
    "message_key",
    "ordered_items",
]


class ConfidentialContentError(ValueError):
    """Refused: the content may not be sent to an assessed unit (e.g. an on-site check plan)."""


class MessageKind(StrEnum):
    """What a message to a unit is about."""

    PRE_DEADLINE_REMINDER = "pre_deadline_reminder"
    MONTHLY_ANALYSIS = "monthly_analysis"
    QUARTERLY_MONITORING = "quarterly_monitoring"
    HALF_YEAR_EVALUATION = "half_year_evaluation"
    ANNUAL_ASSESSMENT = "annual_assessment"
    APPEAL_OUTCOME = "appeal_outcome"
    APPEAL_REFUSED = "appeal_refused"
    RECTIFICATION_NOTICE = "rectification_notice"
    RECTIFICATION_REMINDER = "rectification_reminder"


KIND_LABELS: dict[str, str] = {
    MessageKind.PRE_DEADLINE_REMINDER: "数据上传提醒",
    MessageKind.MONTHLY_ANALYSIS: "月度分析",
    MessageKind.QUARTERLY_MONITORING: "季度监测",
    MessageKind.HALF_YEAR_EVALUATION: "半年评估",
    MessageKind.ANNUAL_ASSESSMENT: "年度考核",
    MessageKind.APPEAL_OUTCOME: "申诉复查结果",
    MessageKind.APPEAL_REFUSED: "申诉不予受理",
    MessageKind.RECTIFICATION_NOTICE: "整改通知",
    MessageKind.RECTIFICATION_REMINDER: "整改到期提醒",
}
"""Chinese label of each message kind (used in subjects and titles)."""

LEVEL_ITEM_LEVELS = ("yellow", "orange", "red", "missing")
"""Levels a unit is told about; green and unavailable are never the unit's to act on."""


# ----------------------------------------------------------------------------- items


@dataclass(frozen=True)
class MissingUpload:
    """A month's value the unit has not uploaded yet (or did not upload by the deadline)."""

    indicator_code: str
    indicator_name: str
    deadline: date


@dataclass(frozen=True)
class LevelItem:
    """An indicator at yellow (提醒), orange (预警), red (预扣分) or missing (未按期上传)."""

    indicator_code: str
    indicator_name: str
    level: str
    expected: Decimal | None
    actual: Decimal | None
    completion: Decimal | None
    unit_of_measure: str = ""

    def __post_init__(self) -> None:
        if self.level not in LEVEL_ITEM_LEVELS:
            raise ValueError(
                f"a level item's level must be one of {', '.join(LEVEL_ITEM_LEVELS)}, "
                f"got {self.level!r}"
            )


@dataclass(frozen=True)
class DeductionChange:
    """A new or changed pre-deduction (预扣分): the indicator's deduction before and after."""

    indicator_code: str
    indicator_name: str
    before: Decimal
    after: Decimal


@dataclass(frozen=True)
class Rectification:
    """An open problem the unit must rectify by a date (整改事项)."""

    problem_id: int
    description: str
    rectify_by: date


@dataclass(frozen=True)
class AppealDecision:
    """The outcome of a unit's appeal on one indicator, or why it was refused.

    ``outcome``: rejected | corrected | waived | reduced | refused. Deductions are
    the indicator's current deduction before and after the ruling, when it changed.
    """

    indicator_code: str
    indicator_name: str
    outcome: str
    reason: str
    deduction_before: Decimal | None = None
    deduction_after: Decimal | None = None

    def __post_init__(self) -> None:
        if self.outcome not in _APPEAL_OUTCOMES:
            raise ValueError(
                f"an appeal outcome must be one of {', '.join(_APPEAL_OUTCOMES)}, "
                f"got {self.outcome!r}"
            )


_APPEAL_OUTCOMES = ("rejected", "corrected", "waived", "reduced", "refused")


@dataclass(frozen=True)
class ResultItem:
    """A unit's annual result (年度考核结果): score, rank inside its category, grade.

    ``grade``: excellent | good | fair | poor; ``category_label`` the category's
    Chinese name; ``rank`` the competition rank among ``category_size`` units.
    """

    category_label: str
    score: Decimal
    rank: int
    category_size: int
    grade: str

    def __post_init__(self) -> None:
        if self.grade not in RESULT_GRADES:
            raise ValueError(
                f"a result's grade must be one of {', '.join(RESULT_GRADES)}, got {self.grade!r}"
            )
        if not 1 <= self.rank <= self.category_size:
            raise ValueError(
                f"a rank must be between 1 and the category size {self.category_size}, "
                f"got {self.rank}"
            )


RESULT_GRADES = ("excellent", "good", "fair", "poor")


@dataclass(frozen=True)
class AppealWindow:
    """Until when the unit may appeal this message's results (rulebook section 7).

    Either a fixed last day (inclusive) ``ends_on``, or ``working_days`` counted from
    the day the message is actually delivered: the message then names the last day
    only when it is sent (`models.messages.deadlines.fill_appeal_deadline`), so it never
    names a day before its sending (``AppealWindow.from_delivery``).
    """

    ends_on: date | None = None
    working_days: int = 0

    def __post_init__(self) -> None:
        if (self.ends_on is None) == (self.working_days <= 0):
            raise ValueError(
                "an appeal window has either a last day or a number of working days "
                "from delivery, not both and not neither"
            )

    @classmethod
    def from_delivery(cls, working_days: int) -> AppealWindow:
        """``working_days`` working days after the day the message is delivered."""
        return cls(None, working_days)

    @property
    def canonical(self) -> str:
        """What the content hash holds: the day (ISO) or ``delivery+<n>wd``."""
        if self.ends_on is not None:
            return self.ends_on.isoformat()
        return f"delivery+{self.working_days}wd"


DigestItem = (
    MissingUpload | LevelItem | DeductionChange | Rectification | AppealDecision | ResultItem
)

ALLOWED_ITEM_TYPES: tuple[type, ...] = (
    MissingUpload,
    LevelItem,
    DeductionChange,
    Rectification,
    AppealDecision,
    ResultItem,
)
"""The only things a message to a unit may contain (exact types, no subclasses)."""

_ITEM_ORDER = {t: i for i, t in enumerate(ALLOWED_ITEM_TYPES)}
_LEVEL_ORDER = {"missing": 0, "red": 1, "orange": 2, "yellow": 3}


@dataclass(frozen=True)
class MessageFooter:
    """How a digest ends: the unit's running total of pre-deductions for ``year`` and,
    when the office configured one, a link to the unit's data on the platform.

    Context, not content to act on: it is not part of the canonical form (a rerun
    after more months were booked sends nothing again)."""

    year: int
    pre_deductions: Decimal
    unit_url: str | None = None


@dataclass(frozen=True)
class UnitDigest:
    """Everything one unit should act on for one message kind and period.

    ``period_key`` is the assessed period (2026-09, 2026-Q3, 2026-H1, 2026);
    ``deadline`` the upload deadline a reminder is about; ``appeal_window`` the
    end of the appeal window for the results listed. Items may come in any order:
    rendering and hashing use `ordered_items`.
    """

    unit_code: str
    unit_name: str
    kind: str
    period_key: str
    items: tuple[DigestItem, ...] = ()
    deadline: date | None = None
    appeal_window: AppealWindow | None = None
    covers: tuple[str, ...] = ()
    """Earlier periods of the same kind whose messages had not reached the unit and were
    merged into this one (catch-up): what it lists is what is still to act on."""
    footer: MessageFooter | None = field(default=None, compare=False)
    """Running total and link (set at queue time; not hashed)."""

    @property
    def is_empty(self) -> bool:
        """Nothing to act on: no message is sent.

        An appeal window alone is not something to act on, and a pre-deadline
        reminder is only for a unit with a value still missing.
        """
        if self.kind == MessageKind.PRE_DEADLINE_REMINDER:
            return not any(type(item) is MissingUpload for item in self.items)
        return not self.items

    @property
    def slot(self) -> tuple[str, str, str]:
        """(unit_code, kind, period_key): one message (and its corrections) per slot."""
        return (self.unit_code, self.kind, self.period_key)


def check_item_types(digest: object) -> UnitDigest:
    """Refuse anything that is not a `UnitDigest` of allowed item types only."""
    if type(digest) is not UnitDigest:
        raise ConfidentialContentError(
            f"only a UnitDigest can become a message to a unit, got {type(digest).__name__}"
        )
    if not isinstance(digest.items, tuple):
        raise ConfidentialContentError("a digest's items must be a tuple of allowed items")
    for item in digest.items:
        if type(item) not in _ITEM_ORDER:
            raise ConfidentialContentError(
                f"{type(item).__name__} may not be sent to an assessed unit; allowed items: "
                + ", ".join(t.__name__ for t in ALLOWED_ITEM_TYPES)
            )
    if not isinstance(digest.covers, tuple) or not all(type(p) is str for p in digest.covers):
        raise ConfidentialContentError("a digest's covers must be a tuple of period keys")
    if digest.appeal_window is not None and type(digest.appeal_window) is not AppealWindow:
        raise ConfidentialContentError(
            f"appeal_window must be an AppealWindow, got {type(digest.appeal_window).__name__}"
        )
    if digest.footer is not None and type(digest.footer) is not MessageFooter:
        raise ConfidentialContentError(
            f"footer must be a MessageFooter, got {type(digest.footer).__name__}"
        )
    return digest


def _level_item_key(item: Any) -> tuple[Any, ...]:
    return (_ITEM_ORDER[LevelItem], _LEVEL_ORDER[item.level], item.indicator_code)


def _rectification_key(item: Any) -> tuple[Any, ...]:
    return (_ITEM_ORDER[Rectification], item.rectify_by.isoformat(), item.problem_id)


def _result_item_key(item: Any) -> tuple[Any, ...]:
    return (_ITEM_ORDER[ResultItem], item.category_label, item.rank)


def _by_indicator_key(item: Any) -> tuple[Any, ...]:
    return (_ITEM_ORDER[type(item)], item.indicator_code)


_SORT_KEYS: dict[type, Callable[[Any], tuple[Any, ...]]] = {
    t: _by_indicator_key for t in ALLOWED_ITEM_TYPES
} | {LevelItem: _level_item_key, Rectification: _rectification_key, ResultItem: _result_item_key}
"""Sort key of each allowed item type (items are checked to be of exactly these types)."""


def _item_sort_key(item: DigestItem) -> tuple[Any, ...]:
    return _SORT_KEYS[type(item)](item)


def ordered_items(digest: UnitDigest) -> tuple[DigestItem, ...]:
    """Items in a stable order: by type, then worst level first, then code."""
    return tuple(sorted(check_item_types(digest).items, key=_item_sort_key))


# --------------------------------------------------------------------------- hashing


def _canonical_decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"a digest number must be finite, got {value!r}")
    normal = value.normalize()
    text = str(normal)  # the same as format(normal, "f") unless it has an exponent
    if "E" in text or "e" in text:
        text = format(normal, "f")
    return "0" if text in ("-0", "0") else text


def _canonical_iso(value: date) -> str:
    return value.isoformat()


def _canonical_same(value: object) -> object:
    return value


_CANONICAL_BY_TYPE: dict[type, Callable[[Any], object]] = {
    Decimal: _canonical_decimal,
    date: _canonical_iso,
    datetime: _canonical_iso,
    str: _canonical_same,
    int: _canonical_same,
    bool: _canonical_same,
    type(None): _canonical_same,
}
"""Fast path of `_canonical_value` for the exact types items hold (no subclasses)."""


def _canonical_value(value: object) -> object:
    convert = _CANONICAL_BY_TYPE.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, Decimal):
        return _canonical_decimal(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"cannot put {type(value).__name__} into a message digest")


_ITEM_FIELDS: dict[type, tuple[str, ...]] = {
    t: tuple(f.name for f in fields(t)) for t in ALLOWED_ITEM_TYPES
}
"""Field names of each allowed item type, in declaration order (computed once)."""


def _canonical_item(item: DigestItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": type(item).__name__}
    by_type = _CANONICAL_BY_TYPE
    for name in _ITEM_FIELDS[type(item)]:
        value = getattr(item, name)
        convert = by_type.get(type(value))
        entry[name] = convert(value) if convert is not None else _canonical_value(value)
    return entry


def canonical_digest(digest: UnitDigest) -> dict[str, Any]:
    """A JSON-ready mapping of what the unit is told (the unit's display name excluded)."""
    items = [_canonical_item(item) for item in ordered_items(digest)]
    window = digest.appeal_window
    out: dict[str, Any] = {
        "unit_code": digest.unit_code,
        "kind": digest.kind,
        "period_key": digest.period_key,
        "deadline": _canonical_value(digest.deadline),
        "appeal_window_ends_on": None if window is None else window.canonical,
        "items": items,
    }
    if digest.covers:  # absent when nothing was merged: earlier hashes stay as they were
        out["covers"] = list(digest.covers)
    return out


# The canonical JSON is ``json.dumps(canonical_digest(digest), ensure_ascii=False,
# sort_keys=True, separators=(",", ":"))``. `canonical_form` writes exactly that text
# directly (per-type templates with the keys already sorted), without building the
# mapping: at province scale the mapping and the generic encoder dominated queueing.

_encode_canonical = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":")
).encode
_encode_str: Callable[[str], str] = json.encoder.encode_basestring  # what the encoder uses


def _json_decimal(value: Decimal) -> str:
    return f'"{_canonical_decimal(value)}"'  # digits, "-" and "." only: nothing to escape


def _json_iso(value: date) -> str:
    return f'"{value.isoformat()}"'  # digits, "-", ":", "T", "+" and ".": nothing to escape


def _json_none(value: None) -> str:
    return "null"


def _json_bool(value: bool) -> str:
    return "true" if value else "false"


_JSON_BY_TYPE: dict[type, Callable[[Any], str]] = {
    Decimal: _json_decimal,
    date: _json_iso,
    datetime: _json_iso,
    str: _encode_str,
    int: int.__repr__,
    bool: _json_bool,
    type(None): _json_none,
}
"""Canonical JSON of a field value of an exact type, as the encoder writes it."""


def _json_other(value: object) -> str:
    """Canonical JSON of a field value of any other type (e.g. a `StrEnum` member)."""
    return _encode_canonical(_canonical_value(value))


def _json_raw(value: object) -> str:
    """JSON of a value put in the mapping as it is (unit code, kind, period key)."""
    return _encode_str(value) if type(value) is str else _encode_canonical(value)


def _item_json_writer(item_type: type) -> Callable[[Any], str]:
    names = _ITEM_FIELDS[item_type]
    keys = sorted((*names, "type"))
    template = (
        "{{"
        + ",".join(
            f"{_encode_str(key)}:{_encode_str(item_type.__name__)}"
            if key == "type"
            else f"{_encode_str(key)}:{{{names.index(key)}}}"
            for key in keys
        )
        + "}}"
    )
    fill = template.format
    getters = tuple(attrgetter(name) for name in names)
    by_type = _JSON_BY_TYPE

    def write(item: Any) -> str:
        tokens = []
        for get in getters:  # declaration order, as canonical_digest converts them
            value = get(item)
            to_json = by_type.get(type(value))
            tokens.append(to_json(value) if to_json is not None else _json_other(value))
        return fill(*tokens)

    return write


_ITEM_JSON: dict[type, Callable[[Any], str]] = {t: _item_json_writer(t) for t in ALLOWED_ITEM_TYPES}


def _canonical_json(digest: UnitDigest, items: Sequence[DigestItem]) -> str:
    """The canonical JSON of a checked digest whose items are in `ordered_items` order."""
    item_json = ",".join([_ITEM_JSON[type(item)](item) for item in items])
    deadline = _canonical_value(digest.deadline)
    window = digest.appeal_window
    ends_on = None if window is None else window.canonical
    covers = (
        f'"covers":[{",".join(_encode_str(p) for p in digest.covers)}],' if digest.covers else ""
    )
    return (
        f'{{"appeal_window_ends_on":{_json_raw(ends_on)},{covers}"deadline":{_json_raw(deadline)},'
        f'"items":[{item_json}],"kind":{_json_raw(digest.kind)},'
        f'"period_key":{_json_raw(digest.period_key)},"unit_code":{_json_raw(digest.unit_code)}}}'
    )


class Canonical(NamedTuple):
    """A checked digest's ordered items, canonical JSON and content hash, computed once.

    Internal to this package: `plan_outbox` hands it to the renderer so nothing
    is sorted, serialised or hashed twice.
    """

    items: tuple[DigestItem, ...]
    payload: str
    content_hash: str


def canonical_form(digest: UnitDigest) -> Canonical:
    """Check `digest` and compute its ordered items, canonical JSON and content hash."""
    items = ordered_items(digest)
    payload = _canonical_json(digest, items)
    return Canonical(items, payload, hashlib.sha256(payload.encode("utf-8")).hexdigest())


def content_hash(digest: UnitDigest) -> str:
    """sha256 of the canonical JSON of the digest: same content, same hash, whenever built."""
    return canonical_form(digest).content_hash


def message_key(unit_code: str, kind: str, period_key: str, content_hash: str) -> str:
    """The outbox key of a message: unit, kind, period and content (at most 200 characters)."""
    key = f"{unit_code}:{kind}:{period_key}:{content_hash}"
    if len(key) > 200:
        raise ValueError(f"message key longer than 200 characters: {key[:60]}...")
    return key
