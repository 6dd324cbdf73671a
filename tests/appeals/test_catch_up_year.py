"""A year caught up in one go: each unit has at most one waiting message per cycle kind,
and none names an appeal deadline before it is sent (issue 13, item 6)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine

from models.messages import MERGEABLE_KINDS
from tests.appeals.support import rows

pytestmark = [pytest.mark.db, pytest.mark.flow]


def test_a_catch_up_of_the_year_leaves_at_most_one_waiting_message_per_unit_and_cycle_kind(
    year_db: Engine,
) -> None:
    waiting = rows(
        year_db,
        "SELECT unit_id, kind FROM message WHERE audience = 'unit' "
        "AND status IN ('pending', 'failed')",
    )
    per_slot = Counter((unit, kind) for unit, kind in waiting if kind in MERGEABLE_KINDS)
    assert per_slot, "the year's catch-up queued monthly digests"
    assert max(per_slot.values()) == 1
    monthly = {unit for unit, kind in per_slot if kind == "monthly_analysis"}
    merged = rows(
        year_db,
        "SELECT COUNT(*) FROM message WHERE kind = 'monthly_analysis' AND status = 'merged'",
    )[0][0]
    assert merged >= len(monthly)  # the older months were merged, not sent


def test_no_waiting_message_names_an_appeal_deadline_before_it_is_delivered(
    year_db: Engine,
) -> None:
    bodies = rows(
        year_db,
        "SELECT body_text FROM message WHERE audience = 'unit' AND status = 'pending' "
        "AND body_text LIKE '%申诉期限%'",
    )
    assert bodies
    assert all("⟦送达后5个工作日⟧" in body for (body,) in bodies)
