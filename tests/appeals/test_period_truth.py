"""Every period's result as of the period, on a whole analysed year (both databases): a
period computed after the year gives exactly what the in-order run gave; a forced rerun
of June (and of December) after the annual changes no list, ledger or result; a ruling on
October leaves the first half-year's current version alone, one on June restates it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import Engine

from flows.half_year_evaluation import half_year_evaluation
from flows.monthly_analysis import monthly_analysis
from flows.rule_on_appeal import rule_on_appeal
from models.persistence.database import session_scope
from models.plans.result_versions import current_rows
from models.plans.results import UnitResult, plan_results
from models.rules import Period
from tasks.monthly import load_negative_list
from tasks.results import load_quarter_task, load_result_inputs, load_result_versions, save_results
from tasks.runtime import build_runtime
from tests.appeals.support import (
    YEAR,
    file_appeal,
    fresh_year,
    latest_results,
    ledger_sums,
    pick_cell,
    rows,
    ruling_form,
)

pytestmark = [
    pytest.mark.flow,
    pytest.mark.db,
    pytest.mark.http,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning"),
]

MONTHS = [m.key for m in Period.whole_year(YEAR).months()]


def _lists(engine: Engine) -> dict[str, frozenset[int]]:
    with session_scope(engine) as session:
        return {m: load_negative_list(session, through=m) for m in MONTHS}


def _count(engine: Engine, table: str) -> int:
    return int(rows(engine, f"SELECT COUNT(*) FROM {table}")[0][0])


def _h1(engine: Engine) -> list[tuple[Any, ...]]:
    return rows(
        engine,
        "SELECT unit_id, score, rank, version, cause FROM result_entry "
        "WHERE cycle = 'half_year_evaluation' AND period = '2026-H1' ORDER BY id",
    )


def _rule(appeal_id: int, ruling: str, **kw: Any) -> int:
    form = ruling_form(appeal_id, ruling=ruling, reason="经核查，申诉理由成立",
                       document_ref="青考办〔2027〕9号", **kw)  # fmt: skip
    state = rule_on_appeal(form=form, return_state=True)
    assert state.is_completed(), state.message
    data = state.result()
    assert isinstance(data, dict)
    return int(data["ruling_id"])


def test_every_period_computed_after_the_year_gives_what_the_in_order_run_gave(
    prefect_server: None, year_db: Engine
) -> None:
    engine = year_db
    fresh = fresh_year(engine)  # month by month, each period right after its last month
    with session_scope(engine) as session:
        for half, through in (("2026-H1", "2026-06"), ("2026-H2", "2026-12")):
            inputs = load_result_inputs(session, YEAR, through=through)
            results = plan_results(inputs.units, inputs.indicators, inputs.ledger_sums,
                                   inputs.rules, with_data=inputs.with_data)  # fmt: skip
            assert {
                r.unit_id: (r.score, r.deductions, r.total_weight, r.rank) for r in results
            } == {
                k[2]: v[:4]
                for k, v in fresh.results.items()
                if k[:2] == ("half_year_evaluation", half)
            }
    assert latest_results(engine) == fresh.results
    units = {u for (u, _) in fresh.membership}
    for month, listed in _lists(engine).items():
        assert listed == {u for u in units if fresh.membership[(u, month)]}
    for quarter in (Period.quarter(YEAR, q) for q in range(1, 5)):  # the quarterly reads
        keys = [m.key for m in quarter.months()]
        _, _, on_list = load_quarter_task.fn(build_runtime(), keys)
        assert on_list == {u for u in units if fresh.membership[(u, keys[-1])]}
    before = _h1(engine)
    assert {(v, c.split(":")[0]) for *_, v, c in before} == {(1, "run")}
    state = half_year_evaluation(period="2026-H1", force=True, return_state=True)  # a catch-up
    assert state.is_completed(), state.message
    assert _h1(engine) == before  # the same figures: no second version


def test_a_forced_june_and_december_rerun_after_the_annual_change_no_list_ledger_or_result(
    prefect_server: None, year_db: Engine
) -> None:
    engine = year_db
    lists, sums, results = _lists(engine), ledger_sums(engine), latest_results(engine)
    counts = {t: _count(engine, t) for t in ("negative_list_entry", "deduction_entry")}
    for month in ("2026-06", "2026-12"):
        state = monthly_analysis(period=month, force=True, return_state=True)
        assert state.is_completed(), state.message
    assert _lists(engine) == lists
    assert ledger_sums(engine) == sums
    assert latest_results(engine) == results
    assert {t: _count(engine, t) for t in counts} == counts


def test_an_october_ruling_leaves_the_first_half_year_alone_and_a_june_one_restates_it(
    prefect_server: None, year_db: Engine
) -> None:
    engine = year_db
    before = _h1(engine)
    unit, indicator, _, _ = pick_cell(engine, "2026-10")
    _rule(file_appeal(engine, unit, indicator, "2026-10", kind="other"), "waived")
    assert _h1(engine) == before
    restated = "SELECT subject, body_text FROM message WHERE kind = 'result_restated'"
    assert not [s for s, _ in rows(engine, restated) if "2026-H1" in s]

    unit, indicator, _, _ = pick_cell(engine, "2026-06")
    ruling_id = _rule(file_appeal(engine, unit, indicator, "2026-06", kind="other"), "waived")
    after = _h1(engine)
    assert after[: len(before)] == before  # the first version stays readable
    second = after[len(before) :]
    assert second and {(v, c) for *_, v, c in second} == {(2, f"ruling:{ruling_id}")}
    assert unit in {u for u, *_ in second}
    first_rank = {u: rank for u, _, rank, *_ in before}
    moved = [u for u, _, rank, *_ in second if rank != first_rank[u]]
    notices = [(s, t) for s, t in rows(engine, restated) if "2026-H1" in s]
    assert len(notices) == (1 if moved else 0)
    if moved:
        assert "第 2 版" in notices[0][0] and f"申诉裁定 {ruling_id}" in notices[0][1]


def test_results_saved_again_add_nothing_and_changed_ones_a_version_and_one_office_message(
    year_db: Engine,
) -> None:
    engine = year_db
    now = datetime(2027, 2, 2, tzinfo=UTC)
    with session_scope(engine) as session:
        current = current_rows(load_result_versions(session, "half_year_evaluation", "2026-H1"))
    same = [
        UnitResult(r.unit_id, r.category, r.total_weight, r.deductions, r.score, r.rank)
        for r in current.values()
    ]
    with session_scope(engine) as session:
        assert save_results(session, "half_year_evaluation", "2026-H1", same, None, now) is None
    ordered = sorted(same, key=lambda r: (r.category, r.rank))
    first, second = next(
        (a, b) for a, b in pairwise(ordered) if a.category == b.category and a.rank < b.rank
    )
    swapped = {first.unit_id: second.rank, second.unit_id: first.rank}
    changed = [dataclasses.replace(r, rank=swapped.get(r.unit_id, r.rank)) for r in same]
    for _ in range(2):  # the second time: nothing more
        with session_scope(engine) as session:
            save_results(session, "half_year_evaluation", "2026-H1", changed, None, now,
                         cause="rerun:99")  # fmt: skip
    assert {(u, v, c) for u, _, _, v, c in _h1(engine) if v > 1} == {
        (first.unit_id, 2, "rerun:99"),
        (second.unit_id, 2, "rerun:99"),
    }
    notices = rows(engine, "SELECT subject, body_text FROM message WHERE kind = 'result_restated'")
    assert len(notices) == 1
    subject, text = notices[0]
    assert "2026-H1 半年评估结果第 2 版" in subject and "强制重跑 99" in text
