"""What a unit reads when a catalog revision changes its indicators, targets, weights or
category (issue 14, item 5): one message per unit, in Chinese, naming what changed, from
which month and under which document. Pure: the caller queues it."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.catalog.revision import (
    INDICATOR_ADDED,
    INDICATOR_CHANGED,
    UNIT_MOVED,
    CatalogChange,
)
from models.catalog.vocabulary import CATEGORY_LABELS

KIND_CATALOG_CHANGED = "catalog_changed"
"""The outbox kind of a unit's message about a catalog revision."""


@dataclass(frozen=True)
class UnitNotice:
    unit_code: str
    subject: str
    markdown: str
    text: str
    html: str
    content_hash: str


def _categories(change: CatalogChange) -> set[str]:
    found: set[str] = set()
    for row in (change.before, change.after):
        if row is not None:
            found.update(str(c) for c in row.get("categories", ()))
    return found


def catalog_change_notices(
    year: int,
    document_ref: str,
    effective_month: str,
    changes: Sequence[CatalogChange],
    units: Mapping[str, tuple[str, str]],
) -> list[UnitNotice]:
    """One notice per unit the revision touches. ``units``: each unit code's (name,
    category before the revision). A unit is touched when it is moved, or when an
    indicator added or changed applies (before or after) to its old or new category."""
    moved = {c.code: str(c.after["category"]) for c in changes if c.kind == UNIT_MOVED}
    indicator_changes = [c for c in changes if c.kind in (INDICATOR_ADDED, INDICATOR_CHANGED)]
    notices = []
    for code in sorted(units):
        name, category = units[code]
        mine = {category, moved.get(code, category)}
        lines = []
        if code in moved:
            lines.append(
                f"你单位考核类别由“{CATEGORY_LABELS.get(category, category)}”调整为"
                f"“{CATEGORY_LABELS.get(moved[code], moved[code])}”，按新类别考核和排名。"
            )
        lines += [f"{c.describe()}。" for c in indicator_changes if _categories(c) & mine]
        if not lines:
            continue
        subject = f"【考核目录调整】{year}年度考核目录自 {effective_month} 起调整（{document_ref}）"
        head = (
            f"{name}：根据《{document_ref}》，{year}年度考核目录自 {effective_month} 起调整，"
            f"此前各月仍按原目录考核。涉及你单位的调整如下："
        )
        markdown = "\n".join([head, "", *(f"- {line}" for line in lines)]) + "\n"
        text = "\n".join([head, *lines]) + "\n"
        body = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line)
        digest = hashlib.sha256(f"{code}|{effective_month}|{markdown}".encode()).hexdigest()
        notices.append(UnitNotice(code, subject[:300], markdown, text, body, digest))
    return notices
