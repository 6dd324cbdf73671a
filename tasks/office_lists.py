"""Loaders of the office's lists and of a unit's year (``models.plans.office_lists``).

Each returns plain rows (stored codes, ``Decimal`` points, aware UTC datetimes) read
from the ledgers; the pure module turns them into Chinese tables. An unknown unit
code or appeal status is a ``NotFoundError`` / ``InputError`` (Chinese, exit code 2).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import MarkdownArtifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from sqlalchemy import select, union
from sqlmodel import Session

from models.errors import InputError, NotFoundError
from models.persistence.database import session_scope
from models.persistence.tables import (
    Appeal,
    CommitteeDecision,
    DeductionEntry,
    Indicator,
    MonthlyAssessment,
    NegativeListEntry,
    ProblemClosure,
    ProblemEntry,
    ResultEntry,
    Ruling,
    Unit,
    WarningEntry,
    columns_of,
)
from models.plans.office_lists import UnitYearFacts, unit_artifact_key, unit_year_markdown
from models.rules import AppealStatus, Period
from tasks.runtime import Runtime

__all__ = [
    "load_appeal_rows",
    "load_ledger_rows",
    "load_problem_rows",
    "load_unit_year",
    "load_unit_years",
    "publish_unit_years_task",
]

MAX_UNIT_ARTIFACTS = 500
"""At most this many unit-year artifacts per monthly run (the units whose ledgers
changed, in code order); the rest are logged and shown by ``assess unit``."""

APPEAL = columns_of(Appeal)
RULING = columns_of(Ruling)
COMMITTEE = columns_of(CommitteeDecision)
UNIT = columns_of(Unit)
IND = columns_of(Indicator)
DED = columns_of(DeductionEntry)
WARN = columns_of(WarningEntry)
NEG = columns_of(NegativeListEntry)
RES = columns_of(ResultEntry)
MA = columns_of(MonthlyAssessment)
PROB = columns_of(ProblemEntry)
CLOSE = columns_of(ProblemClosure)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _rows(session: Session, statement: Any) -> list[dict[str, Any]]:
    """Rows as dicts, datetimes aware and numbers ``Decimal``."""
    out: list[dict[str, Any]] = []
    for mapping in session.execute(statement).mappings():
        row: dict[str, Any] = {}
        for key, value in mapping.items():
            if isinstance(value, datetime):
                value = _aware(value)
            elif isinstance(value, float):
                value = Decimal(str(value))
            row[key] = value
        out.append(row)
    return out


def unit_by_code(session: Session, code: str) -> Unit:
    """The unit with ``code``; ``NotFoundError`` (Chinese) when there is none."""
    unit: Unit | None = session.execute(select(Unit).where(UNIT.code == code)).scalar_one_or_none()
    if unit is None or unit.id is None:
        raise NotFoundError(f"单位编码“{code}”不存在：请检查编码，如 C04。")
    return unit


def check_status(status: str) -> str:
    """``status`` if it is an appeal status; ``InputError`` naming the statuses otherwise."""
    known = {s.value: s.label for s in AppealStatus}
    if status not in known:
        forms = "、".join(f"{code}（{label}）" for code, label in known.items())
        raise InputError(f"申诉状态“{status}”不对：可选 {forms}。")
    return status


def load_appeal_rows(
    session: Session, status: str | None = None, unit_code: str | None = None
) -> list[dict[str, Any]]:
    """Every appeal (optionally of one status or one unit) with its latest ruling."""
    where: list[Any] = []
    if status is not None:
        where.append(APPEAL.status == check_status(status))
    if unit_code is not None:
        where.append(APPEAL.unit_id == unit_by_code(session, unit_code).id)
    return _appeals(session, where)


def _appeals(session: Session, where: Sequence[Any]) -> list[dict[str, Any]]:
    rows = _rows(
        session,
        select(
            APPEAL.id,
            APPEAL.platform_id,
            UNIT.code.label("unit_code"),
            UNIT.name.label("unit_name"),
            IND.code.label("indicator_code"),
            IND.name.label("indicator_name"),
            APPEAL.period,
            APPEAL.kind,
            APPEAL.status,
            APPEAL.filed_at,
            APPEAL.received_at,
            APPEAL.reason,
            APPEAL.refusal_reason,
        )
        .join(Unit, UNIT.id == APPEAL.unit_id)
        .join(Indicator, IND.id == APPEAL.indicator_id)
        .where(*where)
        .order_by(APPEAL.id),
    )
    ids = [r["id"] for r in rows]
    rulings: dict[int, dict[str, Any]] = {}
    for r in _rows(
        session,
        select(
            RULING.id,
            RULING.appeal_id,
            RULING.kind,
            RULING.reason,
            RULING.ruled_at,
            RULING.document_ref,
        )
        .where(RULING.appeal_id.in_(ids))
        .order_by(RULING.id),
    ):
        rulings[r["appeal_id"]] = r  # the latest ruling of each appeal
    decisions: dict[int, bool] = {}
    for d in _rows(
        session,
        select(COMMITTEE.ruling_id, COMMITTEE.approved)
        .where(COMMITTEE.appeal_id.in_(ids))
        .order_by(COMMITTEE.id),
    ):
        decisions[d["ruling_id"]] = bool(d["approved"])
    for row in rows:
        ruling = rulings.get(row["id"])
        if ruling is not None:
            row.update(
                ruling_kind=ruling["kind"],
                ruling_reason=ruling["reason"],
                ruled_at=ruling["ruled_at"],
                document_ref=ruling["document_ref"],
                committee_approved=decisions.get(ruling["id"]),
            )
    return rows


def _problems(session: Session, where: Sequence[Any]) -> list[dict[str, Any]]:
    return _rows(
        session,
        select(
            PROB.id,
            UNIT.code.label("unit_code"),
            UNIT.name.label("unit_name"),
            PROB.source,
            PROB.period,
            IND.code.label("indicator_code"),
            PROB.description,
            PROB.rectify_by,
            PROB.created_at,
            CLOSE.closed_at,
            CLOSE.note.label("closing_note"),
        )
        .join(Unit, UNIT.id == PROB.unit_id)
        .outerjoin(Indicator, IND.id == PROB.indicator_id)
        .outerjoin(ProblemClosure, CLOSE.problem_id == PROB.id)
        .where(*where)
        .order_by(PROB.id),
    )


def load_problem_rows(session: Session, open_only: bool = False) -> list[dict[str, Any]]:
    """Every problem of the ledger with its closing, if any (``open_only``: not closed)."""
    return _problems(session, [CLOSE.id.is_(None)] if open_only else [])


def _indicators(session: Session, year: int) -> dict[int, tuple[str, str]]:
    return {
        i: (code, name)
        for i, code, name in session.execute(
            select(IND.id, IND.code, IND.name).where(IND.year == year)
        )
    }


def _results(session: Session, year: int, where: Sequence[Any]) -> list[dict[str, Any]]:
    return _rows(
        session,
        select(
            UNIT.code.label("unit_code"),
            RES.category,
            RES.cycle,
            RES.period,
            RES.score,
            RES.deductions,
            RES.total_weight,
            RES.rank,
            RES.grade,
            RES.version,
            RES.cause,
            RES.created_at,
        )
        .join(Unit, UNIT.id == RES.unit_id)
        .where(RES.period.like(f"{year:04d}%"), *where)
        .order_by(RES.id),
    )


def load_unit_year(session: Session, unit_code: str, year: int) -> UnitYearFacts:
    """Everything the ledgers hold about ``unit_code`` in ``year``."""
    unit = unit_by_code(session, unit_code)
    return load_unit_years(session, [unit], year)[unit.code]


UNITS_PER_READ = 500
"""Units read at once by ``load_unit_years`` (one query per ledger for all of them)."""


def _by_unit(rows: list[dict[str, Any]], key: str = "unit_id") -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.pop(key), []).append(row)
    return grouped


def load_unit_years(session: Session, units: Sequence[Unit], year: int) -> dict[str, UnitYearFacts]:
    """``load_unit_year`` for many units (code → facts): each ledger read once for up to
    ``UNITS_PER_READ`` units, not once per unit."""
    everything = [
        (i, code, name, frozenset(categories or []))
        for i, code, name, categories in session.execute(
            select(IND.id, IND.code, IND.name, IND.categories).where(IND.year == year)
        )
    ]
    all_year = {i: (code, name) for i, code, name, _ in everything}
    sizes: Counter[tuple[str, str, str]] = Counter(
        (category, cycle, period)
        for cycle, period, category, _ in session.execute(
            select(RES.cycle, RES.period, RES.category, RES.unit_id)
            .where(RES.period.like(f"{year:04d}%"))
            .distinct()
        )
    )
    out: dict[str, UnitYearFacts] = {}
    for k in range(0, len(units), UNITS_PER_READ):
        chunk = units[k : k + UNITS_PER_READ]
        ids = [u.id for u in chunk]
        months = _by_unit(_rows(session, select(
            MA.unit_id, MA.period, MA.indicator_id, MA.level, MA.completion, MA.pre_deduction,
        ).where(MA.unit_id.in_(ids), MA.year == year)))  # fmt: skip
        deductions = _by_unit(_rows(session, select(
            DED.unit_id, DED.id, DED.period, DED.indicator_id, DED.kind, DED.stage, DED.amount,
            DED.level, DED.completion, DED.ruling_id, DED.created_at, DED.note,
        ).where(DED.unit_id.in_(ids), DED.year == year)))  # fmt: skip
        warnings = _by_unit(_rows(session, select(
            WARN.unit_id, WARN.id, WARN.period, WARN.indicator_id, WARN.level, WARN.completion,
            WARN.corrects_id, WARN.ruling_id, WARN.created_at,
        ).where(WARN.unit_id.in_(ids), WARN.period.like(f"{year:04d}-%"))))  # fmt: skip
        negative = _by_unit(_rows(session, select(
            NEG.unit_id, NEG.id, NEG.period, NEG.event, NEG.ruling_id, NEG.created_at,
        ).where(NEG.unit_id.in_(ids), NEG.period.like(f"{year:04d}-%"))))  # fmt: skip
        appeals: dict[Any, list[dict[str, Any]]] = {}
        for row in _appeals(
            session, [APPEAL.unit_id.in_(ids), APPEAL.period.like(f"{year:04d}-%")]
        ):
            appeals.setdefault(row["unit_code"], []).append(row)
        results = _by_unit(_results(session, year, [RES.unit_id.in_(ids)]), "unit_code")
        for unit in chunk:
            unit_months = months.get(unit.id, [])
            indicators = {i: all_year[i] for i, _, _, cats in everything if unit.category in cats}
            for extra in {m["indicator_id"] for m in unit_months} - set(indicators):
                # an indicator assessed but no longer listed for the category
                indicators[extra] = all_year.get(extra, (str(extra), ""))
            out[unit.code] = UnitYearFacts(
                unit_code=unit.code,
                unit_name=unit.name,
                unit_kind=unit.kind,
                category=unit.category,
                year=year,
                indicators=indicators,
                months=unit_months,
                deductions=deductions.get(unit.id, []),
                warnings=warnings.get(unit.id, []),
                negative=negative.get(unit.id, []),
                appeals=appeals.get(unit.code, []),
                results=results.get(unit.code, []),
                category_sizes={
                    (cycle, period): n
                    for (category, cycle, period), n in sizes.items()
                    if category == unit.category
                },
            )
    return out


def load_ledger_rows(session: Session, year: int) -> dict[str, Any]:
    """The year's ledgers and monthly results, keyword arguments of ``ledger_tables``."""
    code = UNIT.code.label("unit_code")
    return {
        "indicators": _indicators(session, year),
        "deductions": _rows(
            session,
            select(
                code,
                DED.id,
                DED.period,
                DED.indicator_id,
                DED.kind,
                DED.stage,
                DED.amount,
                DED.level,
                DED.completion,
                DED.ruling_id,
                DED.created_at,
                DED.note,
            )
            .join(Unit, UNIT.id == DED.unit_id)
            .where(DED.year == year)
            .order_by(DED.id),
        ),
        "warnings": _rows(
            session,
            select(
                code,
                WARN.id,
                WARN.period,
                WARN.indicator_id,
                WARN.level,
                WARN.completion,
                WARN.corrects_id,
                WARN.ruling_id,
                WARN.created_at,
            )
            .join(Unit, UNIT.id == WARN.unit_id)
            .where(WARN.period.like(f"{year:04d}-%"))
            .order_by(WARN.id),
        ),
        "problems": _problems(session, [PROB.period.like(f"{year:04d}%")]),
        "negative": _rows(
            session,
            select(code, NEG.id, NEG.period, NEG.event, NEG.ruling_id, NEG.created_at)
            .join(Unit, UNIT.id == NEG.unit_id)
            .where(NEG.period.like(f"{year:04d}-%"))
            .order_by(NEG.id),
        ),
        "results": _results(session, year, []),
        "months": _rows(
            session,
            select(
                code,
                MA.period,
                MA.indicator_id,
                MA.level,
                MA.expected,
                MA.actual,
                MA.completion,
                MA.pre_deduction,
                MA.computed_at,
            )
            .join(Unit, UNIT.id == MA.unit_id)
            .where(MA.year == year)
            .order_by(MA.period, UNIT.code, MA.indicator_id),
        ),
    }


