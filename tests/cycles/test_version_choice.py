"""The database chooses each cell's deciding version exactly as ``choose_versions`` does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from models.persistence.database import session_scope
from models.persistence.tables import ProgressRecord, table_of
from models.plans.monthly import choose_versions
from models.rules import Period
from tasks.bulk import bulk_insert
from tasks.monthly import load_chosen_versions, load_versions

pytestmark = pytest.mark.db

MONTH = Period.parse("2026-03")
CUTOFF = datetime(2026, 4, 8, 15, 59, 59, 999999, tzinfo=UTC)


def _random_versions(
    rng: random.Random, units: list[int], indicators: list[int]
) -> list[tuple[object, ...]]:
    """Versions around the cutoff: drafts, withdrawals, late resubmissions, equal times."""
    rows: list[tuple[object, ...]] = []
    moments = [CUTOFF + timedelta(seconds=s) for s in (-86400, -3600, -1, 0, 1, 3600, 86400)]
    for unit in units:
        for indicator in indicators:
            for n in range(rng.choice([0, 1, 1, 2, 3, 5])):
                record = f"r-{unit}-{indicator}-{rng.randint(0, 2)}"
                updated = rng.choice(moments) + timedelta(microseconds=rng.choice([0, 0, 7]))
                reported = rng.choice([None, CUTOFF - timedelta(days=2), CUTOFF, updated])
                status = rng.choice(["submitted", "submitted", "submitted", "draft", "withdrawn"])
                value = None if rng.random() < 0.1 else Decimal(rng.randint(0, 10_000)) / 100
                rows.append(
                    (record, MONTH.key, unit, indicator, value, status, reported, updated,
                     updated, n)
                )  # fmt: skip
    seen: set[tuple[object, object]] = set()
    unique = []
    for row in rows:  # (record_id, updated_at) is unique
        if (row[0], row[7]) not in seen:
            seen.add((row[0], row[7]))
            unique.append(row)
    rng.shuffle(unique)
    return unique


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_database_chooses_the_same_version_per_cell_as_the_rule(
    catalog_db: Engine, seed: int
) -> None:
    rng = random.Random(seed)
    with catalog_db.connect() as conn:
        units = [u for (u,) in conn.execute(sa.text("SELECT id FROM unit ORDER BY id LIMIT 12"))]
        indicators = [
            i for (i,) in conn.execute(sa.text("SELECT id FROM indicator ORDER BY id LIMIT 15"))
        ]
    rows = _random_versions(rng, units, indicators)
    with session_scope(catalog_db) as session:
        bulk_insert(
            session.connection(),
            table_of(ProgressRecord),
            ("record_id", "period", "unit_id", "indicator_id", "value", "status",
             "reported_at", "updated_at", "collected_at", "evidence_count"),
            rows,
        )  # fmt: skip
    with session_scope(catalog_db) as session:
        by_rule = choose_versions(load_versions(session, MONTH), CUTOFF)
        by_database = load_chosen_versions(session, MONTH, CUTOFF)
        some = (units[2], units[7])
        in_batch = load_chosen_versions(session, MONTH, CUTOFF, some)
    assert len(by_rule) > 100
    assert by_database == by_rule
    assert in_batch == {k: v for k, v in by_rule.items() if some[0] <= k[0] <= some[1]}
