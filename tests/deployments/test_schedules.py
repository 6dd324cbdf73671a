"""Schedules from the working-day calendar, prefect.yaml's rewrite, the alert's definition."""

from __future__ import annotations

import asyncio
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
import yaml
from typer.testing import CliRunner

from deployments.deploy_cli import deploy_app
from deployments.main_job import due_backfills
from deployments.prefect_setup import (
    ALERTED_FLOWS,
    DEFAULT_PREFECT_YAML,
    PROJECT_ROOT,
    failure_automation,
    render_prefect_yaml,
)
from deployments.schedules import (
    CYCLE_ENTRYPOINTS,
    OUTBOX_ENTRYPOINT,
    RenderedSchedules,
    cron_times_of_day,
    deployment_schedules,
    render_schedules,
    rewrite_schedules,
    rrule_with_rdates,
)
from flows.deliver_outbox import SCHEDULE_CRON
from models.rules import CalendarFallbackWarning, Cycle, WorkCalendar
from models.rules.statutory_holidays import spring_festival_days

SHANGHAI = ZoneInfo("Asia/Shanghai")
YEARS = [2026, 2027]


def _dates(rrule: str) -> list[datetime]:
    from prefect.server.schemas.schedules import RRuleSchedule

    schedule = RRuleSchedule(rrule=rrule, timezone="Asia/Shanghai")
    start, end = datetime(2026, 1, 1, tzinfo=SHANGHAI), datetime(2028, 12, 31, tzinfo=SHANGHAI)
    return list(asyncio.run(schedule.get_dates(start=start, end=end)))


@pytest.fixture(scope="module")
def rendered() -> RenderedSchedules:
    with pytest.warns(UserWarning):  # 2027 is not in the national calendar yet
        return render_schedules(YEARS, WorkCalendar(), outbox_cron=SCHEDULE_CRON)


def test_each_cycle_schedule_is_its_timetable_as_explicit_rdates(
    rendered: RenderedSchedules,
) -> None:
    by_entrypoint = rendered.by_entrypoint
    [monthly] = by_entrypoint[CYCLE_ENTRYPOINTS[Cycle.MONTHLY_ANALYSIS]]
    assert monthly["slug"] == "monthly-analysis-timetable"
    assert monthly["timezone"] == "Asia/Shanghai"
    dates = _dates(monthly["rrule"])
    assert datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI) in dates  # September 2026
    assert datetime(2026, 10, 6, 9, 0, tzinfo=SHANGHAI) not in dates  # not a naive "6th"
    calendar = WorkCalendar()
    with pytest.warns(UserWarning):
        timetable = [e for y in YEARS for e in calendar.year_timetable(y)]
    expected = [e.run_at for e in timetable if e.cycle is Cycle.MONTHLY_ANALYSIS]
    assert dates == expected
    assert len(dates) == 24
    [annual] = by_entrypoint[CYCLE_ENTRYPOINTS[Cycle.ANNUAL_ASSESSMENT]]
    assert [d.isoformat() for d in _dates(annual["rrule"])] == [
        "2027-01-06T12:00:00+08:00",
        "2028-01-06T12:00:00+08:00",
    ]
    outbox = by_entrypoint[OUTBOX_ENTRYPOINT]
    assert [s["slug"] for s in outbox] == [f"deliver-outbox-office-hours-{y}" for y in YEARS]


def test_a_reminder_is_scheduled_only_after_its_month_has_ended(
    rendered: RenderedSchedules,
) -> None:
    [reminder] = rendered.by_entrypoint[CYCLE_ENTRYPOINTS[Cycle.PRE_DEADLINE_REMINDER]]
    dates = _dates(reminder["rrule"])
    assert datetime(2026, 10, 8, 9, 0, tzinfo=SHANGHAI) in dates  # September 2026's
    assert datetime(2026, 9, 29, 9, 0, tzinfo=SHANGHAI) not in dates
    assert datetime(2026, 5, 6, 9, 0, tzinfo=SHANGHAI) in dates  # April's, not 04-29
    committed = deployment_schedules(DEFAULT_PREFECT_YAML.read_text(encoding="utf-8"))
    assert committed[CYCLE_ENTRYPOINTS[Cycle.PRE_DEADLINE_REMINDER]] == [reminder]


