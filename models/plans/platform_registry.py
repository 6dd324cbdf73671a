"""The catalog meets the platform (issue 14, item 8): the platform's unit list checked
like any platform data, compared with the catalog as of a month, reported to the office
in Chinese and turned into a proposed catalog, never applied silently (pure).

- :func:`check_platform_units` keeps the well-formed units of ``/api/v1/units`` and sets
  the rest aside with a reason (a code that is not a short printable string, a name that
  is missing or too long, an ``onboarded_at`` that is no RFC 3339 time or lies in the
  future, a code listed twice with different content).
- :func:`compare_registry` lists the discrepancies: a unit on the platform but not in
  the catalog; one the catalog marks as on the platform but the platform does not list;
  one the platform lists but the catalog marks as not on it; an onboarding date (an
  Asia/Shanghai date) other than the catalog's. Its ``content_hash`` depends only on
  what differs, so the same discrepancies alert the office once.
- :func:`propose_catalog` is the catalog with the platform's facts applied, for the
  audited ``assess catalog change``; a unit only on the platform has no category there,
  so it is listed for the office to add by hand, never invented.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Final

from models.catalog.schema import Catalog, UnitRow
from models.plans.limits import (
    MAX_CODE,
    MAX_DETAIL,
    clean_text,
    clip,
    latest_acceptable,
    parse_time,
)
from models.plans.records import REASON_LABELS, BadRecord, identifier_bad, not_an_object
from models.rules import SHANGHAI

MAX_UNIT_NAME: Final = 200
"""``unit.name``: a longer name on the platform is set aside, not cut."""

NOT_IN_CATALOG: Final = "not_in_catalog"
MISSING_ON_PLATFORM: Final = "missing_on_platform"
NOT_MARKED: Final = "not_marked_on_platform"
ONBOARDED_DIFFERS: Final = "onboarded_differs"

KIND_LABELS: Final[dict[str, str]] = {
    NOT_IN_CATALOG: "平台有、目录无",
    MISSING_ON_PLATFORM: "目录标为已纳入平台，平台名单中没有",
    NOT_MARKED: "平台已纳入，目录标为未纳入平台",
    ONBOARDED_DIFFERS: "纳入日期不一致",
}

KIND_PLATFORM_REGISTRY: Final = "platform_registry"
"""The outbox kind of the office's message about the platform's unit list."""

UNREADABLE_TEXT: Final = "未能读取平台单位名单"

_REASONS: Final[dict[str, str]] = {**REASON_LABELS, "duplicate_unit": "单位编码重复且内容不一致"}


@dataclass(frozen=True)
class PlatformUnit:
    """A unit as the platform lists it; ``onboarded_on`` is its Asia/Shanghai date."""

    code: str
    name: str
    onboarded_on: date | None


@dataclass(frozen=True)
class PlatformUnits:
    """The platform's unit list as read: the units kept and the records set aside;
    ``failure`` (English, for logs) when the list could not be read at all."""

    units: tuple[PlatformUnit, ...] = ()
    rejected: tuple[BadRecord, ...] = ()
    failure: str | None = None

    @property
    def unreadable(self) -> bool:
        return self.failure is not None


def _bad(reason: str, detail: str, code: Any, raw: Any) -> BadRecord:
    record_id = code if isinstance(code, str) and len(code) <= MAX_CODE else None
    return BadRecord(reason, clip(detail, MAX_DETAIL), record_id, raw)


def check_platform_unit(raw: Any, now: datetime) -> PlatformUnit | BadRecord:
    """Check one raw unit of ``/api/v1/units`` at the run's ``now``."""
    if not isinstance(raw, dict):
        return not_an_object(raw)
    code = raw.get("unit_code")
    if code is None:
        return _bad("missing_fields", "missing: unit_code", None, raw)
    bad_code = identifier_bad("unit_code", code, MAX_CODE)
    if bad_code is not None:
        return _bad(*bad_code, code, raw)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        kind = "missing_fields" if name is None or name == "" else "bad_type"
        return _bad(kind, "name is missing or not a string", code, raw)
    if len(name) > MAX_UNIT_NAME:
        return _bad("too_long", f"name has {len(name)} characters (> {MAX_UNIT_NAME})", code, raw)
    onboarded = raw.get("onboarded_at")
    day: date | None = None
    if onboarded is not None:
        when = parse_time(onboarded)
        if when is None:
            return _bad("bad_time", f"onboarded_at {clip(repr(onboarded), 80)}", code, raw)
        if when > latest_acceptable(now):
            return _bad("future_time", f"onboarded_at {onboarded} is after {now}", code, raw)
        day = when.astimezone(SHANGHAI).date()
    return PlatformUnit(code, clean_text(name.strip(), MAX_UNIT_NAME), day)


