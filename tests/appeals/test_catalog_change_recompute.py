"""A catalog revision on a year whose cycles have run (issue 14, Done-when): the change
effective 2026-07 (an approved item with one indicator for the county categories, one
target corrected, one department moved) applies; the months before July are unchanged
row for row; July on are recomputed with correcting entries naming the revision; the
second half-year and the annual reflect it, the first half-year does not. The same
change again changes nothing; a dry run writes nothing and names the units that move.

On the whole analysed year of the appeal tests (annual assessment run, not published):
its settlement is recomputed too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prefect.artifacts import Artifact
from sqlalchemy import Engine

from flows.recompute_after_catalog_change import recompute_after_catalog_change
from models.persistence.database import session_scope
from models.plans.explain import explain_markdown
from models.plans.results import plan_annual, plan_results
from models.rules import Period, WorkCalendar
from tasks.appeals.explain import load_explain
from tasks.catalog_revisions import (
    RevisionRequest,
    plan_revision,
    queue_change_notices,
    save_revision,
)
from tasks.files.catalog_write import write_xlsx
from tasks.monthly import load_units
from tasks.results import load_result_inputs
from tests.appeals.support import YEAR, latest_results, rows
from tests.catalog.test_catalog_revisions import _change, changed_catalog

pytestmark = [
    pytest.mark.flow,
    pytest.mark.db,
    pytest.mark.http,
    pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning"),
]

LEDGERS = ("deduction_entry", "warning_entry", "negative_list_entry")
TABLES = (*LEDGERS, "monthly_assessment", "result_entry", "message", "catalog_revision",
          "item", "indicator", "unit")  # fmt: skip
CENT = Decimal("0.01")


def _digest(engine: Engine, table: str, where: str = "1 = 1") -> str:
    """A hash of the table's rows (every column, in id order) matching ``where``."""
    found = rows(engine, f"SELECT * FROM {table} WHERE {where} ORDER BY id")
    return hashlib.sha256(repr(found).encode()).hexdigest()


def _before_july(engine: Engine) -> dict[str, str]:
    return {t: _digest(engine, t, "period < '2026-07'") for t in (*LEDGERS, "monthly_assessment")}


def _counts(engine: Engine) -> dict[str, int]:
    return {t: int(rows(engine, f"SELECT COUNT(*) FROM {t}")[0][0]) for t in TABLES}


def _results(engine: Engine, cycle: str, period: str) -> list[tuple[Any, ...]]:
    return rows(
        engine,
        "SELECT unit_id, category, score, rank, grade, version, cause FROM result_entry "
        "WHERE cycle = :c AND period = :p ORDER BY id",
        c=cycle,
        p=period,
    )


def _write_change(tmp_path: Path) -> Path:
    path = tmp_path / "修订.xlsx"
    write_xlsx(changed_catalog(), path)
    return path


