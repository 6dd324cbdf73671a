"""Properties that must hold for any input."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from models.rules import (
    MISSING,
    UNAVAILABLE,
    Absent,
    IndicatorSpec,
    Level,
    Period,
    PeriodKind,
    WorkCalendar,
    assess,
    completion,
    parse_period,
    plan_entries,
    plan_entry,
    rank_competition,
    running_score,
)

points = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
weights = st.decimals(
    min_value=Decimal("0.01"), max_value=100, places=2, allow_nan=False, allow_infinity=False
)
values = st.decimals(min_value=-1000, max_value=10000, places=3, allow_nan=False)
months = st.integers(min_value=1, max_value=12)


@st.composite
def specs(draw: st.DrawFn) -> IndicatorSpec:
    kind = draw(st.sampled_from(["increase", "planned", "decrease", "milestone"]))
    if kind == "increase":
        return IndicatorSpec.increase(draw(points))
    if kind == "planned":
        return IndicatorSpec.increase(
            draw(points), plan=sorted(draw(st.lists(points, min_size=12, max_size=12)))
        )
    if kind == "decrease":
        target = draw(points)
        return IndicatorSpec.decrease(baseline=target + draw(points), target=target)
    return IndicatorSpec.milestone(draw(st.lists(months, min_size=1, max_size=6)))


observations = st.one_of(values, st.just(MISSING), st.just(UNAVAILABLE))


@given(current=points, new=points)
def test_booking_a_plan_then_planning_again_books_nothing(current: Decimal, new: Decimal) -> None:
    change = plan_entry(current, new)
    booked = current + (change.amount if change else Decimal(0))
    assert booked == new
    assert plan_entry(booked, new) is None


@given(computations=st.lists(st.one_of(points, st.none()), max_size=20))
def test_booked_entries_always_sum_to_the_last_computed_amount(
    computations: list[Decimal | None],
) -> None:
    key = ("unit", "indicator", 2026)
    entries: list[Decimal] = []
    expected = Decimal(0)
    for amount in computations:
        planned = plan_entries({key: sum(entries, Decimal(0))}, {key: amount})
        entries.extend(change.amount for change in planned.values())
        if amount is not None:  # None (unavailable) leaves the sum as it was
            expected = amount
        assert sum(entries, Decimal(0)) == expected


@given(scores=st.dictionaries(st.text(max_size=3), points, max_size=15))
def test_ranks_are_a_valid_competition_ranking(scores: dict[str, Decimal]) -> None:
    ranks = rank_competition(scores)
    assert set(ranks) == set(scores)
    for unit, rank in ranks.items():
        better = sum(1 for other in scores.values() if other > scores[unit])
        assert rank == 1 + better
    assert rank_competition(dict(reversed(list(scores.items())))) == ranks


@given(spec=specs(), weight=weights, month=months, observation=observations)
@settings(max_examples=300)
def test_a_unit_is_never_pre_deducted_for_an_unavailable_value(
    spec: IndicatorSpec, weight: Decimal, month: int, observation: Decimal | Absent
) -> None:
    result = assess(spec, weight, month, observation)
    assert Decimal(0) <= result.pre_deduction <= weight
    if observation is UNAVAILABLE:
        assert result.level is Level.UNAVAILABLE
        assert result.pre_deduction == 0
        assert not (result.reminder or result.warning)
    elif result.pre_deduction > 0:
        assert result.level.is_red


@given(spec=specs(), month=months, actual=values)
def test_completion_is_never_negative(spec: IndicatorSpec, month: int, actual: Decimal) -> None:
    assert completion(spec, month, actual) >= 0


@given(
    total=weights,
    deductions=st.lists(
        st.decimals(min_value=-100, max_value=1000, places=2, allow_nan=False), max_size=10
    ),
)
def test_scores_stay_between_0_and_100(total: Decimal, deductions: list[Decimal]) -> None:
    score = running_score(total, deductions)
    assert Decimal(0) <= score <= Decimal(100)
    assert score == score.quantize(Decimal("0.01"))


@given(
    kind=st.sampled_from(list(PeriodKind)),
    year=st.integers(min_value=2000, max_value=2100),
    data=st.data(),
)
def test_period_keys_round_trip_and_next_undoes_previous(
    kind: PeriodKind, year: int, data: st.DataObject
) -> None:
    period = Period(kind, year, data.draw(st.integers(1, kind.periods_per_year)))
    assert parse_period(period.key) == period
    assert period.next().previous() == period
    assert period.previous() < period < period.next()


CAL = WorkCalendar()


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 6, 30)),
    n=st.integers(min_value=-40, max_value=40),
)
def test_adding_working_days_and_counting_them_agree(start: date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, end) == n
    if n:
        assert CAL.is_working_day(end)
    assert (end > start) == (n > 0) or n == 0
    assert abs(end - start) <= timedelta(days=abs(n) * 5 + 14)
