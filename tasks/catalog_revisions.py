"""Recording an audited catalog revision: gather the year, decide with the pure core
(``models.catalog.revision``), write one append-only revision row and the rows it adds.

``plan_revision`` only reads; ``save_revision`` writes (the caller commits or rolls
back). A revision that changes nothing is not recorded: applying the same change twice
changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from models.catalog.content import check_limits
from models.catalog.revision import (
    INDICATOR_ADDED,
    ITEM_ADDED,
    CatalogChangeRefused,
    Difference,
    check_effective,
    compute_difference,
    indicator_from_json,
    item_from_json,
    overlay_for,
)
from models.catalog.schema import Catalog, CatalogProblem, Loc
from models.errors import InputError
from models.messages import message_key
from models.persistence.tables import (
    AssessmentYear,
    CatalogRevision,
    CycleRun,
    Indicator,
    Item,
    Unit,
)
from models.plans.catalog_notice import KIND_CATALOG_CHANGED, catalog_change_notices
from tasks.catalog import indicator_values, item_values, load_catalog, load_revisions
from tasks.delivery.queueing import add_pending_message


@dataclass(frozen=True)
class RevisionRequest:
    """What the office asks for: a file's catalog, its document and effective month."""

    catalog: Catalog
    file: str
    document_ref: str
    effective_month: str
    reason: str
    recorded_by: str


def plan_revision(session: Session, request: RevisionRequest) -> Difference:
    """The difference the request carries, or ``CatalogChangeRefused`` / ``InputError`` saying why
    it may not be recorded (with its location); reads only."""
    year = int(request.effective_month[:4])
    if not request.document_ref.strip():
        raise InputError("目录修订须写明文号：--document 青考办〔2026〕12号")
    if len(request.document_ref) > 200 or len(request.reason) > 500:
        raise InputError("文号最多 200 字，修订理由最多 500 字。")
    row = session.get(AssessmentYear, year)
    if row is None:
        raise InputError(
            f"--effective {request.effective_month}："
            f"数据库中没有 {year} 年度的考核目录，请先导入目录。"
        )
    refusals = check_effective(
        year,
        request.effective_month,
        frozen=row.frozen_at is not None,
        sealed=row.published_at is not None,
        revisions=load_revisions(session, year),
    )
    if refusals:
        raise InputError(f"--effective {request.effective_month}：" + "；".join(refusals) + "。")
    limits = check_limits(request.catalog)
    if limits:
        raise CatalogChangeRefused(limits)
    if not any(y.year == year for y in request.catalog.years):
        raise CatalogChangeRefused(
            [CatalogProblem(Loc(request.file, "years", 0), f"文件中没有 {year} 年度")]
        )
    current = load_catalog(session)
    difference = compute_difference(current, request.catalog, year, request.file)
    if difference.problems:
        raise CatalogChangeRefused(difference.problems)
    return difference


def save_revision(
    session: Session, request: RevisionRequest, difference: Difference, now: datetime
) -> int | None:
    """Record ``difference`` as a revision; return its id (None when it changes nothing)."""
    if difference.empty:
        return None
    revision = CatalogRevision(
        year=difference.year,
        document_ref=request.document_ref.strip(),
        effective_month=request.effective_month,
        reason=request.reason.strip(),
        recorded_by=request.recorded_by[:100],
        recorded_at=now,
        content_hash=difference.content_hash,
        changes=[c.to_json() for c in difference.changes],
    )
    session.add(revision)
    session.flush()
    assert revision.id is not None
    items = {
        i.code: i for i in session.exec(select(Item).where(Item.year == difference.year)).all()
    }
    for change in difference.changes:
        if change.kind == ITEM_ADDED:
            row = item_from_json(change.after)
            item = Item(year=row.year, code=row.code, revision_id=revision.id, **item_values(row))
            session.add(item)
            items[row.code] = item
    session.flush()
    for change in difference.changes:
        if change.kind == INDICATOR_ADDED:
            ind = indicator_from_json(change.after)
            item_id = items[ind.item].id
            assert item_id is not None
            values = indicator_values(ind, item_id)
            session.add(Indicator(year=ind.year, code=ind.code, revision_id=revision.id, **values))
    session.flush()
    return revision.id


def load_analysed_months(session: Session, year: int, from_month: str) -> list[str]:
    """Months of ``year`` from ``from_month`` on whose monthly analysis has completed:
    those a revision effective from ``from_month`` changes."""
    rows = session.exec(
        select(CycleRun.period).where(
            CycleRun.cycle == "monthly_analysis",
            CycleRun.status.in_(("completed", "partial")),  # type: ignore[attr-defined]
            CycleRun.period >= from_month,
            CycleRun.period <= f"{year}-12",
        )
    ).all()
    return sorted(set(rows))


def load_touched_units(
    session: Session, request: RevisionRequest, difference: Difference
) -> list[str]:
    """The codes of the units a difference not yet recorded would touch (for a dry run)."""
    moved = overlay_for(load_revisions(session), difference.year, None).unit_categories
    units = session.exec(select(Unit)).all()
    notices = catalog_change_notices(
        difference.year,
        request.document_ref,
        request.effective_month,
        difference.changes,
        {u.code: (u.name, moved.get(u.code, u.category)) for u in units},
    )
    return [n.unit_code for n in notices]


def queue_change_notices(session: Session, revision_id: int, now: datetime) -> int:
    """Queue one message to each unit revision ``revision_id`` touches; return how many
    (a message already queued is not queued again)."""
    revisions = load_revisions(session)
    revision = next(r for r in revisions if r.id == revision_id)
    earlier = [r for r in revisions if r.id < revision_id]
    moved = overlay_for(earlier, revision.year, None).unit_categories
    units = session.exec(select(Unit)).all()
    notices = catalog_change_notices(
        revision.year,
        revision.document_ref,
        revision.effective_month,
        revision.changes,
        {u.code: (u.name, moved.get(u.code, u.category)) for u in units},
    )
    ids = {u.code: u.id for u in units}
    queued = 0
    for notice in notices:
        key = message_key(
            notice.unit_code, KIND_CATALOG_CHANGED, revision.effective_month, notice.content_hash
        )
        added = add_pending_message(
            session, key=key, audience="unit", kind=KIND_CATALOG_CHANGED,
            period=revision.effective_month, body=notice, now=now,
            unit_id=ids[notice.unit_code],
        )  # fmt: skip
        if added is None:
            continue
        queued += 1
    session.flush()
    return queued
