"""Catch-up without flooding, and appeal deadlines counted from delivery (issue 13, item 6).

A unit has at most one waiting message per cycle kind: a digest queued while an older
one of the same kind has not reached the unit takes it over (``merged``) and says what
is still to act on. The appeal deadline a message names is counted from the day it is
delivered, and intake counts the window from that same delivery.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from models.messages import (
    AppealWindow,
    DeductionChange,
    LevelItem,
    MissingUpload,
    Rectification,
    UnitDigest,
    content_hash,
    digest_from_canonical,
    merge_digests,
)
from models.plans.appeal_intake import (
    IndicatorRef,
    IntakeContext,
    ResultMessage,
    UnitRef,
    check_appeal,
    result_deliveries,
)
from models.rules import appeal_deadline
from models.rules.periods import SHANGHAI
from tests.delivery.test_delivery import CALENDAR, Office
from tests.fixtures.receivers import FakeClock, HttpReceiver

pytestmark = [pytest.mark.db, pytest.mark.http]

UNIT, NAME = "DEPT-FGW", "青岚市发展和改革委员会"
WINDOW = AppealWindow.from_delivery(5)
# A catch-up on Monday 7 December 2026 queues January to March one after another.
CATCH_UP = datetime(2026, 12, 7, 8, 0, tzinfo=SHANGHAI)


def red(code: str, name: str) -> LevelItem:
    return LevelItem(code, name, "red", Decimal("120"), Decimal("80"), Decimal("0.6667"), "亿元")


def yellow(code: str, name: str) -> LevelItem:
    return LevelItem(code, name, "yellow", Decimal("200"), Decimal("180"), Decimal("0.9"), "亿元")


def month(period: str, *items: object, window: AppealWindow | None = WINDOW) -> UnitDigest:
    return UnitDigest(
        unit_code=UNIT,
        unit_name=NAME,
        kind="monthly_analysis",
        period_key=period,
        items=tuple(items),  # type: ignore[arg-type]
        appeal_window=window,
    )


JANUARY = month(
    "2026-01",
    red("IND-INV", "固定资产投资"),
    DeductionChange("IND-INV", "固定资产投资", Decimal("0"), Decimal("3")),
)
FEBRUARY = month(
    "2026-02",
    yellow("IND-RET", "社会消费品零售总额"),
    DeductionChange("IND-RET", "社会消费品零售总额", Decimal("0"), Decimal("1.5")),
    Rectification(7, "重点项目台账更新不及时", datetime(2026, 12, 31).date()),
)
MARCH_RELEASED = month(
    "2026-03",
    yellow("IND-RET", "社会消费品零售总额"),
    DeductionChange("IND-INV", "固定资产投资", Decimal("3"), Decimal("0")),
)


@pytest.fixture
def office(engine: Engine, clock: FakeClock, http_receiver: HttpReceiver) -> Office:
    office = Office(engine, clock, http_receiver)
    office.add_unit(UNIT, NAME, [http_receiver.json_url("/fgw")])
    return office


def by_period(office: Office) -> dict[str, list[tuple[str, int | None, int | None]]]:
    out: dict[str, list[tuple[str, int | None, int | None]]] = {}
    for m in office.messages():
        out.setdefault(m.period, []).append((m.status, m.id, m.merged_into_id))
    return out


# ------------------------------------------------------------------------ pure merging


def test_a_merged_digest_keeps_the_newest_state_and_the_pre_deductions_still_open() -> None:
    merged = merge_digests([JANUARY, FEBRUARY])

    assert merged.period_key == "2026-02" and merged.covers == ("2026-01",)
    levels = [i for i in merged.items if type(i) is LevelItem]
    assert [(i.indicator_code, i.level) for i in levels] == [("IND-RET", "yellow")]  # Jan stale
    changes = {
        i.indicator_code: (i.before, i.after) for i in merged.items if type(i) is DeductionChange
    }
    assert changes == {
        "IND-INV": (Decimal("0"), Decimal("3")),  # January's, never undone: still to act on
        "IND-RET": (Decimal("0"), Decimal("1.5")),
    }
    assert any(type(i) is Rectification for i in merged.items)


def test_a_pre_deduction_undone_by_a_later_month_is_not_mentioned_in_the_merged_digest() -> None:
    merged = merge_digests([JANUARY, FEBRUARY, MARCH_RELEASED])

    assert merged.covers == ("2026-01", "2026-02")
    changes = {i.indicator_code for i in merged.items if type(i) is DeductionChange}
    assert changes == {"IND-RET"}  # IND-INV went 0 -> 3 -> 0: nothing left to say


def test_merging_an_already_merged_digest_again_gives_the_same_content() -> None:
    once = merge_digests([JANUARY, FEBRUARY])
    assert content_hash(merge_digests([once, MARCH_RELEASED])) == content_hash(
        merge_digests([JANUARY, FEBRUARY, MARCH_RELEASED])
    )


# --------------------------------------------------------------------- queueing (db)


def test_queueing_two_periods_before_delivery_leaves_one_waiting_message_and_merges_the_older(
    office: Office, http_receiver: HttpReceiver
) -> None:
    office.queue([JANUARY], CATCH_UP)
    office.queue([FEBRUARY], CATCH_UP + timedelta(minutes=5))

    periods = by_period(office)
    ((jan_status, _, jan_into),) = periods["2026-01"]
    ((feb_status, feb_id, _),) = periods["2026-02"]
    assert (jan_status, jan_into) == ("merged", feb_id)
    assert feb_status == "pending"

    (feb,) = [m for m in office.messages() if m.period == "2026-02"]
    assert feb.content is not None
    rebuilt = digest_from_canonical(feb.content, NAME)
    assert content_hash(rebuilt) == content_hash(merge_digests([JANUARY, FEBRUARY]))
    assert rebuilt.covers == ("2026-01",) and rebuilt.appeal_window == WINDOW
    assert "此前2026年1月的月度分析消息尚未送达，现合并为本消息" in feb.body_text
    assert "固定资产投资（IND-INV）：新增预扣分，由 0.00 分调整为 3.00 分" in feb.body_text
    assert "【预扣分】固定资产投资" not in feb.body_text  # January's red level is stale

    office.deliver(CATCH_UP + timedelta(hours=2))
    (post,) = http_receiver.received("/fgw")  # one message, not one per month
    assert "2026年2月月度分析" in post.json["title"]


def test_rerunning_either_period_after_the_merge_queues_nothing(office: Office) -> None:
    office.queue([JANUARY], CATCH_UP)
    office.queue([FEBRUARY], CATCH_UP)
    before = by_period(office)

    again = office.queue([FEBRUARY], CATCH_UP + timedelta(hours=1))
    older = office.queue([JANUARY], CATCH_UP + timedelta(hours=1))

    assert [p.action for p in again] == ["skip"] and [p.action for p in older] == ["skip"]
    assert by_period(office) == before


def test_a_third_period_takes_over_the_merged_message_and_drops_what_was_undone(
    office: Office,
) -> None:
    for digest in (JANUARY, FEBRUARY, MARCH_RELEASED):
        office.queue([digest], CATCH_UP)

    waiting = [m for m in office.messages() if m.status == "pending"]
    assert [m.period for m in waiting] == ["2026-03"]
    statuses = {m.period: m.status for m in office.messages()}
    assert statuses == {"2026-01": "merged", "2026-02": "merged", "2026-03": "pending"}
    (march,) = waiting
    assert "2026年1月至2026年2月的月度分析消息尚未送达" in march.body_text
    assert "固定资产投资（IND-INV）" not in march.body_text


def test_a_message_that_already_reached_the_unit_is_never_merged(
    office: Office, http_receiver: HttpReceiver
) -> None:
    office.queue([JANUARY], CATCH_UP)
    office.deliver(CATCH_UP + timedelta(hours=2))
    office.queue([FEBRUARY], CATCH_UP + timedelta(hours=3))

    statuses = {m.period: m.status for m in office.messages()}
    assert statuses == {"2026-01": "delivered", "2026-02": "pending"}
    (feb,) = [m for m in office.messages() if m.period == "2026-02"]
    assert "合并" not in feb.body_text


# ------------------------------------------------------------ deadlines from delivery


def appeal_line(text: str) -> str:
    (line,) = [line for line in text.splitlines() if "申诉期限" in line]
    return line


@pytest.mark.parametrize("delivered_on", [datetime(2026, 12, 7, 10, 0), datetime(2026, 12, 21, 10)])
def test_the_appeal_deadline_a_message_names_is_counted_from_the_day_it_is_delivered(
    office: Office, http_receiver: HttpReceiver, delivered_on: datetime
) -> None:
    office.queue([JANUARY], CATCH_UP)
    (stored,) = office.messages()
    assert "⟦送达后5个工作日⟧" in appeal_line(stored.body_text)  # not known before delivery

    at = delivered_on.replace(tzinfo=SHANGHAI)
    office.deliver(at)

    (post,) = http_receiver.received("/fgw")
    last_day = appeal_deadline(at, CALENDAR).date()
    assert last_day > at.date()  # never a day before the sending day
    named = f"请于{last_day.year}年{last_day.month}月{last_day.day}日（含当日）前"
    assert named in post.json["message"]
    assert "⟦" not in post.json["message"]


def test_intake_counts_the_appeal_window_from_the_delivery_of_the_message_that_carried_the_result(
    office: Office,
) -> None:
    office.queue([JANUARY], CATCH_UP)
    office.queue([FEBRUARY], CATCH_UP)
    late_delivery = datetime(2026, 12, 21, 10, 0, tzinfo=SHANGHAI)
    office.deliver(late_delivery)
    rows = [
        ResultMessage(m.id or 0, 1, m.period, m.status, m.delivered_at, m.merged_into_id)
        for m in office.messages()
    ]
    delivered, awaiting = result_deliveries(rows)
    assert awaiting == frozenset()
    assert delivered[(1, "2026-01")] == delivered[(1, "2026-02")]  # January came with February

    context = IntakeContext(
        units={UNIT: UnitRef(1, "government")},
        indicators={(2026, "IND-INV"): IndicatorRef(10, frozenset({"government"}))},
        calendar=CALENDAR,
        delivered_at=delivered,
        awaiting=awaiting,
    )
    last_day = appeal_deadline(late_delivery, CALENDAR)

    def filed(at: datetime) -> str:
        appeal = {
            "appeal_id": f"ap-{at:%m%d%H%M}",
            "unit_code": UNIT,
            "indicator_code": "IND-INV",
            "period": "2026-01",
            "kind": "other",
            "reason": "一月份数据有误",
            "filed_at": at.isoformat(),
        }
        return check_appeal(appeal, context).status  # type: ignore[union-attr]

    assert filed(last_day - timedelta(hours=1)) == "registered"
    assert filed(last_day + timedelta(minutes=1)) == "refused"


def test_intake_takes_an_appeal_about_a_month_whose_message_has_not_reached_the_unit_yet(
    office: Office,
) -> None:
    office.queue([JANUARY], CATCH_UP)
    office.queue([FEBRUARY], CATCH_UP)
    rows = [
        ResultMessage(m.id or 0, 1, m.period, m.status, m.delivered_at, m.merged_into_id)
        for m in office.messages()
    ]
    delivered, awaiting = result_deliveries(rows)
    assert delivered == {} and awaiting == {(1, "2026-01"), (1, "2026-02")}


def test_older_messages_whose_every_item_was_undone_are_merged_into_nothing_and_stay_quiet(
    office: Office, http_receiver: HttpReceiver
) -> None:
    booked = month(
        "2026-01", DeductionChange("IND-INV", "固定资产投资", Decimal("0"), Decimal("3"))
    )
    released = month(
        "2026-02", DeductionChange("IND-INV", "固定资产投资", Decimal("3"), Decimal("0"))
    )
    office.queue([booked], CATCH_UP)
    office.queue([released], CATCH_UP)

    statuses = {m.period: m.status for m in office.messages()}
    assert statuses == {"2026-01": "merged", "2026-02": "withdrawn"}
    office.deliver(CATCH_UP + timedelta(hours=2))
    assert http_receiver.received("/fgw") == []

    assert [p.action for p in office.queue([released], CATCH_UP + timedelta(days=1))] == []
    assert len(office.messages()) == 2  # a rerun rebuilds the same nothing


def test_a_changed_older_month_queued_while_a_newer_message_waits_still_leaves_one_waiting(
    office: Office,
) -> None:
    office.queue([JANUARY], CATCH_UP)
    office.queue([FEBRUARY], CATCH_UP)
    rerun = month(
        "2026-01",
        red("IND-INV", "固定资产投资"),
        red("IND-GDP", "地区生产总值增速"),
        DeductionChange("IND-GDP", "地区生产总值增速", Decimal("0"), Decimal("2")),
    )
    (plan,) = office.queue([rerun], CATCH_UP + timedelta(hours=1))

    assert (plan.action, plan.period_key) == ("replace", "2026-02")  # folded into February's
    waiting = [m for m in office.messages() if m.status == "pending"]
    assert [m.period for m in waiting] == ["2026-02"]
    assert "地区生产总值增速（IND-GDP）：新增预扣分" in waiting[0].body_text
    assert [p.action for p in office.queue([rerun], CATCH_UP + timedelta(hours=2))] == ["skip"]


def test_an_unsent_reminder_of_an_earlier_month_is_merged_into_the_next_months_reminder(
    office: Office,
) -> None:
    def reminder(period: str, deadline: str) -> UnitDigest:
        day = datetime.fromisoformat(deadline).date()
        return UnitDigest(
            unit_code=UNIT,
            unit_name=NAME,
            kind="pre_deadline_reminder",
            period_key=period,
            items=(MissingUpload("IND-GDP", "地区生产总值增速", day),),
            deadline=day,
        )

    office.queue([reminder("2026-10", "2026-11-05")], CATCH_UP)
    office.queue([reminder("2026-11", "2026-12-07")], CATCH_UP)

    statuses = {m.period: m.status for m in office.messages()}
    assert statuses == {"2026-10": "merged", "2026-11": "pending"}
    (november,) = [m for m in office.messages() if m.status == "pending"]
    assert "2026年12月7日" in november.body_text and "2026年11月5日" not in november.body_text


def test_a_month_with_nothing_new_still_carries_what_the_older_waiting_message_left_open(
    office: Office,
) -> None:
    office.queue([JANUARY], CATCH_UP)
    quiet_february = month("2026-02")  # all green, no pre-deduction changed
    (plan,) = office.queue([quiet_february], CATCH_UP)

    assert (plan.action, plan.period_key) == ("new", "2026-02")
    statuses = {m.period: m.status for m in office.messages()}
    assert statuses == {"2026-01": "merged", "2026-02": "pending"}
    (february,) = [m for m in office.messages() if m.status == "pending"]
    assert "固定资产投资（IND-INV）：新增预扣分，由 0.00 分调整为 3.00 分" in february.body_text
    assert "【预扣分】固定资产投资" not in february.body_text  # January's red level is stale
    assert [p.action for p in office.queue([quiet_february], CATCH_UP)] == ["skip"]
