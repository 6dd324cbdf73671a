"""Sharing with supervisors (pure): the negative list and open problems, and change notices.

Who receives what
-----------------
``RECIPIENTS``: political inspection (巡察), livelihood projects (民生实事) and
major-project supervision (重大项目). Each export holds, as of a month: the units on
the negative list (负面清单) with the indicators that were red or missing that month,
and the problems of the problem ledger still open (问题台账未销号). It is recorded as
two ``ShareRecord`` rows (kinds ``negative_list`` and ``open_problems``) with the
content's sha256 and the unit codes, so the office can always say who received
which units when.

Change notices (变更通知)
-----------------------
A recipient must learn when a unit it was told about is no longer on the list:

- a **correction**: the list as of a shared month, recomputed from the ledger now
  (a later ``off`` entry, e.g. one with a ``ruling_id`` after an appeal), no longer
  holds a unit the recipient received (``corrections``);
- a **new export of the same month whose unit set shrank**: units of the recipient's
  previous export of that month missing from the new one (``removed_since``). An
  export is compared only with earlier exports of the *same* month to the same
  recipient (``previous_export``): October's list says nothing about March's, so
  exporting October and then March notifies no removal.

Exporting the same content of a month to the same recipient again records nothing new
(``is_repeat``): the recipient already holds it.

Every notice issued is recorded as a ``ShareRecord`` of kind ``change_notice`` for
the affected list's (recipient, month) with the removed units, so a removal is
notified once: the *effective* list a recipient holds is its latest export of that
month minus the units notified since (``effective_lists``).

Nothing here reads a database or the clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from models.catalog.vocabulary import CATEGORY_LABELS
from models.errors import OfficeError
from models.messages.render import date_label, period_label
from models.rules import Period, to_shanghai

RECIPIENTS: dict[str, str] = {
    "inspection": "市委巡察机构",
    "livelihood": "民生实事项目监督部门",
    "major_projects": "重大项目建设监督部门",
}
RECIPIENT_PURPOSES: dict[str, str] = {
    "inspection": "供政治巡察参考",
    "livelihood": "供民生实事项目监督参考",
    "major_projects": "供重大项目建设监督参考",
}

NEGATIVE_LIST = "negative_list"
OPEN_PROBLEMS = "open_problems"
CHANGE_NOTICE = "change_notice"

SOURCE_LABELS: dict[str, str] = {
    "onsite_check": "实地核查",
    "analysis": "数据分析",
    "inspection": "巡察反馈",
}


class ShareError(OfficeError, ValueError):
    """A sharing request the office must correct (message in Chinese)."""


def check_recipient(recipient: str) -> str:
    if recipient not in RECIPIENTS:
        raise ShareError(f"未知的接收方“{recipient}”，可选：{'、'.join(RECIPIENTS)}。")
    return recipient


@dataclass(frozen=True)
class NegativeEvent:
    """A ``NegativeListEntry`` row."""

    id: int
    unit_code: str
    period: str
    event: str
    ruling_id: int | None
    created_at: datetime


def negative_list_as_of(events: Iterable[NegativeEvent], month: str) -> dict[str, NegativeEvent]:
    """Units on the list as of ``month`` → the event that put them there.

    A unit's state as of a month is its event of the latest valid month at or before
    it, events of one month in booking order (``models.plans.as_of``), as the monthly
    analysis and the recomputation after a ruling read it: a rerun of June booked
    after October does not outrank October.
    """
    latest: dict[str, NegativeEvent] = {}
    for e in sorted(events, key=lambda e: (e.period, e.id)):
        if e.period <= month:
            latest[e.unit_code] = e
    return {code: e for code, e in latest.items() if e.event == "on"}


def latest_event_as_of(
    events: Iterable[NegativeEvent], unit_code: str, month: str
) -> NegativeEvent | None:
    mine = [e for e in events if e.unit_code == unit_code and e.period <= month]
    return max(mine, key=lambda e: (e.period, e.id)) if mine else None


@dataclass(frozen=True)
class ListedUnit:
    unit_code: str
    unit_name: str
    category: str
    since: str
    red_indicators: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenProblem:
    problem_id: int
    unit_code: str
    unit_name: str
    source: str
    period: str
    description: str
    rectify_by: date


def share_content(
    recipient: str,
    month: str,
    listed: Sequence[ListedUnit],
    problems: Sequence[OpenProblem],
) -> dict[str, Any]:
    """What a recipient receives (JSON-ready, no timestamp: the same content, the same hash)."""
    check_recipient(recipient)
    return {
        "title": f"{period_label(month)}负面清单及问题整改情况",
        "recipient": recipient,
        "recipient_label": RECIPIENTS[recipient],
        "purpose": RECIPIENT_PURPOSES[recipient],
        "period": month,
        "negative_list": [
            {
                "unit_code": u.unit_code,
                "unit_name": u.unit_name,
                "category": CATEGORY_LABELS.get(u.category, u.category),
                "on_list_since": u.since,
                "red_indicators": list(u.red_indicators),
            }
            for u in sorted(listed, key=lambda u: u.unit_code)
        ],
        "open_problems": [
            {
                "problem_id": p.problem_id,
                "unit_code": p.unit_code,
                "unit_name": p.unit_name,
                "source": SOURCE_LABELS.get(p.source, p.source),
                "period": p.period,
                "description": p.description,
                "rectify_by": p.rectify_by.isoformat(),
                "overdue": p.rectify_by.isoformat() < _month_end(month),
            }
            for p in sorted(problems, key=lambda p: (p.unit_code, p.problem_id))
        ],
    }


def _month_end(month: str) -> str:
    return Period.parse(month).last_day.isoformat()


def _day(at: datetime) -> date:
    local = to_shanghai(at)
    return date(local.year, local.month, local.day)


def content_hash(content: Mapping[str, Any]) -> str:
    payload = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def share_sheets(
    content: Mapping[str, Any], generated_at: datetime | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The export as XLSX sheets with Chinese headers (the deadline a date cell, the
    export time, if given, a datetime the workbook writer shows in Beijing time)."""
    return {
        "负面清单": [
            {
                "单位编码": u["unit_code"],
                "单位名称": u["unit_name"],
                "考核类别": u["category"],
                "列入月份": u["on_list_since"],
                "当月红色或未上传指标": "、".join(u["red_indicators"]),
            }
            for u in content["negative_list"]
        ],
        "未销号问题": [
            {
                "问题编号": p["problem_id"],
                "单位编码": p["unit_code"],
                "单位名称": p["unit_name"],
                "问题来源": p["source"],
                "所属期间": p["period"],
                "问题描述": p["description"],
                "整改期限": date.fromisoformat(p["rectify_by"]),
                "是否逾期": "是" if p["overdue"] else "否",
            }
            for p in content["open_problems"]
        ],
        "说明": [
            {"项目": "标题", "内容": content["title"]},
            {"项目": "接收方", "内容": content["recipient_label"]},
            {"项目": "用途", "内容": content["purpose"]},
            {"项目": "统计月份", "内容": content["period"]},
            *([{"项目": "导出时间", "内容": generated_at}] if generated_at else []),
        ],
    }


