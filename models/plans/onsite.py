"""On-site checks (四不两直) as pure plans: the weighted draw, rectification digests.

The draw
--------
At each quarterly monitoring the units with red (or missing) cells in the quarter
are the candidates, each weighted by its red count. ``draw_sample`` picks
``SampleRule.size(n)`` of them without replacement, one weighted pick at a time,
from a ``random.Random(seed)`` over the candidates sorted by unit code, using only
``randrange`` on integers: the same candidates, seed and size give the same
sample on every machine and Python version (the Mersenne Twister and
``randrange`` are stable), so a stored plan can be reproduced and audited with
``verify_draw``.

The seed is drawn at random by the shell when the plan is made and stored with
it (``OnsiteCheckPlan.seed``). It is not derived from the period: a derived seed
would let anyone who learns the derivation (or a salt) predict every future
sample, which is exactly what an unannounced check must prevent. Storing the
seed keeps the draw reproducible after the fact. A plan is drawn once per quarter
and never redrawn (no shopping for a convenient sample).

Confidentiality
---------------
Nothing here builds anything a unit sees from a plan. A finding becomes a
``Rectification`` item (the problem and its deadline only) through
``rectification_notice`` / ``rectification_reminder``; the office's own wording
is checked for words betraying a check plan before anything is recorded
(``confidential_marker``).

No database, Prefect or clock here: the caller passes ``today`` and the calendar.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from models.errors import OfficeError
from models.messages import (
    MessageKind,
    Rectification,
    UnitDigest,
    find_confidential_marker,
)
from models.rules import Level, WorkCalendar, to_shanghai

SEED_BOUND = 2**31 - 1
"""Seeds are 0 <= seed < SEED_BOUND (they are stored in a 32-bit integer column)."""

RED_LEVELS = frozenset({Level.RED.value, Level.MISSING.value})
"""Cell levels that make a unit a candidate (a missing value is red, rulebook section 5)."""

DEFAULT_REMINDER_WORKING_DAYS = 3
"""A rectification reminder goes out this many working days before the deadline."""


class OnsiteError(OfficeError, ValueError):
    """An on-site check request the office must correct (message in Chinese)."""


@dataclass(frozen=True)
class SampleRule:
    """How many candidates are sampled: ``ceil(share × n)``, at least ``minimum``, at most n."""

    share: Decimal = Decimal("0.20")
    minimum: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "share", Decimal(str(self.share)))
        if not Decimal(0) < self.share <= Decimal(1):
            raise ValueError(f"the sample share must be in (0, 1], got {self.share}")
        if self.minimum < 0:
            raise ValueError(f"the sample minimum must not be negative, got {self.minimum}")

    def size(self, candidates: int) -> int:
        if candidates <= 0:
            return 0
        wanted = max(self.minimum, math.ceil(self.share * candidates))
        return min(candidates, wanted)


DEFAULT_SAMPLE_RULE = SampleRule()


@dataclass(frozen=True)
class Candidate:
    """A unit that may be checked, with its weight (red cells in the quarter)."""

    unit_code: str
    red_count: int

    def as_dict(self) -> dict[str, Any]:
        return {"unit_code": self.unit_code, "red_count": self.red_count}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        return cls(str(data["unit_code"]), int(data["red_count"]))


@dataclass(frozen=True)
class OnsiteDraw:
    """A quarter's draw: what ``OnsiteCheckPlan`` stores."""

    period: str
    seed: int
    candidates: tuple[Candidate, ...]
    sample: tuple[str, ...]


def candidates_from_levels(levels: Mapping[str, Iterable[str]]) -> tuple[Candidate, ...]:
    """Units (by code) with at least one red or missing cell in the quarter, by code."""
    counts = {
        code: sum(1 for level in cells if level in RED_LEVELS) for code, cells in levels.items()
    }
    return tuple(Candidate(code, n) for code, n in sorted(counts.items()) if n > 0)


