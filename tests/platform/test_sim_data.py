"""The simulator's generated year: reproducible, plausible, and bad in known ways."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from deployments.platform_sim_data import (
    BAD_REASONS,
    CST,
    SimDataset,
    SimIndicator,
    generate_year,
    monthly_analysis_day,
    synthetic_catalog,
)
from tests.platform.support import YEAR, small_catalog

REQUIRED = ("record_id", "unit_code", "indicator_code", "period", "value", "status", "updated_at")


def year(seed: int = 5, now: datetime | None = None) -> SimDataset:
    units, indicators = small_catalog()
    return generate_year(units, indicators, YEAR, seed, now=now)


def good(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if not r["record_id"].startswith("bad-")]


def test_the_same_seed_gives_the_same_year_and_another_seed_a_different_one() -> None:
    a, b, c = year(5), year(5), year(6)
    for period in a.periods:
        assert a.visible_progress(period) == b.visible_progress(period)
    assert a.appeals == b.appeals
    assert a.expected_reason == b.expected_reason
    assert a.visible_progress(f"{YEAR}-05") != c.visible_progress(f"{YEAR}-05")


def test_a_month_is_the_same_whatever_order_months_are_generated_in() -> None:
    forward, backward = year(), year()
    for period in forward.periods:
        forward.month(period)
    for period in reversed(backward.periods):
        backward.month(period)
    for period in forward.periods:
        assert forward.month(period).versions == backward.month(period).versions


def test_every_month_has_each_kind_of_bad_record_marked_bad_with_its_reason() -> None:
    data = year()
    known_units = {u.code for u in data.units}
    known_indicators = {i.code for i in data.indicators}
    for period in data.periods:
        month = data.month(period)
        reasons = month.expected_reason
        assert set(reasons.values()) == set(BAD_REASONS)
        bad = {r["record_id"]: r for r in month.versions if r["record_id"].startswith("bad-")}
        assert set(bad) == set(reasons)
        for rid, reason in reasons.items():
            rec = bad[rid]
            if reason == "unknown_unit":
                assert rec["unit_code"] not in known_units
            elif reason == "unknown_indicator":
                assert rec["indicator_code"] not in known_indicators
            elif reason == "period_mismatch":
                assert rec["period"] != period
            elif reason == "non_numeric_value":
                assert isinstance(rec["value"], str)
            else:
                assert any(name not in rec for name in REQUIRED)
        # and nothing else is bad
        for rec in good(month.versions):
            assert all(name in rec for name in REQUIRED)
            assert rec["unit_code"] in known_units
            assert rec["indicator_code"] in known_indicators
            assert rec["period"] == period
            assert isinstance(rec["value"], int | float)


def test_resubmissions_keep_their_record_id_and_the_later_version_wins() -> None:
    data = year()
    resubmitted = set().union(*(data.month(p).resubmitted for p in data.periods))
    assert resubmitted
    for period in data.periods:
        month = data.month(period)
        visible = {r["record_id"]: r for r in data.visible_progress(period)}
        for rid in month.resubmitted:
            first, later = (r for r in month.versions if r["record_id"] == rid)
            assert later["updated_at"] > first["updated_at"]
            assert later["reported_at"] == first["reported_at"] == first["updated_at"]
            assert later["value"] != first["value"]
            assert visible[rid] is later


def test_before_a_resubmission_arrives_the_first_version_is_what_the_platform_shows() -> None:
    data = year()
    period = next(p for p in data.periods if data.month(p).resubmitted)
    rid = sorted(data.month(period).resubmitted)[0]
    first, _ = (r for r in data.month(period).versions if r["record_id"] == rid)
    between = datetime.fromisoformat(first["updated_at"])
    shown = {r["record_id"]: r for r in data.visible_progress(period, now=between)}
    assert shown[rid] is first
    assert all(r["updated_at"] <= first["updated_at"] for r in shown.values())


def test_withdrawals_drafts_and_missing_uploads_all_occur() -> None:
    units, indicators = synthetic_catalog(40, 25, seed=2)
    data = generate_year(units, indicators, YEAR, seed=9)
    month = data.month(f"{YEAR}-06")
    visible = {r["record_id"]: r for r in data.visible_progress(f"{YEAR}-06")}
    assert month.withdrawn and month.draft_only and month.missing
    assert all(visible[rid]["status"] == "withdrawn" for rid in month.withdrawn)
    assert all(visible[rid]["status"] == "draft" for rid in month.draft_only)
    assert all("reported_at" not in visible[rid] for rid in month.draft_only)
    present = {(r["unit_code"], r["indicator_code"]) for r in good(list(visible.values()))}
    assert not month.missing & present
    values = data.effective_values(f"{YEAR}-06")
    assert all(
        values[(visible[rid]["unit_code"], visible[rid]["indicator_code"])] is None
        for rid in month.withdrawn
    )


def test_units_follow_their_profile_most_on_track_some_lagging_a_few_badly() -> None:
    units, indicators = synthetic_catalog(50, 20, seed=4)
    data = generate_year(units, indicators, YEAR, seed=8)
    profiles = Counter(data.profiles.values())
    assert profiles["on_track"] > profiles["lagging"] > profiles["badly_lagging"] >= 1

    by_indicator = {i.code: i for i in indicators}
    month = 4
    bands = {"on_track": (0.95, 1.13), "lagging": (0.70, 0.94), "badly_lagging": (0.34, 0.69)}
    period = f"{YEAR}-{month:02d}"
    resubmitted = data.month(period).resubmitted
    checked = 0
    for (unit, code), value in data.effective_values(period).items():
        ind = by_indicator[code]
        if (
            ind.direction != "increase"
            or value is None
            or f"r{YEAR}04-{unit}-{code}" in resubmitted
        ):
            continue
        lo, hi = bands[data.profiles[unit]]
        assert lo <= value / ind.expected(month) <= hi, (unit, code)
        checked += 1
    assert checked > 500


def test_uploads_come_a_few_days_after_month_end_mostly_before_the_fifth() -> None:
    units, indicators = synthetic_catalog(30, 30, seed=1)
    data = generate_year(units, indicators, YEAR, seed=1)
    for period, next_month in ((f"{YEAR}-03", f"{YEAR}-04"), (f"{YEAR}-12", f"{YEAR + 1}-01")):
        first_versions = [r for r in good(data.month(period).versions) if "reported_at" in r]
        days = [int(r["reported_at"][8:10]) for r in first_versions]
        assert all(r["reported_at"].startswith(next_month) for r in first_versions)
        assert all(r["updated_at"].endswith("+08:00") for r in first_versions)
        assert sum(d < 5 for d in days) / len(days) > 0.8
        assert max(days) <= 9


def test_values_are_plain_numbers_rounded_to_two_places_and_milestones_are_counts() -> None:
    data = year()
    for period in data.periods:
        for rec in good(data.visible_progress(period)):
            value = rec["value"]
            assert round(value, 2) == value
            if rec["indicator_code"] == "PROJ":
                assert isinstance(value, int)
                assert 0 <= value <= 4


def test_only_on_platform_units_upload_and_only_after_they_were_onboarded() -> None:
    data = year()
    for period in data.periods:
        units = {r["unit_code"] for r in good(data.visible_progress(period))}
        assert "D02" not in units
        assert ("D03" in units) == (period >= f"{YEAR}-06")
    assert "D02" not in {u["unit_code"] for u in data.unit_view().items}


def test_nothing_is_visible_before_now_and_everything_once_now_is_none() -> None:
    early = year(now=datetime(2026, 4, 1, 12, tzinfo=CST))
    assert early.visible_progress(f"{YEAR}-04") == []
    assert all(
        r["updated_at"] <= "2026-04-01T12:00:00+08:00" for r in early.visible_progress(f"{YEAR}-03")
    )
    early.now = None
    assert len(early.visible_progress(f"{YEAR}-04")) > 0


def test_appeals_come_a_few_working_days_after_the_monthly_analysis_one_late_each_month() -> None:
    data = year()
    appeals = data.appeals
    kinds = Counter(a["kind"] for a in appeals)
    assert set(kinds) == {"data_error", "force_majeure", "innovation", "other"}
    for a in appeals:
        month = int(a["period"][5:7])
        filed = datetime.fromisoformat(a["filed_at"]).date()
        assert filed > monthly_analysis_day(YEAR, month)
        assert (a["claimed_value"] is not None) == (a["kind"] == "data_error")
        assert a["reason"]
    per_month = Counter(a["period"] for a in appeals)
    assert all(3 <= n <= 6 for n in per_month.values()) and len(per_month) == 12
    late_months = Counter(a["period"] for a in appeals if a["appeal_id"] in data.late_appeal_ids)
    assert late_months == Counter({p: 1 for p in data.periods})


def test_the_monthly_analysis_follows_the_upload_deadline_and_the_official_calendar() -> None:
    # September 2026: the deadline moves to 8 October (national holiday), analysis on the 9th
    assert monthly_analysis_day(2026, 9).isoformat() == "2026-10-09"


def test_indicators_reject_impossible_definitions() -> None:
    with pytest.raises(ValueError, match="baseline"):
        SimIndicator("X", "decrease", 1.0)
    with pytest.raises(ValueError, match="12"):
        SimIndicator("X", "increase", 1.0, plan=(1.0, 2.0))
    with pytest.raises(ValueError, match="milestone"):
        SimIndicator("X", "milestone", 1.0)


@pytest.mark.slow
def test_a_100k_pair_province_serves_a_full_month() -> None:
    # How fast it is generated is measured by bench/collect_month.py, never timed here.
    units, indicators = synthetic_catalog(100, 1000, seed=1)
    data = generate_year(units, indicators, YEAR, seed=1)
    assert data.pair_count == 100_000
    view = data.progress_view(f"{YEAR}-03")
    assert len(view.items) > 95_000
