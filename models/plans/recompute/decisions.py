"""What a unit reads about its appeal's outcome (Chinese): the decision's reason and
the unit's digest of one month's decisions, from persistent facts only."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from models.messages import AppealDecision, UnitDigest
from models.plans.monthly import UnitSnap
from models.plans.recompute.state import CellState
from models.rules import Level, Period, Ruling, RulingKind, round_points

_OUTCOME_VERBS = {
    RulingKind.REJECTED: "维持原结果",
    RulingKind.CORRECTED: "更正数值并重新核算",
    RulingKind.WAIVED: "免予扣分",
    RulingKind.REDUCED: "减轻扣分",
}


def _points(value: Decimal) -> str:
    return format(round_points(value), "f")


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def decision_reason(
    ruling: Ruling,
    reason: str,
    document_ref: str,
    month: str,
    after: CellState | None,
    unit_of_measure: str = "",
) -> str:
    """What the unit reads about one ruling (Chinese), from persistent facts only."""
    period = Period.parse(month)
    when = f"{period.year}年{period.index}月"
    text = f"复查意见：{reason.strip() or _OUTCOME_VERBS[ruling.kind]}"
    if document_ref:
        text += f"（依据：{document_ref}）"
    text += "。"
    if ruling.kind is RulingKind.REJECTED or after is None:
        return text
    label = Level(after.level).label
    if ruling.kind is RulingKind.CORRECTED:
        assert ruling.corrected_value is not None
        text += f"{when}该指标数值更正为{_number(ruling.corrected_value)}{unit_of_measure}，"
    elif ruling.kind is RulingKind.WAIVED:
        text += f"{when}该指标免予扣分，"
    else:
        assert ruling.share is not None
        text += f"{when}该指标扣分减轻{_number(ruling.share * 100)}%，"
    return text + f"复查后等级为{label}、预扣分{_points(after.pre_deduction)}分。"


def appeal_outcome_digest(
    unit: UnitSnap, month: str, decisions: Sequence[AppealDecision]
) -> UnitDigest:
    """The unit's appeal outcomes for one month (one message per unit and month)."""
    return UnitDigest(
        unit_code=unit.code,
        unit_name=unit.name,
        kind="appeal_outcome",
        period_key=month,
        items=tuple(decisions),
    )
