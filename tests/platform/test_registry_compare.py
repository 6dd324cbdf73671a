"""The catalog meets the platform (issue 14, item 8): the pure comparison, report,
message and proposal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from deployments.demo.build_catalog import demo_catalog
from models.catalog.schema import UnitRow
from models.plans.platform_registry import (
    MISSING_ON_PLATFORM,
    NOT_IN_CATALOG,
    NOT_MARKED,
    ONBOARDED_DIFFERS,
    UNREADABLE_TEXT,
    PlatformUnits,
    check_platform_units,
    compare_registry,
    propose_catalog,
    registry_alert,
    registry_markdown,
    registry_rows,
)

NOW = datetime(2026, 4, 8, 1, 0, tzinfo=UTC)


def _unit(code: str, on: bool = True, day: date | None = date(2025, 3, 1)) -> UnitRow:
    return UnitRow(
        code=code,
        name=f"单位{code}",
        kind="county",
        category="key_development",
        on_platform=on,
        onboarded_on=day if on else None,
    )


def _listed(code: str, at: str | None = "2025-03-01T09:00:00+08:00") -> dict[str, Any]:
    item: dict[str, Any] = {"unit_code": code, "name": f"平台{code}"}
    if at is not None:
        item["onboarded_at"] = at
    return item


CATALOG = [_unit("C01"), _unit("C02"), _unit("C03"), _unit("C04", on=False)]
PLATFORM = [
    _listed("C01"),
    _listed("C02", "2025-04-15T09:00:00+08:00"),
    _listed("C04", "2026-02-01T09:00:00+08:00"),
    _listed("X01"),
]


def test_each_way_the_catalog_and_the_platform_disagree_is_one_discrepancy() -> None:
    report = compare_registry(CATALOG, check_platform_units(PLATFORM, NOW))
    found = [(d.kind, d.code) for d in report.discrepancies]
    assert found == [
        (ONBOARDED_DIFFERS, "C02"),
        (MISSING_ON_PLATFORM, "C03"),
        (NOT_MARKED, "C04"),
        (NOT_IN_CATALOG, "X01"),
    ]
    assert [d.platform_onboarded for d in report.discrepancies] == [
        date(2025, 4, 15), None, date(2026, 2, 1), date(2025, 3, 1)
    ]  # fmt: skip


def test_onboarding_dates_are_compared_as_shanghai_dates() -> None:
    late_utc = [_listed("C01", "2025-02-28T17:30:00Z")]  # 1 March 01:30 in Shanghai
    report = compare_registry([_unit("C01")], check_platform_units(late_utc, NOW))
    assert report.discrepancies == ()


def test_a_catalog_that_agrees_with_the_platform_reports_nothing_to_tell() -> None:
    report = compare_registry([_unit("C01")], check_platform_units([_listed("C01")], NOW))
    assert report.discrepancies == ()
    assert registry_alert(report, "2026-03") is None
    assert "目录与平台单位名单一致" in registry_markdown(report, 2026)


def test_the_content_hash_depends_on_what_differs_not_on_the_order_read() -> None:
    first = compare_registry(CATALOG, check_platform_units(PLATFORM, NOW))
    again = compare_registry(CATALOG, check_platform_units(PLATFORM[::-1], NOW))
    other = compare_registry(CATALOG, check_platform_units(PLATFORM[:-1], NOW))
    assert first.content_hash == again.content_hash
    assert first.content_hash != other.content_hash
    march, april = registry_alert(first, "2026-03"), registry_alert(first, "2026-04")
    assert march is not None and april is not None
    assert march.content_hash == april.content_hash


def test_the_report_and_the_message_are_in_chinese_and_point_to_the_audited_change() -> None:
    report = compare_registry(CATALOG, check_platform_units(PLATFORM, NOW))
    rows = registry_rows(report)
    assert rows[0] == {
        "单位编码": "C02",
        "单位名称": "单位C02",
        "差异": "纳入日期不一致",
        "目录纳入日期": "2025-03-01",
        "平台纳入日期": "2025-04-15",
    }
    markdown = registry_markdown(report, 2026)
    assert "| 单位编码 | 单位名称 | 差异 |" in markdown
    assert "assess catalog change" in markdown
    alert = registry_alert(report, "2026-03")
    assert alert is not None
    assert "4 处" in alert.text
    assert "C04（单位C04）平台已纳入（2026-02-01），目录标为未纳入平台" in alert.text
    assert "assess catalog propose --year 2026" in alert.text


def test_an_unreadable_unit_list_is_said_and_compares_nothing() -> None:
    report = compare_registry(CATALOG, PlatformUnits(failure="503 after 3 attempts"))
    assert report.discrepancies == ()
    assert registry_alert(report, "2026-03") is None
    assert UNREADABLE_TEXT in registry_markdown(report, 2026)


def test_hostile_unit_records_are_set_aside_with_a_reason_and_not_compared() -> None:
    hostile = [
        {"unit_code": "C01", "name": "长" * 201},
        {"unit_code": "C02", "name": "临江区", "onboarded_at": "2026-05-01T09:00:00+08:00"},
        {"unit_code": 17, "name": "数字编码"},
        {"unit_code": "C\x00", "name": "控制字符"},
        {"unit_code": "C" * 65, "name": "超长编码"},
        {"unit_code": "C03", "name": "坏时间", "onboarded_at": "yesterday"},
        {"name": "无编码"},
        "not an object",
        _listed("C05"),
        {**_listed("C05"), "name": "另一个名字"},
    ]
    checked = check_platform_units(hostile, NOW)
    assert [u.code for u in checked.units] == ["C05"]
    assert [b.reason for b in checked.rejected] == [
        "too_long", "future_time", "bad_type", "bad_characters", "too_long", "bad_time",
        "missing_fields", "not_an_object", "duplicate_unit",
    ]  # fmt: skip
    report = compare_registry([_unit("C05")], checked)
    assert report.discrepancies == ()
    alert = registry_alert(report, "2026-03")
    assert alert is not None, "records set aside are worth telling the office"
    assert "9 条平台记录格式无效" in alert.text
    assert "时间晚于当前时间" in alert.text
    markdown = registry_markdown(report, 2026)
    assert "长" * 50 not in markdown


def test_a_proposal_takes_the_platforms_facts_and_leaves_platform_only_units_to_the_office() -> (
    None
):
    catalog = demo_catalog()
    on = [u for u in catalog.units if u.on_platform]
    off = next(u for u in catalog.units if not u.on_platform)
    listed = [_listed(u.code, "2025-03-01T09:00:00+08:00") for u in on[:-1]]
    listed += [_listed(off.code, "2026-02-01T09:00:00+08:00"), _listed("X01")]
    proposal = propose_catalog(catalog, check_platform_units(listed, NOW))
    units = {u.code: u for u in proposal.catalog.units}
    assert (units[off.code].on_platform, units[off.code].onboarded_on) == (True, date(2026, 2, 1))
    assert (units[on[-1].code].on_platform, units[on[-1].code].onboarded_on) == (False, None)
    assert "X01" not in units
    assert [u.code for u in proposal.platform_only] == ["X01"]
    assert any(line.startswith(off.code) and "否 → 是" in line for line in proposal.changes)
    assert proposal.catalog.indicators == catalog.indicators
