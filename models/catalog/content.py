"""The content checks of a parsed catalog: lengths, numbers, control characters, secrets.

The limits themselves are stated in ``models.catalog.limits``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from models.catalog.limits import (
    MAX_CATEGORY_CHARS,
    MAX_CHANNEL_CHARS,
    MAX_LIST_ENTRIES,
    MAX_MILESTONE_CHARS,
    MAX_RULE_CHARS,
    MAX_VALUE,
    MAX_WEIGHT,
    TEXT_LIMITS,
    VALUE_PLACES,
    WEIGHT_PLACES,
)
from models.catalog.schema import Catalog, CatalogProblem, Loc
from models.messages import find_confidential_marker

_ALLOWED_CONTROLS = frozenset("\t\n\r")


def decimal_places(value: Decimal) -> int:
    """Decimals needed to write ``value`` exactly (2.50 needs 1, 2.345678 needs 6)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _control_character(text: str) -> str | None:
    for char in text:
        if char in _ALLOWED_CONTROLS:
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            return f"U+{ord(char):04X}"
    return None


def text_problems(text: str, limit: int) -> Iterator[str]:
    """What is wrong with one text value (in Chinese, for the office)."""
    if len(text) > limit:
        yield f"文字过长：{len(text)} 个字符，最多 {limit} 个"
    control = _control_character(text)
    if control is not None:
        yield f"含有不可见的控制字符（{control}），请删除"
    marker = find_confidential_marker(text)
    if marker is not None:
        yield (
            f"含有现场检查计划用语“{marker}”：此内容会出现在发给被考核单位的消息中，"
            "不得透露现场检查计划，请改写"
        )


def _weight_problems(weight: Decimal) -> Iterator[str]:
    if not weight.is_finite():
        yield f"分值必须是有限的数，得到 {weight}"
        return
    if weight > MAX_WEIGHT:
        yield f"分值 {weight} 超过上限 {MAX_WEIGHT}"
    if decimal_places(weight) > WEIGHT_PLACES:
        yield f"分值最多两位小数，得到 {weight}"


def _value_problems(label: str, value: Decimal) -> Iterator[str]:
    if not value.is_finite():
        yield f"{label}必须是有限的数，得到 {value}"
        return
    if abs(value) >= MAX_VALUE:
        yield f"{label} {value} 超出范围（绝对值须小于 10^14）"
    if decimal_places(value) > VALUE_PLACES:
        yield f"{label}最多 {VALUE_PLACES} 位小数，得到 {value}"


def _list_problems(values: tuple[str, ...], limit: int) -> Iterator[str]:
    if len(values) > MAX_LIST_ENTRIES:
        yield f"条目过多：{len(values)} 个，最多 {MAX_LIST_ENTRIES} 个"
    for value in values:
        yield from text_problems(value, limit)


def _rule_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for entry in value:
            yield from _rule_strings(entry)
    elif isinstance(value, dict):
        for key, entry in value.items():
            yield str(key)
            yield from _rule_strings(entry)


def check_limits(catalog: Catalog, file: str = "(catalog)") -> list[CatalogProblem]:
    """Every limit a parsed catalog breaks, each located (see the module docstring).

    Rows built in code carry no location; they are named by ``file``, sheet and position.
    """
    problems: list[CatalogProblem] = []

    def where(loc: Loc | None, sheet: str, index: int) -> Loc:
        return loc if loc is not None else Loc(file, sheet, index + 1)

    def texts(loc: Loc, sheet: str, row: Any) -> None:
        for column, limit in TEXT_LIMITS[sheet].items():
            value = getattr(row, column)
            if value:
                for message in text_problems(str(value), limit):
                    problems.append(CatalogProblem(loc.at(column), message))

    for index, year in enumerate(catalog.years):
        loc = where(year.loc, "years", index)
        texts(loc, "years", year)
        for key, value in year.rules.items():
            for text in _rule_strings(value):
                for message in text_problems(text, MAX_RULE_CHARS):
                    problems.append(CatalogProblem(loc, f"规则 {key}：{message}"))
    for index, unit in enumerate(catalog.units):
        loc = where(unit.loc, "units", index)
        texts(loc, "units", unit)
        if len(unit.channels) > MAX_LIST_ENTRIES:
            message = f"提醒渠道过多：{len(unit.channels)} 个，最多 {MAX_LIST_ENTRIES} 个"
            problems.append(CatalogProblem(loc.at("channels"), message))
        for channel in unit.channels:
            if len(channel) > MAX_CHANNEL_CHARS or _control_character(channel):
                message = f"提醒渠道地址过长或含有控制字符（最多 {MAX_CHANNEL_CHARS} 个字符）"
                problems.append(CatalogProblem(loc.at("channels"), message))
    for index, item in enumerate(catalog.items):
        texts(where(item.loc, "items", index), "items", item)
    for index, ind in enumerate(catalog.indicators):
        loc = where(ind.loc, "indicators", index)
        texts(loc, "indicators", ind)

        def add(column: str, messages: Iterator[str], at: Loc = loc) -> None:
            problems.extend(CatalogProblem(at.at(column), m) for m in messages)

        add("weight", _weight_problems(ind.weight))
        if ind.target is not None:
            add("target", _value_problems("目标值", ind.target))
        if ind.baseline is not None:
            add("baseline", _value_problems("基期值", ind.baseline))
        if ind.plan is not None:
            if len(ind.plan) > MAX_LIST_ENTRIES:
                add("plan", iter([f"月度计划条目过多：{len(ind.plan)} 个"]))
            else:
                for month, value in enumerate(ind.plan, start=1):
                    add("plan", _value_problems(f"第 {month} 个计划值", value))
        add("categories", _list_problems(ind.categories, MAX_CATEGORY_CHARS))
        names = tuple(m.name for m in ind.milestones)
        add("milestones", _list_problems(names, MAX_MILESTONE_CHARS))
    return problems
