"""Digests and units used by the notification tests (青岚市 units, 2026-09 figures)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from models.messages import (
    AppealWindow,
    DeductionChange,
    LevelItem,
    MissingUpload,
    Rectification,
    UnitDigest,
)

PERIOD = "2026-09"
DEADLINE = date(2026, 10, 8)
APPEAL_ENDS = date(2026, 10, 16)


def monthly_digest(
    unit_code: str = "DEPT-FGW",
    unit_name: str = "青岚市发展和改革委员会",
    *,
    actual: str = "80",
    deduction: str = "3.33",
) -> UnitDigest:
    """A monthly analysis with a red, a yellow, a new pre-deduction and a rectification."""
    return UnitDigest(
        unit_code=unit_code,
        unit_name=unit_name,
        kind="monthly_analysis",
        period_key=PERIOD,
        items=(
            LevelItem(
                "IND-INV",
                "固定资产投资",
                "red",
                Decimal("120"),
                Decimal(actual),
                Decimal(actual) / Decimal("120"),
                "亿元",
            ),
            LevelItem(
                "IND-RET",
                "社会消费品零售总额",
                "yellow",
                Decimal("200"),
                Decimal("180"),
                Decimal("0.9"),
                "亿元",
            ),
            DeductionChange("IND-INV", "固定资产投资", Decimal("0"), Decimal(deduction)),
            Rectification(12, "重点项目台账更新不及时", date(2026, 11, 30)),
        ),
        appeal_window=AppealWindow(APPEAL_ENDS),
    )


def reminder_digest(unit_code: str = "CTY-LS", unit_name: str = "临山县") -> UnitDigest:
    return UnitDigest(
        unit_code=unit_code,
        unit_name=unit_name,
        kind="pre_deadline_reminder",
        period_key=PERIOD,
        items=(MissingUpload("IND-GDP", "地区生产总值增速", DEADLINE),),
        deadline=DEADLINE,
    )
