"""Final scores, ranks inside a category and grades, and the unit's result notice."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from models.messages import ResultItem, build_unit_message, content_hash
from models.plans.annual import AnnualResult, result_notice_digests
from models.plans.monthly import IndicatorSnap, UnitSnap
from models.plans.results import plan_results
from models.rules import Direction, Grade, IndicatorSpec, grades, rank_competition

SPEC = IndicatorSpec(Direction.INCREASE, target=Decimal(100))


def scores(*values: str) -> dict[str, Decimal]:
    return {f"U{i}": Decimal(v) for i, v in enumerate(values, start=1)}


def test_tied_scores_share_a_rank_and_the_next_rank_skips() -> None:
    ranks = rank_competition(scores("95", "93", "93", "91", "85"))
    assert list(ranks.values()) == [1, 2, 2, 4, 5]
    assert ranks == {"U1": 1, "U2": 2, "U3": 2, "U4": 4, "U5": 5}


def test_only_the_top_thirty_percent_rounded_up_can_be_excellent() -> None:
    # 7 units: ceil(0.3 × 7) = 3 places. U4 scores 91 but ranks 4th: good, not excellent.
    graded = grades(scores("95", "93", "92", "91", "85", "70", "50"))
    assert [graded[f"U{i}"] for i in range(1, 8)] == [
        Grade.EXCELLENT, Grade.EXCELLENT, Grade.EXCELLENT, Grade.GOOD,
        Grade.GOOD, Grade.FAIR, Grade.POOR,
    ]  # fmt: skip


def test_units_tied_on_the_last_excellent_place_are_all_excellent() -> None:
    # 10 units: 3 places; ranks 1, 2, 3, 3 all within them.
    graded = grades(scores("96", "95", "94", "94", "93", "88", "80", "79.99", "60", "59.99"))
    assert [g.label for g in graded.values()] == [
        "优秀", "优秀", "优秀", "优秀", "良好", "良好", "良好", "一般", "一般", "较差"
    ]  # fmt: skip


def test_a_top_ranked_unit_below_ninety_is_not_excellent() -> None:
    graded = grades(scores("89.99", "85", "70"))
    assert graded == {"U1": Grade.GOOD, "U2": Grade.GOOD, "U3": Grade.FAIR}


def test_plan_results_ranks_and_grades_each_category_apart() -> None:
    # Category "a": 4 units scoring 100, 95, 95, 50 → top share ceil(1.2) = 2 places.
    # Category "b": 2 units → ceil(0.6) = 1 place.
    units = [UnitSnap(i, f"U{i}", f"单位{i}", "a" if i <= 4 else "b") for i in range(1, 7)]
    indicators = [
        IndicatorSnap(1, "I1", "指标1", Decimal(10), SPEC, frozenset({"a", "b"})),
        IndicatorSnap(2, "I2", "指标2", Decimal(10), SPEC, frozenset({"a"})),
    ]
    sums = {(2, 1): Decimal(1), (3, 1): Decimal(1), (4, 2): Decimal(10), (6, 1): Decimal("0.5")}
    results = {r.unit_id: r for r in plan_results(units, indicators, sums, with_grades=True)}
    assert [(results[u].score, results[u].rank) for u in range(1, 7)] == [
        (Decimal("100.00"), 1), (Decimal("95.00"), 2), (Decimal("95.00"), 2),
        (Decimal("50.00"), 4), (Decimal("100.00"), 1), (Decimal("95.00"), 2),
    ]  # fmt: skip
    assert [results[u].grade for u in range(1, 7)] == [
        Grade.EXCELLENT, Grade.EXCELLENT, Grade.EXCELLENT, Grade.POOR,
        Grade.EXCELLENT, Grade.GOOD,
    ]  # fmt: skip


def _result(code: str, category: str, score: str, rank: int, grade: str) -> AnnualResult:
    return AnnualResult(
        code,
        f"单位{code}",
        "county",
        category,
        Decimal(score),
        rank,
        grade,
        Decimal(0),
        Decimal(100),
    )


RESULTS = [
    _result("C01", "key_development", "96.50", 1, "excellent"),
    _result("C02", "key_development", "91.00", 2, "good"),
    _result("C03", "key_development", "91.00", 2, "good"),
    _result("C10", "ecological_protection", "72.25", 1, "fair"),
]


def test_each_unit_is_told_its_score_rank_among_its_category_and_grade() -> None:
    digests = {d.unit_code: d for d in result_notice_digests(RESULTS, 2026, date(2027, 1, 20))}
    assert set(digests) == {"C01", "C02", "C03", "C10"}
    (item,) = digests["C02"].items
    assert item == ResultItem("重点发展县", Decimal("91.00"), 2, 3, "good")
    assert digests["C10"].items == (ResultItem("生态保护县", Decimal("72.25"), 1, 1, "fair"),)
    message = build_unit_message(digests["C02"])
    assert message.subject == "【市考核办】2026年度考核 · 单位C02"
    for body in (message.markdown, message.text, message.html):
        assert "91.00 分" in body and "重点发展县（共3个单位）中排名第2名" in body
        assert "良好" in body and "2027年1月20日" in body  # the appeal window it opens


def test_an_unchanged_result_keeps_its_appeal_window_and_a_changed_one_gets_a_new_one() -> None:
    first = {d.unit_code: d for d in result_notice_digests(RESULTS, 2026, date(2027, 1, 20))}
    previous = {code: (content_hash(d), date(2027, 1, 20)) for code, d in first.items()}
    changed = [replace(RESULTS[0], score=Decimal("95.00")), *RESULTS[1:]]
    again = {
        d.unit_code: d
        for d in result_notice_digests(changed, 2026, date(2027, 2, 3), previous=previous)
    }
    assert content_hash(again["C02"]) == previous["C02"][0]  # same content: nothing resent
    assert again["C01"].appeal_window is not None
    assert again["C01"].appeal_window.ends_on == date(2027, 2, 3)


def test_a_result_item_refuses_an_unknown_grade_or_a_rank_outside_its_category() -> None:
    with pytest.raises(ValueError, match="grade"):
        ResultItem("重点发展县", Decimal(90), 1, 3, "outstanding")
    with pytest.raises(ValueError, match="rank"):
        ResultItem("重点发展县", Decimal(90), 4, 3, "good")