def changed_unit_codes(session: Session, run_id: int) -> list[str]:
    """The units a cycle run booked a deduction, warning or negative-list entry for."""
    ids = union(
        select(DED.unit_id).where(DED.cycle_run_id == run_id),
        select(WARN.unit_id).where(WARN.cycle_run_id == run_id),
        select(NEG.unit_id).where(NEG.cycle_run_id == run_id),
    ).subquery()
    return list(
        session.execute(
            select(UNIT.code).where(UNIT.id.in_(select(ids.c[0]))).order_by(UNIT.code)
        ).scalars()
    )


async def _publish_unit_years(facts: Sequence[UnitYearFacts], month: Period) -> None:
    """One API client for every artifact: a client per artifact (what the module-level
    helpers make) costs a TLS context each, ~50 ms, more than the artifact itself."""
    async with get_client() as client:
        for unit in facts:
            artifact = MarkdownArtifact(
                key=unit_artifact_key(unit.unit_code, month.year),
                markdown=unit_year_markdown(unit, month.key),
                description=f"{unit.unit_name} {month.year} 年度考核情况",
            )
            await artifact.acreate(client)


@task(name="publish-unit-years", cache_policy=NO_CACHE)
def publish_unit_years_task(runtime: Runtime, period: str, run_id: int | None) -> int:
    """After a monthly analysis: the year of each unit whose ledgers the run changed as
    the markdown artifact ``unit-<code>-<year>`` (a new version of the same key each
    month). Units without a change keep their last artifact: at 100,000 units one
    artifact each per month would flood the UI's artifact list. Returns how many."""
    if run_id is None:
        return 0
    month = Period.parse(period)
    with session_scope(runtime.engine) as session:
        codes = changed_unit_codes(session, run_id)
        units = session.execute(
            select(Unit).where(UNIT.code.in_(codes[:MAX_UNIT_ARTIFACTS])).order_by(UNIT.code)
        ).scalars()
        facts = load_unit_years(session, list(units), month.year)
    asyncio.run(_publish_unit_years(list(facts.values()), month))
    if len(codes) > MAX_UNIT_ARTIFACTS:
        get_run_logger().info(
            "unit-year artifacts: %d units changed, %d published (assess unit shows the rest)",
            len(codes),
            MAX_UNIT_ARTIFACTS,
        )
    return min(len(codes), MAX_UNIT_ARTIFACTS)
