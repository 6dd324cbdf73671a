import json
from datetime import time
from decimal import Decimal

import pytest

from models.rules import DEFAULT_RULES, YearRules, YearRulesError, round_points, to_decimal


def test_the_defaults_are_the_2026_rulebook_numbers() -> None:
    r = DEFAULT_RULES
    assert (r.green_threshold, r.yellow_threshold, r.orange_threshold) == (
        Decimal("0.95"),
        Decimal("0.85"),
        Decimal("0.70"),
    )
    assert r.missing_share == Decimal("0.5")
    assert (r.display_completion_cap, r.scoring_completion_cap) == (Decimal("1.2"), Decimal(1))
    assert r.upload_deadline_day == 5
    assert r.reminder_working_days_before_deadline == 2
    assert r.pre_deadline_reminder_time == time(9, 0)
    assert r.monthly_analysis_time == time(9, 0)
    assert r.quarterly_monitoring_time == time(10, 0)
    assert r.half_year_evaluation_time == time(11, 0)
    assert r.annual_assessment_time == time(12, 0)
    assert r.negative_list_consecutive_months == 2
    assert r.low_discrimination_cv == Decimal("0.05")
    assert r.appeal_working_days == 5
    assert r.excellent_min_score == Decimal(90)
    assert r.excellent_top_share == Decimal("0.30")
    assert (r.good_min_score, r.fair_min_score) == (Decimal(80), Decimal(60))
    assert (r.message_window_start, r.message_window_end) == (time(9, 0), time(18, 0))


def test_rules_survive_a_json_round_trip() -> None:
    data = json.loads(json.dumps(DEFAULT_RULES.to_dict()))
    assert data["green_threshold"] == "0.95"
    assert data["monthly_analysis_time"] == "09:00"
    assert data["upload_deadline_day"] == 5
    assert YearRules.from_dict(data) == DEFAULT_RULES


def test_absent_keys_take_the_defaults_and_floats_become_exact_decimals() -> None:
    rules = YearRules.from_dict({"green_threshold": 0.9, "annual_assessment_time": "14:30"})
    assert rules.green_threshold == Decimal("0.9")  # via str(0.9), not the binary float
    assert rules.annual_assessment_time == time(14, 30)
    assert rules.yellow_threshold == Decimal("0.85")


@pytest.mark.parametrize(
    ("data", "key_in_message"),
    [
        ({"green_treshold": "0.9"}, "green_treshold"),
        ({"green_threshold": "abc"}, "green_threshold"),
        ({"green_threshold": True}, "green_threshold"),
        ({"yellow_threshold": "0.96"}, "green_threshold"),  # yellow above green
        ({"orange_threshold": "0.9"}, "yellow_threshold"),  # orange above yellow
        ({"missing_share": "1.5"}, "missing_share"),
        ({"upload_deadline_day": 31}, "upload_deadline_day"),
        ({"upload_deadline_day": "5"}, "upload_deadline_day"),
        ({"appeal_working_days": 0}, "appeal_working_days"),
        ({"monthly_analysis_time": "9am"}, "monthly_analysis_time"),
        ({"monthly_analysis_time": "24:00"}, "monthly_analysis_time"),
        ({"excellent_top_share": "0"}, "excellent_top_share"),
        ({"display_completion_cap": "0.9"}, "display_completion_cap"),
        ({"message_window_end": "08:00"}, "message_window_end"),
        ({"good_min_score": "50"}, "good_min_score"),  # below fair 60
    ],
)
def test_bad_rules_are_refused_with_the_key_named(
    data: dict[str, object], key_in_message: str
) -> None:
    with pytest.raises(YearRulesError, match=key_in_message):
        YearRules.from_dict(data)


def test_rules_must_be_a_mapping() -> None:
    with pytest.raises(YearRulesError, match="mapping"):
        YearRules.from_dict(["green_threshold"])


def test_round_points_rounds_halves_up() -> None:
    # 1.505 → 1.51 (banker's rounding would give 1.50); 2.675 → 2.68; -0.005 → -0.01
    assert round_points(Decimal("1.505")) == Decimal("1.51")
    assert round_points(Decimal("2.675")) == Decimal("2.68")
    assert round_points(Decimal("-0.005")) == Decimal("-0.01")


def test_to_decimal_converts_floats_through_their_string_form() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
    with pytest.raises(ValueError, match="weight"):
        to_decimal(float("nan"), name="weight")
    with pytest.raises(ValueError, match="boolean"):
        to_decimal(False)
