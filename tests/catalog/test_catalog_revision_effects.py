"""What a catalog revision changes downstream: the months' loaders, the months to rerun,
the units told, the burden report, the frozen guard (issue 14)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from deployments.demo.build_catalog import demo_catalog
from models.catalog.revision import compute_difference
from models.persistence.database import session_scope
from tasks.files.catalog_write import write_xlsx
from tests.catalog.test_catalog_revisions import (
    YEAR,
    _change,
    _new_indicator,
    changed_catalog,
    frozen_db,
)

__all__ = ["frozen_db"]  # the fixture, shared with the revision tests


# ------------------------------------------------------------------ months keep their rules


@pytest.mark.db
def test_the_monthly_loaders_read_the_catalog_as_of_the_month(
    frozen_db: Engine, tmp_path: Path
) -> None:
    from models.rules import Period
    from tasks.monthly import load_indicators, load_units

    with Session(frozen_db) as session:
        before = {i.code: i for i in load_indicators(session, YEAR, Period.parse("2026-06"))}
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    assert _change(path)[0] == 0
    with Session(frozen_db) as session:
        june = {i.code: i for i in load_indicators(session, YEAR, Period.parse("2026-06"))}
        july = {i.code: i for i in load_indicators(session, YEAR, Period.parse("2026-07"))}
        units_june = {
            u.code: u.category for u in load_units(session, None, Period.parse("2026-06"))
        }
        units_july = {
            u.code: u.category for u in load_units(session, None, Period.parse("2026-07"))
        }
    assert june == before
    assert set(july) == set(june) | {"manganese_sites"}
    assert july["fai"].spec.target == Decimal("130") and june["fai"].spec.target == Decimal("120")
    assert july["fai"].id == june["fai"].id
    assert july["manganese_sites"].categories == frozenset(_new_indicator().categories)
    assert (units_june["D08"], units_july["D08"]) == ("government", "party_mass")
    assert {c for u, c in units_july.items() if u != "D08"} <= set(units_june.values())


@pytest.mark.db
def test_a_change_recomputes_the_months_already_analysed_from_its_effective_month(
    frozen_db: Engine, tmp_path: Path
) -> None:
    from models.persistence.tables import CycleRun

    claimed = datetime(2026, 9, 8, 1, 0, tzinfo=UTC)
    with session_scope(frozen_db) as session:
        for period in ("2026-05", "2026-07", "2026-08"):
            session.add(
                CycleRun(
                    cycle="monthly_analysis", period=period, status="completed", claimed_at=claimed
                )
            )
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    code, output = _change(path, "--dry-run")  # the recompute itself: tests/appeals
    assert code == 0, output
    assert "重新核算的月份：2026-07、2026-08。" in output
    assert "2026-05" not in output


# ------------------------------------------------------------------------ units told


def test_each_touched_unit_gets_one_notice_naming_what_changed_from_when_and_the_document() -> None:
    from models.plans.catalog_notice import catalog_change_notices

    catalog = demo_catalog()
    difference = compute_difference(catalog, changed_catalog(), YEAR, "f.xlsx")
    units = {u.code: (u.name, u.category) for u in catalog.units}
    notices = {n.unit_code: n for n in catalog_change_notices(
        YEAR, "青考办〔2026〕12号", "2026-07", difference.changes, units
    )}  # fmt: skip
    counties = {u.code for u in catalog.units if u.kind == "county"}
    fai_categories = next(i for i in catalog.indicators if (i.year, i.code) == (YEAR, "fai"))
    assert counties <= set(notices)
    assert "D08" in set(notices)
    assert set(notices) == counties | {"D08"}
    c01 = notices["C01"]
    assert "自 2026-07 起" in c01.subject and "青考办〔2026〕12号" in c01.subject
    assert "新增指标 manganese_sites" in c01.text
    assert units["C01"][1] in fai_categories.categories
    assert "修改指标 fai：目标值 120 → 130" in c01.text
    assert all("修改指标 fai" not in n.text for n in notices.values() if n.unit_code == "D08")
    assert "由“政府部门”调整为“党群部门”" in notices["D08"].text


@pytest.mark.db
def test_a_recorded_change_queues_one_message_per_touched_unit_once(
    frozen_db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    code, output = _change(path)
    assert code == 0, output
    with frozen_db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT unit_id, period FROM message WHERE kind = 'catalog_changed'")
        ).all()
    assert len(rows) == len({u for u, _ in rows}) > 0
    assert {p for _, p in rows} == {"2026-07"}
    assert f"已向 {len(rows)} 个涉及调整的单位各发送一条通知" in output
    assert _change(path)[0] == 0
    with frozen_db.connect() as conn:
        again = conn.execute(
            sa.text("SELECT count(*) FROM message WHERE kind = 'catalog_changed'")
        ).scalar_one()
    assert again == len(rows)


@pytest.mark.db
def test_the_burden_report_counts_items_added_and_indicators_retired_by_revisions(
    frozen_db: Engine, tmp_path: Path
) -> None:
    from tasks.annual import gather_burden_counts

    with Session(frozen_db) as session:
        before = gather_burden_counts(session, YEAR)
    catalog = changed_catalog()
    retired = replace(
        catalog,
        indicators=tuple(
            replace(i, lifecycle="simplified", reason="low_value")
            if (i.year, i.code) == (YEAR, "petitions")
            else i
            for i in catalog.indicators
        ),
    )
    path = tmp_path / "修订.xlsx"
    write_xlsx(retired, path)
    assert _change(path)[0] == 0
    with Session(frozen_db) as session:
        after = gather_burden_counts(session, YEAR)
    petitions = next(i for i in catalog.indicators if (i.year, i.code) == (YEAR, "petitions"))
    assert after.item_codes == before.item_codes | {"A20"}
    assert before.items_added_in_year == ()
    assert [(i.code, i.effective_month) for i in after.items_added_in_year] == [("A20", "2026-07")]
    assert petitions.name not in before.simplified
    assert sorted(after.simplified) == sorted([*before.simplified, petitions.name])


@pytest.mark.db
def test_the_frozen_guard_lets_in_only_rows_naming_a_revision_of_their_year(
    frozen_db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    assert _change(path)[0] == 0
    with frozen_db.connect() as conn:
        revision_id = conn.execute(sa.text("SELECT max(id) FROM catalog_revision")).scalar_one()
    insert = (
        "INSERT INTO item (year, code, name, key, status, decided_by, document_ref, note, "
        "revision_id) VALUES (2026, :code, 'x', false, 'approved', '', '', '', :rev)"
    )
    with pytest.raises(sa.exc.DatabaseError, match="frozen"), frozen_db.begin() as conn:
        conn.execute(sa.text(insert), {"code": "X1", "rev": revision_id + 1})
    for statement in (
        "UPDATE item SET name = 'y' WHERE code = 'A20'",
        "DELETE FROM indicator WHERE code = 'manganese_sites'",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="frozen"), frozen_db.begin() as conn:
            conn.execute(sa.text(statement))
    with frozen_db.begin() as conn:
        conn.execute(sa.text(insert), {"code": "X2", "rev": revision_id})


@pytest.mark.db
def test_half_years_evaluated_from_the_effective_month_get_a_version_naming_the_revision(
    frozen_db: Engine, tmp_path: Path
) -> None:
    from models.persistence.tables import MonthlyAssessment
    from models.plans.results import plan_results
    from models.rules import Period
    from tasks.monthly import load_indicators, load_units
    from tasks.results import load_result_inputs, load_result_versions, save_results

    run_at = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)
    with session_scope(frozen_db) as session:  # January analysed: every unit green
        january = Period.parse("2026-01")
        for unit in load_units(session, None, january):
            for ind in load_indicators(session, YEAR, january):
                if unit.category in ind.categories:
                    session.add(
                        MonthlyAssessment(
                            year=YEAR, period="2026-01", unit_id=unit.id, indicator_id=ind.id,
                            level="green", pre_deduction=Decimal(0), computed_at=run_at,
                        )
                    )  # fmt: skip
    with session_scope(frozen_db) as session:
        for half, last in (("2026-H1", "2026-06"), ("2026-H2", "2026-12")):
            inputs = load_result_inputs(session, YEAR, through=last)
            results = plan_results(
                inputs.units, inputs.indicators, inputs.ledger_sums, inputs.rules,
                with_data=inputs.with_data,
            )  # fmt: skip
            save_results(session, "half_year_evaluation", half, results, None, run_at)
    with Session(frozen_db) as session:
        h1_before = load_result_versions(session, "half_year_evaluation", "2026-H1")
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    code, output = _change(path)
    assert code == 0, output
    with Session(frozen_db) as session:
        h1 = load_result_versions(session, "half_year_evaluation", "2026-H1")
        h2 = load_result_versions(session, "half_year_evaluation", "2026-H2")
        revision_id = session.execute(sa.text("SELECT max(id) FROM catalog_revision")).scalar_one()
    assert h1 == h1_before
    assert {v.version for v in h2} == {1, 2}
    assert {v.cause for v in h2 if v.version == 2} == {f"catalog:{revision_id}"}
    assert "2026-H2 半年评估结果更正为第 2 版" in output
    assert _change(path)[0] == 0
    with Session(frozen_db) as session:
        assert load_result_versions(session, "half_year_evaluation", "2026-H2") == h2