# ---------------------------------------------------------------------- change notices


@dataclass(frozen=True)
class SharedList:
    """A ``ShareRecord`` row (negative-list export or change notice)."""

    record_id: int
    recipient: str
    kind: str
    period: str
    units: frozenset[str]
    shared_at: datetime
    content_hash: str = ""


@dataclass(frozen=True)
class Removal:
    """A unit a recipient was told is on the list, and no longer is."""

    recipient: str
    period: str
    unit_code: str
    reason: str
    shared_at: datetime
    ruling_id: int | None = None


def effective_lists(records: Iterable[SharedList]) -> dict[tuple[str, str], SharedList]:
    """Per (recipient, month): the latest export minus the units notified since."""
    rows = sorted(records, key=lambda r: r.record_id)
    latest: dict[tuple[str, str], SharedList] = {}
    for r in rows:
        if r.kind == NEGATIVE_LIST:
            latest[(r.recipient, r.period)] = r
    out: dict[tuple[str, str], SharedList] = {}
    for key, share in latest.items():
        notified: set[str] = set()
        for r in rows:
            if (
                r.kind == CHANGE_NOTICE
                and (r.recipient, r.period) == key
                and r.record_id > share.record_id
            ):
                notified |= r.units
        out[key] = SharedList(
            share.record_id,
            share.recipient,
            share.kind,
            share.period,
            share.units - notified,
            share.shared_at,
        )
    return out


def previous_export(records: Iterable[SharedList], recipient: str, month: str) -> SharedList | None:
    """The recipient's effective list of ``month`` (its latest export of that month minus
    the units notified since), or None: a new export is compared with it only."""
    return effective_lists(r for r in records if r.recipient == recipient).get((recipient, month))


