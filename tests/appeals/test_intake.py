"""Appeal intake: late and malformed appeals are refused with the reason and the unit is
told once; unreadable records are set aside; everything is stored once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from deployments.platform_sim_data import SimDataset
from flows.collect_appeals import collect_appeals
from models.persistence.tables import Message, columns_of, table_of
from models.plans.appeal_intake import (
    IndicatorRef,
    IntakeContext,
    UnitRef,
    plan_intake,
    window_check,
)
from models.plans.records import BadRecord
from models.rules import SHANGHAI, WorkCalendar
from tasks.appeals.intake import intake_appeals
from tests.appeals.support import rows

CALENDAR = WorkCalendar()
# March 2026: deadline Tue 7 April (5 April is Qingming), analysis Wed 8 April 09:00
ANALYSIS = datetime(2026, 4, 8, 9, 0, tzinfo=SHANGHAI)
CONTEXT = IntakeContext(
    units={"C01": UnitRef(1, "key_development"), "D01": UnitRef(2, "party_mass")},
    indicators={
        (2026, "gdp"): IndicatorRef(10, frozenset({"key_development"})),
        (2026, "party"): IndicatorRef(11, frozenset({"party_mass"})),
    },
    calendar=CALENDAR,
)


def _raw(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "appeal_id": "ap-1",
        "unit_code": "C01",
        "indicator_code": "gdp",
        "period": "2026-03",
        "kind": "data_error",
        "claimed_value": 123.4,
        "reason": "平台录入有误",
        "filed_at": "2026-04-09T10:00:00+08:00",
    }
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not ...}


def deliver_results(engine: Engine, unit: int, month: str, at: datetime) -> None:
    """Mark the unit's monthly-analysis message of ``month`` delivered at ``at``, as a
    delivery run on time would have (before the next month's was queued and merged it)."""
    m = columns_of(Message)
    with engine.begin() as conn:
        conn.execute(
            sa.update(table_of(Message))
            .where(
                m.unit_id == unit,
                m.kind == "monthly_analysis",
                m.period == month,
                m.status.in_(("pending", "merged")),
            )
            .values(status="delivered", delivered_at=at, merged_into_id=None)
        )


# ------------------------------------------------------------------------------- pure


def test_the_appeal_window_runs_five_working_days_from_the_months_analysis() -> None:
    assert CALENDAR.monthly_analysis_at("2026-03") == ANALYSIS
    last_day = datetime(2026, 4, 15, 23, 59, tzinfo=SHANGHAI)
    assert window_check(last_day, ANALYSIS, None, CALENDAR)[0]
    late, why = window_check(last_day + timedelta(minutes=1), ANALYSIS, None, CALENDAR)
    assert not late and "已超过申诉期" in why and "2026年4月15日" in why
    early, why = window_check(ANALYSIS - timedelta(hours=1), ANALYSIS, None, CALENDAR)
    assert not early and "早于" in why


def test_a_later_delivery_of_the_months_message_restarts_the_window() -> None:
    delivered = datetime(2026, 4, 13, 10, 0, tzinfo=SHANGHAI)  # Monday
    filed = datetime(2026, 4, 17, 16, 0, tzinfo=SHANGHAI)  # past the analysis' window
    assert not window_check(filed, ANALYSIS, None, CALENDAR)[0]
    assert window_check(filed, ANALYSIS, delivered, CALENDAR)[0]
    # filed after the results were published but before the message arrived: in time
    assert window_check(ANALYSIS + timedelta(hours=1), ANALYSIS, delivered, CALENDAR)[0]


def test_unreadable_appeals_are_set_aside_with_their_reason() -> None:
    plan = plan_intake(
        [
            "not an object",
            _raw(appeal_id="a1", filed_at=...),
            _raw(appeal_id="a2", unit_code=7),
            _raw(appeal_id="a3", unit_code="X99"),
            _raw(appeal_id="a4", period="2026-13"),
            _raw(appeal_id="a5", indicator_code="nope"),
            _raw(appeal_id="a6", filed_at="yesterday"),
        ],
        CONTEXT,
    )
    assert plan.appeals == ()
    assert [b.reason for b in plan.bad] == [
        "not_an_object",
        "missing_fields",
        "bad_type",
        "unknown_unit",
        "bad_period",
        "unknown_indicator",
        "bad_time",
    ]
    assert all(isinstance(b, BadRecord) and b.fingerprint for b in plan.bad)


def test_attributable_but_unacceptable_appeals_are_refused_with_a_reason_in_chinese() -> None:
    plan = plan_intake(
        [
            _raw(appeal_id="late", filed_at="2026-04-16T09:00:00+08:00"),
            _raw(appeal_id="early", filed_at="2026-04-08T08:00:00+08:00"),
            _raw(appeal_id="other-category", indicator_code="party"),
            _raw(appeal_id="odd-kind", kind="complaint"),
            _raw(appeal_id="no-value", claimed_value=None),
            _raw(appeal_id="text-value", claimed_value="约120"),
            _raw(appeal_id="no-reason", reason="  "),
            _raw(appeal_id="fine", kind="force_majeure", claimed_value=None),
            _raw(appeal_id="fine", reason="同一编号再次出现"),
        ],
        CONTEXT,
    )
    reasons = {a.platform_id: a.refusal_reason for a in plan.refused}
    assert set(reasons) == {
        "late",
        "early",
        "other-category",
        "odd-kind",
        "no-value",
        "text-value",
        "no-reason",
    }
    assert "已超过申诉期" in reasons["late"]
    assert "早于" in reasons["early"]
    assert "不适用" in reasons["other-category"]
    assert "无法识别" in reasons["odd-kind"]
    assert "须同时提供正确数值" in reasons["no-value"]
    assert "不是数字" in reasons["text-value"]
    assert reasons["no-reason"] == "未填写申诉理由。"
    assert [(a.platform_id, a.kind, a.status) for a in plan.registered] == [
        ("fine", "force_majeure", "registered")
    ]
    assert plan.high_water == datetime(2026, 4, 16, 1, 0, tzinfo=UTC)


# ------------------------------------------------------------------------- database


@pytest.mark.db
@pytest.mark.flow  # the analysed year is built by the cycle flows
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning")
def test_an_intake_stores_each_appeal_once_and_tells_a_refused_unit_once(
    year_db: Engine,
) -> None:
    engine = year_db
    unit, code = rows(engine, "SELECT id, code FROM unit WHERE code = 'C02'")[0]
    indicator = rows(
        engine,
        "SELECT i.code FROM monthly_assessment m JOIN indicator i ON i.id = m.indicator_id "
        "WHERE m.unit_id = :u AND m.period = '2026-03' ORDER BY i.code",
        u=unit,
    )[0][0]
    items = [
        _raw(appeal_id="ok", unit_code=code, indicator_code=indicator),
        _raw(appeal_id="late", unit_code=code, indicator_code=indicator,
             filed_at="2026-04-20T09:00:00+08:00"),
        _raw(appeal_id="nokind", unit_code=code, indicator_code=indicator, kind="x"),
        _raw(appeal_id="ghost", unit_code="ZZ9", indicator_code=indicator),
        {"appeal_id": "bare"},
    ]  # fmt: skip
    now = datetime(2026, 4, 21, 2, 0, tzinfo=UTC)
    deliver_results(engine, unit, "2026-03", ANALYSIS)  # March's results reached C02 on time

    first = intake_appeals(engine, items, now, CALENDAR)
    assert (len(first.registered), len(first.refused), first.quarantined) == (1, 2, 2)
    stored = rows(engine, "SELECT platform_id, status FROM appeal ORDER BY platform_id")
    assert stored == [("late", "refused"), ("nokind", "refused"), ("ok", "registered")]
    assert rows(
        engine, "SELECT reason FROM quarantined_record WHERE source = 'appeals' ORDER BY reason"
    ) == [("missing_fields",), ("unknown_unit",)]
    told = rows(
        engine, "SELECT unit_id, period, body_text FROM message WHERE kind = 'appeal_refused'"
    )
    assert [(u, p) for u, p, _ in told] == [(unit, "2026-03")]
    assert "已超过申诉期" in told[0][2] and "无法识别" in told[0][2]
    assert rows(engine, "SELECT high_water FROM collection_watermark WHERE source = 'appeals'")

    again = intake_appeals(engine, items, now + timedelta(hours=1), CALENDAR)
    assert (again.registered, again.refused, again.quarantined, again.duplicates) == ([], [], 0, 3)
    assert rows(engine, "SELECT COUNT(*) FROM message WHERE kind = 'appeal_refused'") == [(1,)]


@pytest.mark.db
@pytest.mark.flow
@pytest.mark.http
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning")
def test_the_scheduled_intake_refuses_the_platforms_late_appeals_with_the_reason(
    prefect_server: None, year_db: Engine, demo_year: SimDataset
) -> None:
    engine = year_db
    every = {a["appeal_id"] for a in demo_year.appeals}
    late = set(demo_year.late_appeal_ids)
    assert late and late < every
    for unit, month in rows(
        engine,
        "SELECT DISTINCT unit_id, period FROM message WHERE kind = 'monthly_analysis'",
    ):  # each month's results reached its units at the month's analysis, as on schedule
        deliver_results(engine, unit, month, CALENDAR.monthly_analysis_at(month))

    state = collect_appeals(return_state=True)
    assert state.is_completed(), state.message
    stored = {
        p: (s, r)
        for p, s, r in rows(engine, "SELECT platform_id, status, refusal_reason FROM appeal")
    }
    assert set(stored) == every
    assert {p for p, (s, _) in stored.items() if s == "refused"} == late
    assert all("已超过申诉期" in stored[p][1] for p in late)
    refused_slots = rows(
        engine,
        "SELECT DISTINCT unit_id, period FROM appeal WHERE status = 'refused' ORDER BY 1, 2",
    )
    told = rows(
        engine,
        "SELECT unit_id, period FROM message WHERE kind = 'appeal_refused' ORDER BY 1, 2",
    )
    assert told == refused_slots

    again = collect_appeals(return_state=True)
    assert again.is_completed()
    data = again.result()
    assert isinstance(data, dict) and data["registered"] == data["refused"] == 0
    assert rows(engine, "SELECT COUNT(*) FROM appeal") == [(len(every),)]
    assert (
        rows(
            engine,
            "SELECT unit_id, period FROM message WHERE kind = 'appeal_refused' ORDER BY 1, 2",
        )
        == told
    )


def test_a_late_refusal_says_when_the_result_was_sent_and_when_the_window_closed() -> None:
    plan = plan_intake([_raw(filed_at="2026-05-06T09:00:00+08:00")], CONTEXT)
    (appeal,) = plan.refused
    assert appeal.claimed_value == Decimal("123.4")
    assert "结果于2026年4月8日发送" in appeal.refusal_reason
    assert "截至2026年4月15日24时" in appeal.refusal_reason