def draw_sample(candidates: Sequence[Candidate], seed: int, size: int) -> tuple[str, ...]:
    """``size`` unit codes drawn without replacement, each pick weighted by red count."""
    if not 0 <= seed < SEED_BOUND:
        raise ValueError(f"a seed must be in [0, {SEED_BOUND}), got {seed}")
    if any(c.red_count <= 0 for c in candidates):
        raise ValueError("every candidate needs a positive red count")
    codes = [c.unit_code for c in candidates]
    if len(set(codes)) != len(codes):
        raise ValueError("a unit is a candidate at most once")
    rng = random.Random(seed)
    pool = sorted(candidates, key=lambda c: c.unit_code)
    chosen: list[str] = []
    for _ in range(min(size, len(pool))):
        pick = rng.randrange(sum(c.red_count for c in pool))
        for index, candidate in enumerate(pool):
            if pick < candidate.red_count:
                chosen.append(candidate.unit_code)
                del pool[index]
                break
            pick -= candidate.red_count
    return tuple(chosen)


def draw_plan(
    period: str,
    candidates: Sequence[Candidate],
    seed: int,
    rule: SampleRule = DEFAULT_SAMPLE_RULE,
) -> OnsiteDraw:
    """The quarter's plan: candidates sorted by code and the weighted sample."""
    ordered = tuple(sorted(candidates, key=lambda c: c.unit_code))
    return OnsiteDraw(period, seed, ordered, draw_sample(ordered, seed, rule.size(len(ordered))))


def verify_draw(draw: OnsiteDraw) -> bool:
    """Whether the stored sample is what the stored seed and candidates give."""
    return draw_sample(draw.candidates, draw.seed, len(draw.sample)) == draw.sample


def onsite_artifact_note() -> str:
    """What a quarterly artifact may say about the draw: that it was made, nothing else.

    The same words whether or not anyone was sampled, so the artifact reveals nothing.
    """
    return (
        "\n## 实地核查抽样\n\n"
        "- 本季度已按规则完成随机抽样。抽样结果保密，仅存于考核办数据库，"
        "由考核办通过 `assess onsite export` 查阅。\n"
    )


# --------------------------------------------------------------------- rectifications


@dataclass(frozen=True)
class FindingForm:
    """What the office records after a check: where, when, what, rectified by when."""

    unit_code: str
    checked_on: date
    description: str
    rectify_by: date


def check_finding(form: FindingForm) -> None:
    """Refuse a finding that cannot be recorded or told to the unit (message in Chinese)."""
    text = form.description.strip()
    if not text:
        raise OnsiteError("问题描述不能为空。")
    if len(text) > 2000:
        raise OnsiteError(f"问题描述不能超过2000字（现为{len(text)}字）。")
    if form.rectify_by < form.checked_on:
        raise OnsiteError(
            f"整改期限（{form.rectify_by.isoformat()}）不能早于核查日期"
            f"（{form.checked_on.isoformat()}）。"
        )
    marker = confidential_marker(text)
    if marker is not None:
        raise OnsiteError(
            f"问题描述含有涉及核查安排的用语“{marker}”，整改通知将发给被考核单位，"
            "请只描述发现的问题后重新录入。"
        )


def confidential_marker(text: str) -> str | None:
    """The first word in ``text`` that would betray a check plan to a unit, if any."""
    return find_confidential_marker(text)


@dataclass(frozen=True)
class ProblemSnap:
    """A problem of the problem ledger as the rectification digests need it."""

    id: int
    unit_code: str
    unit_name: str
    period: str
    description: str
    rectify_by: date
    closed: bool = False


def _item(problem: ProblemSnap) -> Rectification:
    return Rectification(problem.id, problem.description, problem.rectify_by)


def rectification_notice(
    unit_code: str, unit_name: str, period: str, problems: Iterable[ProblemSnap]
) -> UnitDigest:
    """The unit's rectification notice (整改通知) for one check period.

    It lists every open problem found at the unit in that period, so a second
    finding re-issues the notice with both (the outbox sends it as an update of the
    first). Only the problems and their deadlines: nothing about how they were found.
    """
    items = tuple(
        _item(p)
        for p in sorted(problems, key=lambda p: p.id)
        if not p.closed and p.unit_code == unit_code and p.period == period
    )
    return UnitDigest(unit_code, unit_name, MessageKind.RECTIFICATION_NOTICE.value, period, items)


def reminder_day(rectify_by: date, calendar: WorkCalendar, working_days: int) -> date:
    """The day a reminder is due: ``working_days`` working days before the deadline."""
    return calendar.add_working_days(rectify_by, -working_days)


