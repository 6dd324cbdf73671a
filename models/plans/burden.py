"""The office's experience report (减负增效经验材料): rulebook section 10's figures, pure.

``tasks.annual.gather_burden_counts`` reads plain counts from the records
(``BurdenCounts``); ``burden_figures`` turns them into the report's figures and
``burden_markdown`` writes the report in Chinese. Nothing here reads a database
or the clock.

The figures, for a year Y:

- ``key_items`` and ``key_items_change``: key items (重点考核事项, approved or filed) in
  Y and the difference from Y − 1;
- ``items``, ``items_added``, ``items_dropped``, ``items_change_percent``: counting
  items in Y, items new in Y (by code), items of Y − 1 gone in Y, the change in the
  number of items in percent (one decimal, ``None`` only when Y − 1 had none);
- ``indicators_merged`` / ``indicators_adapted`` / ``indicators_simplified``: Y's
  indicators by lifecycle, and ``simplification_proposals`` (measured low
  discrimination: CV under the year's ``low_discrimination_cv`` all year);
- ``counties_on_platform`` / ``departments_on_platform`` of ``counties`` / ``departments``;
- ``unit_categories``: the categories the units are assessed in (类别), each with its
  number of units;
- ``onsite_problems_solved`` of ``onsite_problems``: problems found by on-site checks
  of Y (their period is in Y) that are closed;
- ``promotion_units``: units whose Y result fed a promotion recommendation
  (a ``ResultUse`` of use ``appointment``), and ``promoted_people``: the people those
  recommendations named (``assess results record-use --people``);
- ``messages_per_unit_month``: messages delivered to units about Y's periods (status
  ``delivered``, period in Y, wherever they were sent) ÷ (units × the months of Y
  whose monthly analysis ran), two decimals;
  ``messages_delivered`` the total and ``messages_max_unit_month`` the most of them
  one unit received in one calendar month (Asia/Shanghai);
- ``onsite_checks``: on-site checks made (distinct unit and day with a recorded
  finding) and ``onsite_sampled``: units drawn for checks by Y's quarterly plans;
- ``items_added_in_year`` / ``items_removed_in_year``: items the year's audited catalog
  revisions added to or took out of the counting items (``items_revised_in_year``), with
  their document and effective month, and the share of the year's items they make;
- ``items_same_period_change``: the counting items as of the latest month analysed in Y
  against the same month of Y − 1 (each year's catalog as of that month, revisions
  included), in percent (上年同期).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from models.catalog.revision import ITEM_ADDED, ITEM_CHANGED, RevisionRow
from models.catalog.vocabulary import CATEGORY_LABELS, COUNTING_ITEM_STATUSES
from models.rules import DEFAULT_RULES, YearRules

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class RevisedItem:
    """An item a catalog revision of the year added to (or took out of) the counting items."""

    code: str
    name: str
    document_ref: str
    effective_month: str


@dataclass(frozen=True)
class SamePeriod:
    """Counting items as of month ``month`` of the year and of the year before."""

    month: int
    items: int
    items_last_year: int


def items_revised_in_year(
    revisions: Sequence[RevisionRow], year: int
) -> tuple[tuple[RevisedItem, ...], tuple[RevisedItem, ...]]:
    """The items ``year``'s revisions added to the counting items (approved or filed) and
    those they took out of them, each as of the last revision that changed it: an item
    added and withdrawn in the same year is in neither."""
    start: dict[str, bool] = {}
    final: dict[str, tuple[bool, RevisedItem]] = {}
    for revision in sorted(revisions, key=lambda r: r.id):
        if revision.year != year:
            continue
        for change in revision.changes:
            if change.kind not in (ITEM_ADDED, ITEM_CHANGED):
                continue
            if change.code not in start:
                before = change.before
                start[change.code] = (
                    before is not None and before.get("status") in COUNTING_ITEM_STATUSES
                )
            counting = change.after.get("status") in COUNTING_ITEM_STATUSES
            name = str(change.after.get("name") or change.code)
            item = RevisedItem(change.code, name, revision.document_ref, revision.effective_month)
            final[change.code] = (counting, item)
    added = tuple(item for code, (on, item) in sorted(final.items()) if on and not start[code])
    removed = tuple(item for code, (on, item) in sorted(final.items()) if start[code] and not on)
    return added, removed


@dataclass(frozen=True)
class BurdenCounts:
    """Plain counts taken from the records for one year (and the year before)."""

    year: int
    key_items: int
    key_items_last_year: int
    item_codes: frozenset[str]
    item_codes_last_year: frozenset[str]
    merged: tuple[str, ...]
    adapted: tuple[str, ...]
    simplified: tuple[str, ...]
    proposals: tuple[str, ...]
    counties: int
    counties_on_platform: int
    departments: int
    departments_on_platform: int
    onsite_problems: int
    onsite_problems_closed: int
    promotion_units: tuple[str, ...]
    messages_delivered: int
    units: int
    messages_max_unit_month: int
    onsite_plans: int
    onsite_sampled: int
    onsite_checks: int
    months: int = 12
    """The months of the year whose monthly analysis ran (the messages' denominator)."""
    item_names: Mapping[str, str] = field(default_factory=dict)
    categories: Mapping[str, int] = field(default_factory=dict)
    """Units per category (category code → units)."""
    promoted_people: int = 0
    notes: tuple[str, ...] = field(default=())
    items_added_in_year: tuple[RevisedItem, ...] = ()
    items_removed_in_year: tuple[RevisedItem, ...] = ()
    same_period: SamePeriod | None = None
    """Counting items as of the latest month analysed, this year and last (None: no
    month of the year analysed yet)."""


@dataclass(frozen=True)
class Figure:
    """One figure of the report: a key, its Chinese label, its value and how it reads."""

    key: str
    label: str
    value: int | Decimal | None
    text: str


def _categories(c: BurdenCounts) -> list[str]:
    """The categories in the rulebook's order (counties first), unknown ones last."""
    order = list(CATEGORY_LABELS)
    return sorted(c.categories, key=lambda k: (order.index(k) if k in order else len(order), k))


def _signed(n: int | Decimal) -> str:
    return f"+{n}" if n > 0 else str(n)


def _percent_change(now: int, before: int) -> Decimal | None:
    if before == 0:
        return None
    return (Decimal(now - before) * 100 / Decimal(before)).quantize(_TENTH, ROUND_HALF_UP)


def _share(part: int, whole: int) -> str:
    if whole == 0:
        return "—"
    return f"{(Decimal(part) * 100 / Decimal(whole)).quantize(_TENTH, ROUND_HALF_UP)}%"


def _same_period_figure(c: BurdenCounts) -> Figure:
    label = "考核事项较上年同期变化（%）"
    p = c.same_period
    if p is None:
        return Figure("items_same_period_change", label, None, "—（本年度尚无已分析的月份）")
    change = _percent_change(p.items, p.items_last_year)
    counts = f"截至{p.month}月：{c.year}年 {p.items} 项，{c.year - 1}年同期 {p.items_last_year} 项"
    if change is None:
        return Figure("items_same_period_change", label, None, f"—（{counts}）")
    return Figure("items_same_period_change", label, change, f"{_signed(change)}%（{counts}）")


def _revised_names(items: Sequence[RevisedItem]) -> str:
    return "、".join(
        f"{i.name}（{i.document_ref}，自{int(i.effective_month[5:])}月起）" for i in items
    )


def burden_figures(c: BurdenCounts) -> list[Figure]:
    """Every figure of rulebook section 10, in the rulebook's order."""
    items = len(c.item_codes)
    items_before = len(c.item_codes_last_year)
    added = sorted(c.item_codes - c.item_codes_last_year)
    dropped = sorted(c.item_codes_last_year - c.item_codes)
    change = _percent_change(items, items_before)
    key_change = c.key_items - c.key_items_last_year
    slots = c.units * c.months
    per_unit_month = (
        (Decimal(c.messages_delivered) / Decimal(slots)).quantize(_CENT, ROUND_HALF_UP)
        if slots
        else Decimal(0)
    )
    last = c.year - 1
    return [
        Figure("key_items", "重点考核事项（项）", c.key_items, f"{c.key_items} 项"),
        Figure(
            "key_items_change",
            f"重点考核事项较{last}年增减（项）",
            key_change,
            f"{_signed(key_change)} 项（{last}年 {c.key_items_last_year} 项）",
        ),
        Figure("items", "考核事项总数（项）", items, f"{items} 项（{last}年 {items_before} 项）"),
        Figure("items_added", "新增考核事项（项）", len(added), f"{len(added)} 项"),
        Figure("items_dropped", "取消考核事项（项）", len(dropped), f"{len(dropped)} 项"),
        Figure(
            "items_added_in_year",
            "年内经审定修订新增考核事项（项）",
            len(c.items_added_in_year),
            f"{len(c.items_added_in_year)} 项（占全年考核事项的 "
            f"{_share(len(c.items_added_in_year), items)}）",
        ),
        Figure(
            "items_removed_in_year",
            "年内经审定修订取消考核事项（项）",
            len(c.items_removed_in_year),
            f"{len(c.items_removed_in_year)} 项",
        ),
        _same_period_figure(c),
        Figure(
            "items_change_percent",
            f"考核事项数量较{last}年变化（%）",
            change,
            "—（上年无考核事项）" if change is None else f"{_signed(change)}%",
        ),
        Figure("indicators_merged", "整合指标（个）", len(c.merged), f"{len(c.merged)} 个"),
        Figure("indicators_adapted", "变通指标（个）", len(c.adapted), f"{len(c.adapted)} 个"),
        Figure(
            "indicators_simplified",
            "简化指标（个）",
            len(c.simplified),
            f"{len(c.simplified)} 个",
        ),
        Figure(
            "simplification_proposals",
            "区分度不大、建议简化的指标（个）",
            len(c.proposals),
            f"{len(c.proposals)} 个",
        ),
        Figure(
            "counties_on_platform",
            "纳入平台管理的区县（个）",
            c.counties_on_platform,
            f"{c.counties_on_platform} 个（共 {c.counties} 个）",
        ),
        Figure(
            "departments_on_platform",
            "纳入平台管理的市直部门（个）",
            c.departments_on_platform,
            f"{c.departments_on_platform} 个（共 {c.departments} 个）",
        ),
        Figure(
            "unit_categories",
            "考核单位类别（个）",
            len(c.categories),
            f"{len(c.categories)} 个类别（"
            + "、".join(f"{CATEGORY_LABELS.get(k, k)} {c.categories[k]} 个" for k in _categories(c))
            + "）",
        ),
        Figure(
            "onsite_problems_solved",
            "通过实地核查发现并整改销号的问题（个）",
            c.onsite_problems_closed,
            f"{c.onsite_problems_closed} 个（共发现 {c.onsite_problems} 个）",
        ),
        Figure(
            "promotion_units",
            "考核结果运用于提拔任用推荐的单位（个）",
            len(c.promotion_units),
            f"{len(c.promotion_units)} 个",
        ),
        Figure(
            "promoted_people",
            "考核结果运用于提拔任用推荐的干部（人）",
            c.promoted_people,
            f"{c.promoted_people} 人（涉及 {len(c.promotion_units)} 个单位）",
        ),
        Figure(
            "messages_per_unit_month",
            "每个单位每月收到的提醒消息（条）",
            per_unit_month,
            f"{per_unit_month} 条（送达 {c.messages_delivered} 条，按 {c.units} 个单位、"
            f"已运行的 {c.months} 个月计；单个单位单月最多 {c.messages_max_unit_month} 条）",
        ),
        Figure(
            "onsite_checks",
            "开展实地核查（家次）",
            c.onsite_checks,
            f"{c.onsite_checks} 家次（{c.onsite_plans} 次季度抽样共抽取 {c.onsite_sampled} 家次）",
        ),
    ]


def figure_values(figures: Sequence[Figure]) -> dict[str, int | Decimal | None]:
    return {f.key: f.value for f in figures}


def _in_year_sentence(c: BurdenCounts, same_period: str) -> str:
    """今年以来…: the items the year's revisions added and removed, and the same-period change."""
    added, removed = c.items_added_in_year, c.items_removed_in_year
    text = f"今年以来，经审定修订新增考核事项 {len(added)} 项" + (
        f"（{_revised_names(added)}）" if added else ""
    )
    text += f"，取消 {len(removed)} 项" + (f"（{_revised_names(removed)}）" if removed else "")
    if c.same_period is not None:
        text += f"；考核事项较上年同期变化 {same_period}"
    return text + "。"


def burden_markdown(
    c: BurdenCounts, figures: Sequence[Figure] | None = None, rules: YearRules = DEFAULT_RULES
) -> str:
    """The report in Chinese: a summary paragraph per theme, then the table of figures.

    The low-discrimination threshold it cites is the year's (``rules``)."""
    figs = {f.key: f for f in (figures if figures is not None else burden_figures(c))}
    added = [c.item_names.get(code, code) for code in sorted(c.item_codes - c.item_codes_last_year)]
    dropped = [
        c.item_names.get(code, code) for code in sorted(c.item_codes_last_year - c.item_codes)
    ]

    def t(key: str) -> str:
        return figs[key].text

    lines = [
        f"# {c.year}年度考核工作减负增效情况报告",
        "",
        "> 本报告全部数据由考核平台与考核办台账记录自动统计生成。",
        "",
        "## 一、严把考核入口，精简考核事项",
        "",
        f"{c.year}年度经审批或报备的考核事项共 {t('items')}，较上年变化 "
        f"{t('items_change_percent')}；其中重点考核事项 {t('key_items')}，较上年 "
        f"{t('key_items_change')}。新增事项 {t('items_added')}"
        + (f"（{'、'.join(added)}）" if added else "")
        + f"，取消事项 {t('items_dropped')}"
        + (f"（{'、'.join(dropped)}）" if dropped else "")
        + "。"
        + _in_year_sentence(c, t("items_same_period_change")),
        "",
        "## 二、优化考核指标",
        "",
        f"整合指标 {t('indicators_merged')}"
        + (f"（{'、'.join(c.merged)}）" if c.merged else "")
        + f"，变通指标 {t('indicators_adapted')}"
        + (f"（{'、'.join(c.adapted)}）" if c.adapted else "")
        + f"，简化指标 {t('indicators_simplified')}"
        + (f"（{'、'.join(c.simplified)}）" if c.simplified else "")
        + f"。经测算，全年各月完成度变异系数均低于{rules.low_discrimination_cv}、"
        f"建议下一年度简化的指标 "
        f"{t('simplification_proposals')}"
        + (f"（{'、'.join(c.proposals)}）" if c.proposals else "")
        + "。",
        "",
        "## 三、平台化管理",
        "",
        f"纳入考核平台管理的区县 {t('counties_on_platform')}，市直部门 "
        f"{t('departments_on_platform')}，分 {t('unit_categories')}考核。"
        "各单位以平台数据代替汇报材料，"
        f"每个单位每月收到的提醒消息平均 {t('messages_per_unit_month')}。",
        "",
        "## 四、实地核查",
        "",
        f"全年开展实地核查 {t('onsite_checks')}，通过实地核查发现并整改销号问题 "
        f"{t('onsite_problems_solved')}。",
        "",
        "## 五、考核结果运用",
        "",
        f"考核结果运用于干部提拔任用推荐的单位 {t('promotion_units')}，"
        f"推荐提拔任用干部 {t('promoted_people')}。",
        "",
        "## 附：数据一览",
        "",
        "| 指标 | 数值 |",
        "| --- | --- |",
    ]
    lines += [f"| {f.label} | {f.text} |" for f in figs.values()]
    lines += [f"- {n}" for n in c.notes]
    return "\n".join(lines) + "\n"
