"""Catch-up without flooding: one waiting message per unit and cycle kind (rulebook section 9).

When a digest of a cycle kind is queued for a unit while older messages of that kind
have not reached it yet (a catch-up runs ten months in one night, the send window is
closed, a channel is down), the older ones are *merged* into the new one: a unit has
at most one waiting message per kind (`MERGEABLE_KINDS`), and that message says what is
still to act on across the merged periods (`merge_digests`):

- the state of the newest period (levels, missing uploads, open rectifications): what
  an older period said about them is stale;
- pre-deduction changes folded over the periods: from the deduction the unit last knew
  of (the oldest merged period's "before") to the newest (the latest "after"); a change
  undone meanwhile (0 → 3 in January, 3 → 0 in March) is not mentioned at all;
- the periods merged (``UnitDigest.covers``), named in the message.

The outbox keeps each message's canonical content (`message.content`), so a merged
message's digest can be rebuilt (`digest_from_canonical`) and merged again: a rerun
rebuilds the same content and sends nothing twice.

Pure: no database, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Any

from .digest import (
    ALLOWED_ITEM_TYPES,
    AppealWindow,
    DeductionChange,
    DigestItem,
    MessageKind,
    UnitDigest,
)

__all__ = ["MERGEABLE_KINDS", "digest_from_canonical", "merge_digests"]

MERGEABLE_KINDS = frozenset(
    {
        MessageKind.PRE_DEADLINE_REMINDER.value,
        MessageKind.MONTHLY_ANALYSIS.value,
        MessageKind.QUARTERLY_MONITORING.value,
        MessageKind.HALF_YEAR_EVALUATION.value,
    }
)
"""Kinds sent once per period of a cycle: a newer period's message speaks for the older
ones not yet delivered. (Appeal outcomes, rectification notices and the annual result are
about one thing each and are never merged.)"""

_TYPES = {t.__name__: t for t in ALLOWED_ITEM_TYPES}
_DECIMALS = frozenset(
    {"expected", "actual", "completion", "before", "after", "deduction_before", "score"}
    | {"deduction_after"}
)
_DATES = frozenset({"deadline", "rectify_by"})
_DELIVERY = "delivery+"


def _field(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _DECIMALS:
        return Decimal(value)
    if name in _DATES:
        return date.fromisoformat(value)
    return value


def _item(entry: dict[str, Any]) -> DigestItem:
    item_type = _TYPES.get(entry.get("type", ""))
    if item_type is None:
        raise ValueError(f"unknown item type in stored content: {entry.get('type')!r}")
    kwargs = {f.name: _field(f.name, entry.get(f.name)) for f in fields(item_type)}
    item: DigestItem = item_type(**kwargs)
    return item


def _window(text: str | None) -> AppealWindow | None:
    if text is None:
        return None
    if text.startswith(_DELIVERY) and text.endswith("wd"):
        return AppealWindow.from_delivery(int(text[len(_DELIVERY) : -2]))
    return AppealWindow(date.fromisoformat(text))


def digest_from_canonical(payload: str, unit_name: str) -> UnitDigest:
    """The digest a message's stored canonical content was built from (same content hash)."""
    data = json.loads(payload)
    deadline = data.get("deadline")
    return UnitDigest(
        unit_code=data["unit_code"],
        unit_name=unit_name,
        kind=data["kind"],
        period_key=data["period_key"],
        items=tuple(_item(entry) for entry in data.get("items", ())),
        deadline=None if deadline is None else date.fromisoformat(deadline),
        appeal_window=_window(data.get("appeal_window_ends_on")),
        covers=tuple(data.get("covers", ())),
    )


def _origin(digest: UnitDigest) -> str:
    """The oldest period a digest speaks for (itself or one merged into it)."""
    return min((digest.period_key, *digest.covers))


def _folded_changes(parts: Sequence[UnitDigest]) -> list[DeductionChange]:
    """Per indicator: from the "before" of the part with the oldest origin to the "after"
    of the newest part that changed it; nothing when it ends where it began."""
    first: dict[str, DeductionChange] = {}
    last: dict[str, DeductionChange] = {}
    for part in sorted(parts, key=_origin):
        for item in part.items:
            if type(item) is DeductionChange:
                first.setdefault(item.indicator_code, item)
    for part in sorted(parts, key=lambda p: p.period_key):
        for item in part.items:
            if type(item) is DeductionChange:
                last[item.indicator_code] = item
    out = []
    for code, latest in last.items():
        before = first[code].before
        if before != latest.after:
            out.append(DeductionChange(code, latest.indicator_name, before, latest.after))
    return out


def merge_digests(parts: Iterable[UnitDigest]) -> UnitDigest:
    """One digest for the unit that says what is still to act on across ``parts``
    (digests of one unit and kind, of different periods, possibly merged already).

    The newest period's digest gives the state (every item but pre-deduction changes),
    its deadline and appeal window; pre-deduction changes are folded over all parts;
    ``covers`` lists every other period. A single part is returned as it is.
    """
    the_parts = list(parts)
    if not the_parts:
        raise ValueError("nothing to merge")
    if len(the_parts) == 1:
        return the_parts[0]
    slots = {(p.unit_code, p.kind) for p in the_parts}
    if len(slots) != 1:
        raise ValueError(f"only digests of one unit and kind merge, got {sorted(slots)}")
    newest = max(the_parts, key=lambda p: p.period_key)
    kept = tuple(item for item in newest.items if type(item) is not DeductionChange)
    changes = tuple(_folded_changes(the_parts))
    periods = {p.period_key for p in the_parts} | {c for p in the_parts for c in p.covers}
    window = newest.appeal_window
    if window is None and changes:
        window = next((p.appeal_window for p in the_parts if p.appeal_window is not None), None)
    return UnitDigest(
        unit_code=newest.unit_code,
        unit_name=newest.unit_name,
        kind=newest.kind,
        period_key=newest.period_key,
        items=kept + changes,
        deadline=newest.deadline,
        appeal_window=window,
        covers=tuple(sorted(periods - {newest.period_key})),
        footer=next(
            (
                p.footer
                for p in sorted(the_parts, key=lambda p: p.period_key, reverse=True)
                if p.footer
            ),
            None,
        ),
    )