def check_platform_units(items: Iterable[Any], now: datetime) -> PlatformUnits:
    """The units kept (sorted by code) and the records set aside, in order read."""
    kept: dict[str, PlatformUnit] = {}
    rejected: list[BadRecord] = []
    for raw in items:
        checked = check_platform_unit(raw, now)
        if isinstance(checked, BadRecord):
            rejected.append(checked)
            continue
        seen = kept.get(checked.code)
        if seen is not None and seen != checked:
            detail = f"unit_code {checked.code!r} listed twice with different content"
            rejected.append(_bad("duplicate_unit", detail, checked.code, raw))
            continue
        kept[checked.code] = checked
    units = tuple(kept[c] for c in sorted(kept))
    return PlatformUnits(units, tuple(rejected))


@dataclass(frozen=True)
class Discrepancy:
    """One way the catalog and the platform disagree about a unit."""

    kind: str
    code: str
    name: str
    catalog_onboarded: date | None
    platform_onboarded: date | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "catalog_onboarded": _iso(self.catalog_onboarded),
            "platform_onboarded": _iso(self.platform_onboarded),
        }

    def describe(self) -> str:
        """One line in Chinese."""
        if self.kind == NOT_IN_CATALOG:
            return f"{self.code}（{self.name}）在平台上，目录中没有此单位"
        if self.kind == MISSING_ON_PLATFORM:
            return f"{self.code}（{self.name}）目录标为已纳入平台，平台单位名单中没有"
        if self.kind == NOT_MARKED:
            return (
                f"{self.code}（{self.name}）平台已纳入（{_day(self.platform_onboarded)}），"
                "目录标为未纳入平台，按目录视为平台无数据"
            )
        return (
            f"{self.code}（{self.name}）纳入日期：目录 {_day(self.catalog_onboarded)}，"
            f"平台 {_day(self.platform_onboarded)}"
        )


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(day: date | None) -> str:
    return "（空）" if day is None else day.isoformat()


@dataclass(frozen=True)
class RegistryReport:
    """What a month's run found comparing the catalog with the platform's unit list."""

    discrepancies: tuple[Discrepancy, ...]
    rejected: tuple[BadRecord, ...] = ()
    failure: str | None = None

    @property
    def content_hash(self) -> str:
        """Depends only on what differs and what was set aside (not on the month)."""
        payload = {
            "discrepancies": [d.to_json() for d in self.discrepancies],
            "rejected": sorted(b.fingerprint for b in self.rejected),
        }
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def worth_telling(self) -> bool:
        return self.failure is None and bool(self.discrepancies or self.rejected)


def compare_registry(catalog_units: Sequence[UnitRow], platform: PlatformUnits) -> RegistryReport:
    """The discrepancies between the catalog's units (as of the month) and the platform's,
    sorted by unit code then kind (an unreadable list: none, with its failure)."""
    if platform.unreadable:
        return RegistryReport((), (), platform.failure)
    ours = {u.code: u for u in catalog_units}
    theirs = {u.code: u for u in platform.units}
    found: list[Discrepancy] = []
    for code in sorted(set(ours) | set(theirs)):
        unit, listed = ours.get(code), theirs.get(code)
        if unit is None:
            assert listed is not None
            found.append(Discrepancy(NOT_IN_CATALOG, code, listed.name, None, listed.onboarded_on))
        elif listed is None:
            if unit.on_platform:
                found.append(
                    Discrepancy(MISSING_ON_PLATFORM, code, unit.name, unit.onboarded_on, None)
                )
        elif not unit.on_platform:
            found.append(
                Discrepancy(NOT_MARKED, code, unit.name, unit.onboarded_on, listed.onboarded_on)
            )
        elif listed.onboarded_on is not None and listed.onboarded_on != unit.onboarded_on:
            found.append(
                Discrepancy(
                    ONBOARDED_DIFFERS, code, unit.name, unit.onboarded_on, listed.onboarded_on
                )
            )
    return RegistryReport(tuple(found), platform.rejected)


# ------------------------------------------------------------------------ the report


def registry_rows(report: RegistryReport) -> list[dict[str, str]]:
    """The discrepancies as a Chinese table (one row each)."""
    return [
        {
            "单位编码": d.code,
            "单位名称": d.name,
            "差异": KIND_LABELS[d.kind],
            "目录纳入日期": _day(d.catalog_onboarded) if d.kind != NOT_IN_CATALOG else "—",
            "平台纳入日期": _day(d.platform_onboarded) if d.kind != MISSING_ON_PLATFORM else "—",
        }
        for d in report.discrepancies
    ]