def test_a_july_change_recomputes_july_on_and_keeps_every_earlier_month_row_for_row(
    prefect_server: None, year_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = year_db
    monkeypatch.setenv("ASSESS_OPERATOR", "考核办 王")
    before_july, h1 = _before_july(engine), _results(engine, "half_year_evaluation", "2026-H1")
    top = {t: int(rows(engine, f"SELECT COALESCE(MAX(id), 0) FROM {t}")[0][0]) for t in LEDGERS}
    digests = rows(engine, "SELECT COUNT(*) FROM message WHERE kind = 'monthly_analysis'")

    code, output = _change(_write_change(tmp_path))
    assert code == 0, output
    (revision_id,) = rows(engine, "SELECT id FROM catalog_revision")[0]
    assert "重新核算的月份：2026-07、2026-08、2026-09、2026-10、2026-11、2026-12" in output
    assert f"catalog-revision-{revision_id}" in output

    # Months before July keep their rules: not one row added or changed.
    assert _before_july(engine) == before_july
    assert _results(engine, "half_year_evaluation", "2026-H1") == h1
    # Every entry booked since names the revision, in a month from July on.
    for table in LEDGERS:
        added = rows(engine, f"SELECT period, revision_id, cycle_run_id FROM {table} "
                             f"WHERE id > {top[table]}")  # fmt: skip
        assert all(p >= "2026-07" and r == revision_id and run is None for p, r, run in added)
    new_item = rows(
        engine,
        "SELECT DISTINCT d.period, u.kind FROM deduction_entry d "
        "JOIN indicator i ON i.id = d.indicator_id JOIN unit u ON u.id = d.unit_id "
        "WHERE i.code = 'manganese_sites'",
    )
    assert new_item and {k for _, k in new_item} == {"county"}
    assert min(p for p, _ in new_item) >= "2026-07"
    # Each recomputed month's cells and ledger agree: the ledger's sum as of the month is
    # the month's pre-deduction (before December's settlement).
    for month in ("2026-07", "2026-09", "2026-11"):
        cells = {
            (u, i): Decimal(str(d)).quantize(CENT)
            for u, i, d in rows(
                engine,
                "SELECT unit_id, indicator_id, pre_deduction "
                "FROM monthly_assessment WHERE period = :m "
                "AND level <> 'unavailable'",
                m=month,
            )
        }
        sums = {
            (u, i): Decimal(str(s)).quantize(CENT)
            for u, i, s in rows(
                engine,
                "SELECT unit_id, indicator_id, SUM(amount) "
                "FROM deduction_entry WHERE year = 2026 AND period <= :m "
                "GROUP BY unit_id, indicator_id",
                m=month,
            )
        }
        assert {k: sums.get(k, Decimal("0.00")) for k in cells} == cells
    d08_july = rows(engine, "SELECT DISTINCT i.code FROM monthly_assessment m JOIN unit u ON "
                            "u.id = m.unit_id JOIN indicator i ON i.id = m.indicator_id "
                            "WHERE u.code = 'D08' AND m.period = '2026-07'")  # fmt: skip
    with session_scope(engine) as session:
        july = Period.parse("2026-07")
        assert next(u for u in load_units(session, None, july) if u.code == "D08").category == (
            "party_mass"
        )
        # H2 and the annual reflect the change: what their runs would compute now is
        # what is stored, with the settlement already booked.
        h2 = load_result_inputs(session, YEAR, through="2026-12")
        annual = load_result_inputs(session, YEAR, with_december=True, through="2026-12")
        expect_h2 = plan_results(h2.units, h2.indicators, h2.ledger_sums, h2.rules,
                                 with_data=h2.with_data)  # fmt: skip
        plan = plan_annual(
            annual.units,
            annual.indicators,
            annual.december,
            annual.ledger_sums,
            annual.rules,
            with_data=annual.with_data,
        )
        party_mass = {i.code for i in h2.indicators if "party_mass" in i.categories}
    assert {c for (c,) in d08_july} == party_mass
    assert plan.settlements == []
    current = latest_results(engine)
    assert {r.unit_id: (r.score, r.rank) for r in expect_h2} == {
        k[2]: v[0:4:3] for k, v in current.items() if k[:2] == ("half_year_evaluation", "2026-H2")
    }
    assert {r.unit_id: (r.score, r.rank) for r in plan.results} == {
        k[2]: v[0:4:3] for k, v in current.items() if k[:2] == ("annual_assessment", "2026")
    }
    for cycle, period in (("half_year_evaluation", "2026-H2"), ("annual_assessment", "2026")):
        restated = [r for r in _results(engine, cycle, period) if r[6] == f"catalog:{revision_id}"]
        assert restated and {r[5] for r in restated} == {2}
        d08 = rows(engine, "SELECT id FROM unit WHERE code = 'D08'")[0][0]
        assert next(r for r in reversed(restated) if r[0] == d08)[1] == "party_mass"
    # assess explain names the revision where it names a ruling.
    with session_scope(engine) as session:
        facts = load_explain(session, "C01", "manganese_sites", "2026-07", WorkCalendar())
    assert f"目录修订 #{revision_id}" in explain_markdown(facts)
    # No monthly digest again: the units had one message about the revision.
    assert rows(engine, "SELECT COUNT(*) FROM message WHERE kind = 'monthly_analysis'") == digests
    found = Artifact.get(f"catalog-revision-{revision_id}")
    assert not isinstance(found, Coroutine) and found is not None
    assert "2026-07" in str(found.data) and "D08" in str(found.data)

    # The same change again changes nothing; the recompute again books and queues nothing.
    counts = _counts(engine)
    code, output = _change(_write_change(tmp_path))
    assert code == 0 and "没有需要修订的内容" in output, output
    state = recompute_after_catalog_change(revision_id, return_state=True)
    assert state.is_completed(), state.message
    data = state.result()
    assert isinstance(data, dict) and data["restated"] == {} and data["settlements"] == 0
    assert sum(data["entries"].values()) == 0
    assert _counts(engine) == counts


def test_a_dry_run_writes_nothing_and_names_the_units_whose_pre_deductions_move(
    prefect_server: None, year_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = year_db
    monkeypatch.setenv("ASSESS_OPERATOR", "考核办 王")
    before = {t: _digest(engine, t) for t in TABLES}
    code, output = _change(_write_change(tmp_path), "--dry-run")
    assert code == 0, output
    assert {t: _digest(engine, t) for t in TABLES} == before
    assert "预览（未写入）" in output and "若执行此修订" in output
    assert "重新核算的月份：2026-07" in output
    moved = [line for line in output.splitlines() if "→" in line and line.startswith("  C")]
    assert moved, output  # counties take the new indicator: their pre-deductions move
    assert any(line.startswith("  D08 ") for line in output.splitlines()), output
    assert "2026-H2 半年评估结果更正为第 2 版" in output


def _record(engine: Engine) -> int:
    """The change recorded (and the units told) without running the recompute."""
    request = RevisionRequest(changed_catalog(), "修订.xlsx", "青考办〔2026〕12号", "2026-07",
                              "", "test")  # fmt: skip
    now = datetime(2027, 2, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        revision_id = save_revision(session, request, plan_revision(session, request), now)
        assert revision_id is not None
        queue_change_notices(session, revision_id, now)
    return revision_id


def test_a_recompute_that_fails_half_way_is_completed_by_the_next_run(
    prefect_server: None, year_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.catalog_recompute as recompute

    engine = year_db
    before_july = _before_july(engine)
    revision_id = _record(engine)
    real = recompute.recompute_month

    def failing_in_september(session: Any, revision: int, month: Period, *a: Any) -> Any:
        if month.key == "2026-09":
            raise RuntimeError("database went away")
        return real(session, revision, month, *a)

    monkeypatch.setattr(recompute, "recompute_month", failing_in_september)
    state = recompute_after_catalog_change(revision_id, return_state=True)
    assert state.is_failed()
    booked = rows(engine, "SELECT DISTINCT period FROM deduction_entry WHERE revision_id = :r",
                  r=revision_id)  # fmt: skip
    assert booked == [("2026-07",)]  # July and August committed, September not
    assert rows(engine, "SELECT COUNT(*) FROM result_entry WHERE cause = :c",
                c=f"catalog:{revision_id}") == [(0,)]  # fmt: skip
    monkeypatch.setattr(recompute, "recompute_month", real)
    state = recompute_after_catalog_change(revision_id, return_state=True)
    assert state.is_completed(), state.message
    data = state.result()
    assert isinstance(data, dict)
    assert data["entries"]["2026-07"] == 0 and data["entries"]["2026-09"] > 0
    assert set(data["restated"]) == {"half_year_evaluation:2026-H2", "annual_assessment:2026"}
    assert _before_july(engine) == before_july
    counts = _counts(engine)
    again = recompute_after_catalog_change(revision_id, return_state=True)
    assert again.is_completed() and _counts(engine) == counts


def test_a_ruling_on_a_month_before_a_revision_recomputes_it_under_that_months_catalog(
    prefect_server: None, year_db: Engine
) -> None:
    from dataclasses import replace

    from deployments.demo.build_catalog import demo_catalog
    from tests.appeals.support import file_appeal, pick_cell
    from tests.appeals.test_period_truth import _rule

    engine = year_db
    unit, indicator, _, _ = pick_cell(engine, "2026-03")
    ((code,),) = rows(engine, "SELECT code FROM indicator WHERE id = :i", i=indicator)
    catalog = demo_catalog()
    doubled = replace(catalog, indicators=tuple(
        replace(i, weight=i.weight * 2) if (i.year, i.code) == (YEAR, code) else i
        for i in catalog.indicators
    ))  # fmt: skip
    request = RevisionRequest(doubled, "修订.xlsx", "青考办〔2026〕12号", "2026-07", "", "t")
    with session_scope(engine) as session:
        revision_id = save_revision(session, request, plan_revision(session, request),
                                    datetime(2027, 2, 1, tzinfo=UTC))  # fmt: skip
    assert revision_id is not None
    assert recompute_after_catalog_change(revision_id, return_state=True).is_completed()
    cell = "SELECT level, expected, actual, pre_deduction FROM monthly_assessment " \
           "WHERE unit_id = :u AND indicator_id = :i AND period = '2026-03'"  # fmt: skip
    before = rows(engine, cell, u=unit, i=indicator)
    actual = before[0][2]
    # The platform's own value confirmed: March stays as it was assessed (July's doubled
    # weight must not reach it), so the ruling books nothing.
    appeal = file_appeal(engine, unit, indicator, "2026-03", claimed=Decimal(str(actual)))
    ruling_id = _rule(appeal, "corrected", corrected_value=float(actual))
    assert rows(engine, cell, u=unit, i=indicator) == before
    assert rows(engine, "SELECT COUNT(*) FROM deduction_entry WHERE ruling_id = :r",
                r=ruling_id) == [(0,)]  # fmt: skip