def is_repeat(records: Iterable[SharedList], recipient: str, month: str, digest: str) -> bool:
    """Whether the recipient's latest export of ``month`` had exactly this content (and no
    change notice about that month came after it): exporting it again records nothing."""
    latest: SharedList | None = None
    notified_after = False
    for r in sorted(records, key=lambda r: r.record_id):
        if r.recipient != recipient or r.period != month:
            continue
        if r.kind == NEGATIVE_LIST:
            latest, notified_after = r, False
        elif r.kind == CHANGE_NOTICE and latest is not None:
            notified_after = True
    return latest is not None and not notified_after and latest.content_hash == digest


def corrections(
    records: Iterable[SharedList],
    events: Sequence[NegativeEvent],
    *,
    recipient: str | None = None,
    since: datetime | None = None,
) -> list[Removal]:
    """Units of shared lists that the list as of their month, recomputed now, no longer has.

    ``since`` limits the look-back to exports shared at or after it.
    """
    out: list[Removal] = []
    for (who, month), share in sorted(effective_lists(records).items()):
        if recipient is not None and who != recipient:
            continue
        if since is not None and share.shared_at < since:
            continue
        current = negative_list_as_of(events, month)
        for code in sorted(share.units - set(current)):
            last = latest_event_as_of(events, code, month)
            if last is not None and last.ruling_id is not None:
                reason = f"经申诉复查裁定（裁定编号 {last.ruling_id}）更正，已移出负面清单"
                ruling = last.ruling_id
            else:
                reason = "经数据更正，该月不再列入负面清单"
                ruling = None
            out.append(Removal(who, month, code, reason, share.shared_at, ruling))
    return out


def removed_since(
    previous: SharedList | None,
    new_units: Iterable[str],
    new_month: str,
    already: Iterable[Removal] = (),
) -> list[Removal]:
    """Units of the recipient's previous list missing from its new export."""
    if previous is None:
        return []
    skip = {(r.period, r.unit_code) for r in already}
    gone = previous.units - set(new_units)
    return [
        Removal(
            previous.recipient,
            previous.period,
            code,
            f"截至{period_label(new_month)}已不在负面清单",
            previous.shared_at,
        )
        for code in sorted(gone)
        if (previous.period, code) not in skip
    ]


def notice_groups(removals: Iterable[Removal]) -> dict[tuple[str, str], list[Removal]]:
    """Removals per (recipient, month): one ``change_notice`` record each."""
    groups: dict[tuple[str, str], list[Removal]] = {}
    for r in removals:
        groups.setdefault((r.recipient, r.period), []).append(r)
    return groups


def change_notice_json(
    recipient: str, removals: Sequence[Removal], names: Mapping[str, str], generated_at: datetime
) -> dict[str, Any]:
    return {
        "title": "负面清单变更通知",
        "recipient": recipient,
        "recipient_label": RECIPIENTS.get(recipient, recipient),
        "generated_at": to_shanghai(generated_at).isoformat(),
        "changes": [
            {
                "period": r.period,
                "unit_code": r.unit_code,
                "unit_name": names.get(r.unit_code, r.unit_code),
                "change": "removed",
                "reason": r.reason,
                "ruling_id": r.ruling_id,
                "previously_shared_at": to_shanghai(r.shared_at).isoformat(),
            }
            for r in sorted(removals, key=lambda r: (r.period, r.unit_code))
        ],
    }


def change_notice_markdown(
    recipient: str, removals: Sequence[Removal], names: Mapping[str, str], generated_at: datetime
) -> str:
    """The change notice in Chinese (Markdown)."""
    lines = [
        f"# 负面清单变更通知（致{RECIPIENTS.get(recipient, recipient)}）",
        "",
        f"市考核办此前向贵方报送的负面清单有以下变更，请以本通知为准"
        f"（通知生成日期：{date_label(_day(generated_at))}）。",
        "",
        "| 清单月份 | 单位 | 变更 | 原因 | 原报送日期 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in sorted(removals, key=lambda r: (r.period, r.unit_code)):
        name = names.get(r.unit_code, r.unit_code)
        lines.append(
            f"| {period_label(r.period)} | {name}（{r.unit_code}） | 移出负面清单 | {r.reason} | "
            f"{date_label(_day(r.shared_at))} |"
        )
    lines += ["", "—— 市考核办"]
    return "\n".join(lines) + "\n"
