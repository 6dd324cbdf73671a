from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from models.rules import (
    MISSING,
    IndicatorSpec,
    Level,
    Ruling,
    RulingError,
    RulingKind,
    WorkCalendar,
    appeal_deadline,
    apply_ruling,
    assess,
    is_appeal_in_time,
    ruled_amount,
)

D = Decimal
CST = timezone(timedelta(hours=8))
SPEC = IndicatorSpec.increase(100)  # E(12) = 100
RED = assess(SPEC, 10, 12, 50)  # c = 0.5 → 10 × 0.5 = 5.00
CAL = WorkCalendar()


@pytest.mark.parametrize(
    ("ruling", "amount"),
    [
        (Ruling(RulingKind.REJECTED), D("5.00")),
        (Ruling(RulingKind.WAIVED), D("0.00")),
        (Ruling(RulingKind.REDUCED, share=D("0.4")), D("3.00")),  # 5 × 0.6
        (Ruling(RulingKind.REDUCED, share=D("0.333")), D("3.34")),  # 5 × 0.667 = 3.335 → 3.34
        (Ruling(RulingKind.REDUCED, share=D(1)), D("0.00")),
        (Ruling(RulingKind.REDUCED, share=D(0)), D("5.00")),
    ],
)
def test_a_ruling_sets_the_deduction_that_stands(ruling: Ruling, amount: Decimal) -> None:
    outcome = apply_ruling(ruling, RED, spec=SPEC, weight=10, month_index=12)
    assert outcome.amount == amount
    assert outcome.after == RED == outcome.before


def test_a_corrected_value_is_reassessed() -> None:
    outcome = apply_ruling(
        Ruling(RulingKind.CORRECTED, corrected_value=D(96)),
        RED,
        spec=SPEC,
        weight=10,
        month_index=12,
    )
    assert outcome.after.level is Level.GREEN
    assert outcome.amount == D("0.00")


def test_a_corrected_value_replaces_a_missing_one() -> None:
    missing = assess(SPEC, 10, 12, MISSING)  # 5.00
    ruling = Ruling(RulingKind.CORRECTED, corrected_value=D(60))
    outcome = apply_ruling(ruling, missing, spec=SPEC, weight=10, month_index=12)
    # c = 0.6 → red, 10 × 0.4 = 4.00
    assert (outcome.after.level, outcome.amount) == (Level.RED, D("4.00"))


def test_ruled_amount_applies_to_final_deductions_too() -> None:
    assert ruled_amount(Ruling(RulingKind.REDUCED, share=D("0.5")), D("6.67")) == D("3.34")  # 3.335
    with pytest.raises(RulingError, match="apply_ruling"):
        ruled_amount(Ruling(RulingKind.CORRECTED, corrected_value=D(1)), D(1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "pardon"}, "ruling kind must be one of"),
        ({"kind": RulingKind.CORRECTED}, "needs the corrected value"),
        ({"kind": RulingKind.REDUCED}, "needs the share"),
        ({"kind": RulingKind.REDUCED, "share": D("1.5")}, "from 0 to 1"),
        ({"kind": RulingKind.REDUCED, "share": D("-0.1")}, "from 0 to 1"),
        ({"kind": RulingKind.WAIVED, "share": D("0.5")}, "only a reduced ruling"),
        ({"kind": RulingKind.REJECTED, "corrected_value": D(1)}, "only a corrected ruling"),
        ({"kind": RulingKind.CORRECTED, "corrected_value": "n/a"}, "corrected_value"),
    ],
)
def test_inconsistent_rulings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RulingError, match=message):
        Ruling(**kwargs)  # type: ignore[arg-type]


def test_the_appeal_window_is_five_working_days_after_the_sending_date() -> None:
    # Sent Friday 2026-10-09: 10-10 (make-up Saturday), 10-12, 10-13, 10-14, 10-15.
    deadline = appeal_deadline(datetime(2026, 10, 9, 15, 0, tzinfo=CST), CAL)
    assert deadline == datetime(2026, 10, 15, 23, 59, 59, 999999, tzinfo=CST)


def test_the_sending_date_is_taken_in_shanghai() -> None:
    # 2026-09-30 17:00 UTC is 2026-10-01 01:00 in Shanghai (holiday):
    # 10-08, 10-09, 10-10, 10-12, 10-13.
    deadline = appeal_deadline(datetime(2026, 9, 30, 17, 0, tzinfo=UTC), CAL)
    assert deadline.date().isoformat() == "2026-10-13"


def test_an_appeal_on_the_last_day_is_in_time() -> None:
    sent = datetime(2026, 10, 9, 15, 0, tzinfo=CST)
    ok, reason = is_appeal_in_time(sent, datetime(2026, 10, 15, 23, 0, tzinfo=CST), CAL)
    assert ok
    assert reason.startswith("在申诉期内")


def test_a_late_appeal_is_refused_saying_why() -> None:
    sent = datetime(2026, 10, 9, 15, 0, tzinfo=CST)
    ok, reason = is_appeal_in_time(sent, datetime(2026, 10, 16, 0, 0, tzinfo=CST), CAL)
    assert not ok
    assert "已超过申诉期" in reason
    assert "5个工作日" in reason
    assert "2026年10月15日" in reason
    assert "2026年10月16日" in reason


def test_an_appeal_before_the_result_was_sent_is_refused() -> None:
    sent = datetime(2026, 10, 9, 15, 0, tzinfo=CST)
    ok, reason = is_appeal_in_time(sent, datetime(2026, 10, 9, 14, 0, tzinfo=CST), CAL)
    assert not ok
    assert "早于" in reason


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        appeal_deadline(datetime(2026, 10, 9, 15, 0), CAL)