def _rejected_lines(report: RegistryReport) -> list[str]:
    return [
        f"- {_REASONS.get(b.reason, b.reason)}："
        f"{clip(b.record_id or '（无有效编码）', 40)}（{clip(b.detail, 120)}）"
        for b in report.rejected
    ]


def _propose_hint(year: int) -> str:
    return (
        f"如需按平台名单调整目录：`assess catalog propose --year {year} 建议.xlsx` 生成修订建议，"
        "核实后经 `assess catalog change 建议.xlsx --document 文号 --effective YYYY-MM` "
        "作为有文号的目录修订记录。目录不会自动改变。"
    )


def registry_markdown(report: RegistryReport, year: int) -> str:
    """The run artifact's section about the platform's unit list (Chinese Markdown)."""
    lines = ["## 平台单位名单核对", ""]
    if report.failure is not None:
        return "\n".join([*lines, f"> **{UNREADABLE_TEXT}**：本月未核对目录与平台单位名单。", ""])
    if not report.discrepancies:
        lines.append("- 目录与平台单位名单一致。")
    else:
        lines.append(f"- 目录与平台单位名单不一致：{len(report.discrepancies)} 处。")
        lines.append("")
        rows = registry_rows(report)
        header = list(rows[0])
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + " --- |" * len(header))
        lines += ["| " + " | ".join(r[h].replace("|", "｜") for h in header) + " |" for r in rows]
    if report.rejected:
        lines += ["", f"平台单位名单中 {len(report.rejected)} 条记录格式无效，未予采信：", ""]
        lines += _rejected_lines(report)
    if report.discrepancies:
        lines += ["", _propose_hint(year)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RegistryAlert:
    """The office's message about the platform's unit list (a ``MessageBody``)."""

    subject: str
    markdown: str
    text: str
    html: str
    content_hash: str


def registry_alert(report: RegistryReport, month: str) -> RegistryAlert | None:
    """One message for the office when the catalog and the platform disagree (or the
    platform's list holds records set aside); None when there is nothing to tell."""
    if not report.worth_telling:
        return None
    year = int(month[:4])
    head = f"{month} 月分析核对平台单位名单，发现目录与平台不一致 {len(report.discrepancies)} 处"
    if report.rejected:
        head += f"，另有 {len(report.rejected)} 条平台记录格式无效、未予采信"
    lines = [head + "：", ""]
    lines += [f"- {d.describe()}" for d in report.discrepancies]
    if report.rejected:
        lines += _rejected_lines(report)
    lines += ["", _propose_hint(year)]
    markdown = "\n".join(lines) + "\n"
    text = markdown.replace("`", "")
    body = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line)
    subject = f"【平台单位名单核对】目录与平台不一致（{month}）"
    return RegistryAlert(subject, markdown, text, body, report.content_hash)


# ---------------------------------------------------------------------- the proposal


@dataclass(frozen=True)
class Proposal:
    """The catalog with the platform's facts applied, what it changes (Chinese lines),
    and the units only on the platform, left for the office to add by hand."""

    catalog: Catalog
    changes: tuple[str, ...]
    platform_only: tuple[PlatformUnit, ...]


def propose_catalog(catalog: Catalog, platform: PlatformUnits) -> Proposal:
    """``catalog`` with each catalog unit's ``on_platform`` / ``onboarded_on`` as the
    platform lists it (a unit the platform does not list: not on the platform; a unit it
    lists without a date keeps the catalog's date)."""
    theirs = {u.code: u for u in platform.units}
    units: list[UnitRow] = []
    changes: list[str] = []
    for unit in catalog.units:
        listed = theirs.get(unit.code)
        on = listed is not None
        onboarded = None if listed is None else (listed.onboarded_on or unit.onboarded_on)
        if (on, onboarded) != (unit.on_platform, unit.onboarded_on):
            changes.append(
                f"{unit.code}（{unit.name}）：纳入平台 {_yes(unit.on_platform)} → {_yes(on)}；"
                f"纳入日期 {_day(unit.onboarded_on)} → {_day(onboarded)}"
            )
            unit = replace(unit, on_platform=on, onboarded_on=onboarded)
        units.append(unit)
    known = {u.code for u in catalog.units}
    only = tuple(u for u in platform.units if u.code not in known)
    proposed = Catalog(catalog.years, tuple(units), catalog.items, catalog.indicators)
    return Proposal(proposed, tuple(changes), only)


def _yes(value: bool) -> str:
    return "是" if value else "否"
