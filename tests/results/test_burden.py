"""The experience report's figures from plain counts, and the simplification proposals."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from models.catalog.revision import CatalogChange, RevisionRow
from models.plans.annual import IndicatorRef, proposals_markdown, simplification_proposals
from models.plans.burden import (
    BurdenCounts,
    RevisedItem,
    SamePeriod,
    burden_figures,
    burden_markdown,
    figure_values,
    items_revised_in_year,
)

COUNTS = BurdenCounts(
    year=2026,
    key_items=4,
    key_items_last_year=6,
    item_codes=frozenset({"K01", "K02", "A12", "A13"}),
    item_codes_last_year=frozenset({"K01", "K02", "K11", "K17", "I18"}),
    merged=("基层党组织建设", "党风廉政建设"),
    adapted=("生态修复治理面积",),
    simplified=("文明城市创建测评", "政务信息报送量", "会议材料报送及时率"),
    proposals=("安全生产责任落实",),
    counties=12,
    counties_on_platform=12,
    departments=30,
    departments_on_platform=27,
    onsite_problems=5,
    onsite_problems_closed=3,
    promotion_units=("C01", "D08"),
    messages_delivered=1000,
    units=42,
    messages_max_unit_month=3,
    onsite_plans=4,
    onsite_sampled=12,
    onsite_checks=9,
    months=10,
    item_names={"A12": "防范化解债务风险", "A13": "锰污染治理", "K11": "重点工作督查"},
    categories={"government": 18, "key_development": 12, "party_mass": 12},
    promoted_people=7,
    items_added_in_year=(RevisedItem("A13", "锰污染治理", "青考办〔2026〕12号", "2026-07"),),
    same_period=SamePeriod(month=10, items=4, items_last_year=5),
)


def test_every_figure_of_section_ten_is_computed_from_the_counts() -> None:
    values = figure_values(burden_figures(COUNTS))
    assert values == {
        "key_items": 4,
        "key_items_change": -2,
        "items": 4,
        "items_added": 2,
        "items_dropped": 3,
        "items_added_in_year": 1,
        "items_removed_in_year": 0,
        "items_same_period_change": Decimal("-20.0"),
        "items_change_percent": Decimal("-20.0"),
        "indicators_merged": 2,
        "indicators_adapted": 1,
        "indicators_simplified": 3,
        "simplification_proposals": 1,
        "counties_on_platform": 12,
        "departments_on_platform": 27,
        "unit_categories": 3,
        "onsite_problems_solved": 3,
        "promotion_units": 2,
        "promoted_people": 7,
        "messages_per_unit_month": Decimal("2.38"),  # 1000 ÷ (42 units × 10 months that ran)
        "onsite_checks": 9,
    }


def test_the_change_in_percent_is_left_open_only_when_last_year_had_no_items() -> None:
    first_year = replace(COUNTS, item_codes_last_year=frozenset(), key_items_last_year=0)
    figures = {f.key: f for f in burden_figures(first_year)}
    assert figures["items_change_percent"].value is None
    assert figures["items_change_percent"].text == "—（上年无考核事项）"
    assert figures["key_items_change"].text == "+4 项（2025年 0 项）"


def test_the_report_is_written_in_chinese_with_names_and_every_figure() -> None:
    text = burden_markdown(COUNTS)
    assert text.startswith("# 2026年度考核工作减负增效情况报告")
    assert "新增事项 2 项（防范化解债务风险、锰污染治理）" in text
    assert "取消事项 3 项（I18、重点工作督查、K17）" in text
    assert "纳入考核平台管理的区县 12 个（共 12 个），市直部门 27 个（共 30 个）" in text
    assert "通过实地核查发现并整改销号问题 3 个（共发现 5 个）" in text
    assert "每个单位每月收到的提醒消息平均 2.38 条" in text
    assert "按 42 个单位、已运行的 10 个月计" in text
    assert "分 3 个类别（重点发展县 12 个、党群部门 12 个、政府部门 18 个）考核" in text
    assert "推荐提拔任用干部 7 人（涉及 2 个单位）" in text
    assert (
        "今年以来，经审定修订新增考核事项 1 项（锰污染治理（青考办〔2026〕12号，自7月起）），"
        "取消 0 项；考核事项较上年同期变化 -20.0%（截至10月：2026年 4 项，2025年同期 5 项）。"
    ) in text
    assert "| 年内经审定修订新增考核事项（项） | 1 项（占全年考核事项的 25.0%） |" in text
    for figure in burden_figures(COUNTS):
        assert f"| {figure.label} | {figure.text} |" in text


def _months(values: dict[int, str]) -> dict[str, dict[int, Decimal]]:
    return {f"2026-{m:02d}": {u: Decimal(v) for u, v in values.items()} for m in range(1, 13)}


def test_an_indicator_that_hardly_varies_all_year_is_proposed_for_simplification() -> None:
    flat = IndicatorRef(1, "flat", "平稳指标")
    spread = IndicatorRef(2, "spread", "分化指标")
    partial = IndicatorRef(3, "partial", "半年指标")
    completions = {
        1: _months({1: "1.00", 2: "0.98", 3: "1.02"}),
        2: _months({1: "1.00", 2: "0.60", 3: "1.10"}),
        3: {k: v for k, v in _months({1: "1", 2: "1"}).items() if k <= "2026-06"},
    }
    (proposal,) = simplification_proposals([spread, flat, partial], completions)
    assert (proposal.indicator_code, proposal.months, proposal.units) == ("flat", 12, 3)
    assert proposal.max_cv == Decimal("0.0163")
    text = proposals_markdown(2026, [proposal])
    assert "| flat | 平稳指标 | 3 | 12 | 0.0163 | 区分度不大，建议简化 |" in text
    assert "（本年度无符合条件的指标）" in proposals_markdown(2026, [])


def test_the_report_leaves_no_figure_of_the_seed_empty() -> None:
    text = burden_markdown(COUNTS)
    assert "×" not in text and "None" not in text
    for figure in burden_figures(COUNTS):
        assert figure.value is not None and figure.text.strip(), figure.key


def test_a_half_year_proposes_indicators_that_hardly_vary_in_its_months() -> None:
    flat_half = IndicatorRef(1, "flat", "上半年平稳指标")
    spread_later = IndicatorRef(2, "later", "下半年分化指标")
    months = _months({1: "1.00", 2: "0.99", 3: "1.01"})
    later = {
        k: (v if k <= "2026-06" else {1: Decimal("0.5"), 2: Decimal("1.2"), 3: Decimal("1")})
        for k, v in months.items()
    }
    completions = {1: {k: v for k, v in months.items() if k <= "2026-06"}, 2: later}
    found = simplification_proposals([flat_half, spread_later], completions, through=6)
    assert [(p.indicator_code, p.months) for p in found] == [("flat", 6), ("later", 6)]
    assert simplification_proposals([flat_half, spread_later], completions) == []
    text = proposals_markdown(2026, found, through=6)
    assert text.startswith("# 2026 年上半年指标简化建议（半年评估）")
    assert "在1–6月中" in text


def test_the_half_year_proposals_are_published_under_a_key_prefect_accepts() -> None:
    from models.plans.cycle_reports import simplification_publication
    from models.rules import Period

    half = simplification_publication(Period.half(2026, 1), [])
    assert half.key == "half-year-simplification-2026-h1"
    assert half.key == half.key.lower() and "1–6月" in half.markdown
    assert simplification_publication(Period.whole_year(2026), []).key == (
        "annual-simplification-2026"
    )


def _revision(rid: int, month: str, *changes: CatalogChange, year: int = 2026) -> RevisionRow:
    return RevisionRow(rid, year, f"青考办〔2026〕{rid}号", month, "", "office", "", changes)


def _item(code: str, status: str) -> dict[str, str]:
    return {"code": code, "name": f"事项{code}", "status": status}


def test_the_items_a_year_added_or_removed_come_from_its_revisions() -> None:
    added = CatalogChange("item_added", "A20", None, _item("A20", "approved"))
    approved = CatalogChange(
        "item_changed", "A21", _item("A21", "pending"), _item("A21", "approved"), ("status",)
    )
    withdrawn = CatalogChange(
        "item_changed", "K01", _item("K01", "approved"), _item("K01", "withdrawn"), ("status",)
    )
    renamed = CatalogChange(
        "item_changed", "K02", _item("K02", "approved"), _item("K02", "filed"), ("status",)
    )
    short_lived = CatalogChange("item_added", "A22", None, _item("A22", "filed"))
    gone_again = CatalogChange(
        "item_changed", "A22", _item("A22", "filed"), _item("A22", "withdrawn"), ("status",)
    )
    last_year = _revision(1, "2025-05", added, year=2025)
    revisions = [
        last_year,
        _revision(2, "2026-04", added, approved, short_lived),
        _revision(3, "2026-07", withdrawn, renamed, gone_again),
    ]
    plus, minus = items_revised_in_year(revisions, 2026)
    assert [(i.code, i.document_ref, i.effective_month) for i in plus] == [
        ("A20", "青考办〔2026〕2号", "2026-04"),
        ("A21", "青考办〔2026〕2号", "2026-04"),
    ]
    assert [(i.code, i.name, i.effective_month) for i in minus] == [("K01", "事项K01", "2026-07")]
    assert items_revised_in_year(revisions, 2024) == ((), ())


def test_the_same_period_change_waits_for_the_first_analysed_month() -> None:
    figures = {f.key: f for f in burden_figures(replace(COUNTS, same_period=None))}
    assert figures["items_same_period_change"].value is None
    assert figures["items_same_period_change"].text == "—（本年度尚无已分析的月份）"
    text = burden_markdown(replace(COUNTS, same_period=None))
    assert "取消 0 项。" in text and "；考核事项较上年同期变化" not in text