_REMINDED = re.compile(r"问题编号 (\d+)：")


def problems_in_body(body_text: str) -> frozenset[int]:
    """The problem numbers a rendered rectification message lists (its text body)."""
    return frozenset(int(n) for n in _REMINDED.findall(body_text))


def rectification_reminders(
    problems: Iterable[ProblemSnap],
    today: date,
    calendar: WorkCalendar,
    working_days: int = DEFAULT_REMINDER_WORKING_DAYS,
    reminded: Mapping[tuple[str, str], frozenset[int]] | None = None,
) -> list[UnitDigest]:
    """Reminders (整改到期提醒) due ``today``, each problem once.

    A problem is due when it is open and ``reminder_day ≤ today ≤ rectify_by``.
    ``reminded`` maps (unit code, period) to the problems the slot's current
    reminder already lists; a slot gets a digest only when a problem not yet
    reminded is due, and the digest then lists the still-open reminded ones too
    (the outbox keeps one reminder per unit and period, so it must hold them all).
    """
    already = reminded or {}
    by_slot: dict[tuple[str, str], list[ProblemSnap]] = defaultdict(list)
    names: dict[str, str] = {}
    for p in problems:
        by_slot[(p.unit_code, p.period)].append(p)
        names[p.unit_code] = p.unit_name
    digests = []
    for (unit_code, period), members in sorted(by_slot.items()):
        done = already.get((unit_code, period), frozenset())
        due = [
            p
            for p in members
            if not p.closed
            and p.id not in done
            and reminder_day(p.rectify_by, calendar, working_days) <= today <= p.rectify_by
        ]
        if not due:
            continue
        keep = [p for p in members if p.id in done and not p.closed]
        items = tuple(_item(p) for p in sorted([*keep, *due], key=lambda p: p.id))
        digests.append(
            UnitDigest(
                unit_code,
                names[unit_code],
                MessageKind.RECTIFICATION_REMINDER.value,
                period,
                items,
            )
        )
    return digests


# ------------------------------------------------------------------ the office's export


def plan_export(
    draw: OnsiteDraw,
    drawn_at: datetime,
    names: Mapping[str, str],
    findings: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The office's (and only the office's) view of a plan: JSON-ready, Chinese labels."""
    weights = {c.unit_code: c.red_count for c in draw.candidates}
    return {
        "title": f"{draw.period} 实地核查抽样计划（保密，仅限考核办）",
        "period": draw.period,
        "drawn_at": to_shanghai(drawn_at).isoformat(),
        "seed": draw.seed,
        "reproduced": verify_draw(draw),
        "candidates": [
            {
                "单位编码": c.unit_code,
                "单位名称": names.get(c.unit_code, c.unit_code),
                "季度红色指标数（权重）": c.red_count,
                "是否抽中": "是" if c.unit_code in draw.sample else "否",
            }
            for c in draw.candidates
        ],
        "sample": [
            {
                "抽取顺序": order,
                "单位编码": code,
                "单位名称": names.get(code, code),
                "权重": weights.get(code, 0),
            }
            for order, code in enumerate(draw.sample, start=1)
        ],
        "findings": list(findings),
    }


FINDING_DATES = ("核查日期", "整改期限")


def plan_sheets(payload: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The office's export (``plan_export``) as XLSX sheets: the draw time a datetime
    and the findings' dates date cells (the JSON keeps ISO text)."""
    return {
        "抽样说明": [
            {"项目": "季度", "内容": payload["period"]},
            {"项目": "抽样时间", "内容": datetime.fromisoformat(payload["drawn_at"])},
            {"项目": "随机种子", "内容": str(payload["seed"])},
            {"项目": "按种子重现抽样结果", "内容": "一致" if payload["reproduced"] else "不一致"},
            {"项目": "密级", "内容": "保密，仅限考核办，不得向被考核单位透露"},
        ],
        "候选单位": list(payload["candidates"]),
        "抽中单位": list(payload["sample"]),
        "核查发现": [
            {
                key: date.fromisoformat(value) if key in FINDING_DATES and value else value
                for key, value in finding.items()
            }
            for finding in payload["findings"]
        ],
    }