def test_an_rrule_starts_at_its_first_run_and_lists_every_run() -> None:
    runs = [
        datetime(2026, 3, 6, 1, 0, tzinfo=ZoneInfo("UTC")),
        datetime(2026, 2, 6, 9, 0, tzinfo=SHANGHAI),
    ]
    assert rrule_with_rdates(runs).splitlines() == [
        "DTSTART;TZID=Asia/Shanghai:20260206T090000",
        "RDATE:20260206T090000",
        "RDATE:20260306T090000",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        rrule_with_rdates([])


def test_rewriting_prefect_yaml_touches_only_the_generated_schedules(
    rendered: RenderedSchedules,
) -> None:
    original = DEFAULT_PREFECT_YAML.read_text(encoding="utf-8")
    once = rewrite_schedules(original, rendered)
    assert rewrite_schedules(once, rendered) == once  # stable
    kept = [line for line in original.splitlines() if not line.startswith("  ")]
    assert [line for line in once.splitlines() if not line.startswith("  ")] == kept
    declared = deployment_schedules(once)
    assert declared[OUTBOX_ENTRYPOINT] == rendered.by_entrypoint[OUTBOX_ENTRYPOINT]
    assert declared["flows/backfill_cycles.py:backfill_cycles"] == []
    for cycle, entrypoint in CYCLE_ENTRYPOINTS.items():
        [schedule] = declared[entrypoint]
        assert schedule["slug"] == f"{cycle.value.replace('_', '-')}-timetable"
    # A file without schedules (or with hand edits elsewhere) gets them appended.
    lines: list[str] = []
    skipping = False
    for line in original.splitlines():
        if line.startswith("  schedules:"):
            skipping = True
        elif not (skipping and line.startswith(("  - ", "  #", "    "))):
            skipping = False
            lines.append(line)
    bare = "\n".join(lines)
    assert "\n  schedules:" not in bare
    bare = bare.replace("work_pool: *assessment_pool", "work_pool: *assessment_pool  # the pool")
    rewritten = rewrite_schedules(bare, rendered)
    hand_written = {k: v for k, v in declared.items() if k not in rendered.by_entrypoint}
    assert deployment_schedules(rewritten) | hand_written == declared
    assert "work_pool: *assessment_pool  # the pool" in rewritten


def test_the_committed_prefect_yaml_defines_every_deployment_once() -> None:
    data = yaml.safe_load(DEFAULT_PREFECT_YAML.read_text(encoding="utf-8"))
    deployments = data["deployments"]
    entrypoints = [d["entrypoint"] for d in deployments]
    on_demand_and_hand_written = [
        "flows/backfill_cycles.py:backfill_cycles",
        "flows/collect_appeals.py:collect_appeals",
        "flows/rule_on_appeal.py:rule_on_appeal",
        "flows/recompute_after_appeal.py:recompute_after_appeal",
        "flows/recompute_after_catalog_change.py:recompute_after_catalog_change",
        "flows/record_onsite_finding.py:record_onsite_finding",
        "flows/close_problem.py:close_problem",
        "flows/remind_rectifications.py:remind_rectifications",
    ]
    assert sorted(entrypoints) == sorted(
        [*CYCLE_ENTRYPOINTS.values(), OUTBOX_ENTRYPOINT, *on_demand_and_hand_written]
    )
    for d in deployments:
        assert (PROJECT_ROOT / d["entrypoint"].split(":")[0]).exists()
        assert d["work_pool"]["name"] == "assessment-pool"
        for schedule in d.get("schedules") or []:
            assert schedule["slug"], f"{d['entrypoint']}: every schedule has a slug"


def test_assess_deployments_render_rewrites_a_copy_and_checks_it(tmp_path: Path) -> None:
    target = tmp_path / "prefect.yaml"
    target.write_text(DEFAULT_PREFECT_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(deploy_app, ["render", "--years", "2027", "2028", "--file", str(target)])
    assert result.exit_code == 0, result.output
    assert "years 2027, 2028" in result.output
    args = ["render", "--years", "2027", "--years", "2028", "--file", str(target), "--check"]
    check = runner.invoke(deploy_app, args)
    assert check.exit_code == 0, check.output
    stale = runner.invoke(
        deploy_app, ["render", "--years", "2026", "--file", str(target), "--check"]
    )
    assert stale.exit_code == 1
    rendered = render_prefect_yaml(target, [2026], {}, write=False)
    assert rendered.changed and "RDATE:20261009T090000" in rendered.text


def test_the_failure_automation_pages_every_channel_for_the_cycle_flows() -> None:
    blocks = [uuid4(), uuid4()]
    automation = failure_automation(blocks)
    trigger = automation.trigger
    assert getattr(trigger, "expect") >= {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}  # noqa: B009
    related = getattr(trigger, "match_related")  # noqa: B009
    names = related.root["prefect.resource.name"]
    assert {c.value for c in Cycle} <= set(names) and set(names) == set(ALERTED_FLOWS)
    assert [getattr(a, "block_document_id") for a in automation.actions] == blocks  # noqa: B009


def test_the_demo_backfills_only_what_is_due() -> None:
    now = datetime(2026, 11, 26, 15, 0, tzinfo=SHANGHAI)
    assert [(p["cycle"], p["first"], p["last"], p["mode"]) for p in due_backfills(now)] == [
        ("monthly_analysis", "2026-01", "2026-10", "missing"),
        ("quarterly_monitoring", "2026-01", "2026-09", "missing"),
        ("half_year_evaluation", "2026-01", "2026-06", "missing"),
    ]
    # On the morning of 9 October 2026 the September analysis (09:00) is due, Q3 (10:00) not.
    morning = datetime(2026, 10, 9, 9, 30, tzinfo=SHANGHAI)
    assert [p["last"] for p in due_backfills(morning)] == ["2026-09", "2026-06", "2026-06"]
    assert due_backfills(datetime(2026, 2, 1, tzinfo=SHANGHAI)) == []


def _all_dates(rrule: str) -> list[datetime]:
    """Every run of a finite RRULE, as Prefect localises it (no 1000-date cap)."""
    from prefect.server.schemas.schedules import RRuleSchedule

    return [
        d.astimezone(SHANGHAI)
        for d in RRuleSchedule(rrule=rrule, timezone="Asia/Shanghai").to_rrule()
    ]


WORKING_DAY_FLOWS = {
    OUTBOX_ENTRYPOINT: (
        "deliver-outbox-office-hours",
        [(h, m) for h in range(9, 18) for m in (0, 15, 30, 45)],
    ),
    "flows/collect_appeals.py:collect_appeals": (
        "collect-appeals-office-hours",
        [(h, 0) for h in range(9, 18)],
    ),
    "flows/remind_rectifications.py:remind_rectifications": (
        "remind-rectifications-daily",
        [(9, 30)],
    ),
}  # fmt: skip


@pytest.mark.parametrize("entrypoint", sorted(WORKING_DAY_FLOWS))
def test_the_outbox_appeals_and_reminders_run_on_working_days_only_make_up_days_included(
    rendered: RenderedSchedules, entrypoint: str
) -> None:
    slug, times = WORKING_DAY_FLOWS[entrypoint]
    schedules = rendered.by_entrypoint[entrypoint]
    assert [s["slug"] for s in schedules] == [f"{slug}-{y}" for y in YEARS]
    calendar = WorkCalendar()
    for year, schedule in zip(YEARS, schedules, strict=True):
        assert schedule["timezone"] == "Asia/Shanghai" and "cron" not in schedule
        runs = _all_dates(schedule["rrule"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CalendarFallbackWarning)
            working = [
                d
                for d in (date(year, 1, 1) + timedelta(days=n) for n in range(366))
                if d.year == year and calendar.is_working_day(d)
            ]
        expected = [
            datetime(d.year, d.month, d.day, h, m, tzinfo=SHANGHAI)
            for d in working
            for h, m in times
        ]
        assert runs == expected
    days = {d.date() for s in schedules for d in _all_dates(s["rrule"])}
    assert date(2026, 1, 4) in days  # a make-up working Sunday (调休)
    assert date(2026, 10, 1) not in days and date(2026, 1, 1) not in days
    assert not days & {date(2027, 1, 1), *spring_festival_days(2027)}


def test_a_working_day_flows_times_of_day_come_from_its_cron() -> None:
    assert cron_times_of_day(SCHEDULE_CRON) == (list(range(9, 18)), [0, 15, 30, 45])
    assert cron_times_of_day("30 9 * * *") == ([9], [30])
    assert cron_times_of_day("0,30 8-10/2 * * *") == ([8, 10], [0, 30])
    for cron in ("0 9-17 * * 1-5", "61 9 * * *", "0 9"):
        with pytest.raises(ValueError):
            cron_times_of_day(cron)


def test_the_committed_prefect_yaml_agrees_with_the_rendered_schedules(
    rendered: RenderedSchedules,
) -> None:
    committed = deployment_schedules(DEFAULT_PREFECT_YAML.read_text(encoding="utf-8"))
    for entrypoint, schedules in rendered.by_entrypoint.items():
        assert committed[entrypoint] == schedules, entrypoint
