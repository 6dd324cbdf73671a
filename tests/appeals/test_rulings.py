"""Each ruling kind end to end on a real Prefect server: the ledgers, scores, ranks and
grades after the recomputation equal a fresh computation with the ruling applied from
the start; a second recomputation changes nothing; the unit is told once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from deployments.explain_cli import explain_command
from flows.recompute_after_appeal import recompute_after_appeal
from flows.rule_on_appeal import rule_on_appeal
from models.persistence.database import session_scope
from models.rules import Ruling, RulingKind
from tasks.appeals.publish import publish_year
from tests.appeals.support import (
    assert_matches_fresh,
    file_appeal,
    fresh_year,
    latest_results,
    ledger_sums,
    pick_cell,
    pick_rank_moving_cell,
    rows,
    ruling_form,
    stored_cells,
)

pytestmark = [
    pytest.mark.flow,
    pytest.mark.db,
    pytest.mark.http,  # the analysed year is collected from the platform simulator
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::models.rules.CalendarFallbackWarning"),
]

LEDGERS = ("deduction_entry", "warning_entry", "negative_list_entry", "result_entry", "message")


def _counts(engine: Engine) -> dict[str, int]:
    return {t: rows(engine, f"SELECT COUNT(*) FROM {t}")[0][0] for t in LEDGERS}


def _rule(appeal_id: int, ruling: str, **kw: Any) -> int:
    form = ruling_form(
        appeal_id,
        ruling=ruling,
        reason=kw.pop("reason", "经核查，申诉理由成立"),
        document_ref=kw.pop("document_ref", "青考办〔2027〕5号"),
        **kw,
    )
    state = rule_on_appeal(form=form, return_state=True)
    assert state.is_completed(), state.message
    data = state.result()
    assert isinstance(data, dict)
    return int(data["ruling_id"])


def _messages(engine: Engine, kind: str, after: int = 0) -> list[tuple[Any, ...]]:
    return rows(
        engine,
        "SELECT unit_id, period, subject, body_text FROM message WHERE kind = :k AND id > :a "
        "ORDER BY id",
        k=kind,
        a=after,
    )


def _last_message(engine: Engine) -> int:
    return int(rows(engine, "SELECT COALESCE(MAX(id), 0) FROM message")[0][0])


def _assert_rerun_changes_nothing(engine: Engine, ruling_id: int) -> None:
    before = _counts(engine)
    state = recompute_after_appeal(ruling_id=ruling_id, return_state=True)
    assert state.is_completed(), state.message
    assert "unchanged" in (state.message or "")
    assert _counts(engine) == before


def test_the_fresh_computation_without_rulings_is_what_the_cycle_flows_booked(
    year_db: Engine,
) -> None:
    assert_matches_fresh(year_db, {}, [])


def test_a_waived_december_deduction_ends_as_if_waived_from_the_start(
    prefect_server: None, year_db: Engine
) -> None:
    engine = year_db
    unit, indicator, pre = pick_rank_moving_cell(engine)
    before = ledger_sums(engine)[(unit, indicator)]
    assert before == pre > 0  # settled: a red December's final deduction is its pre-deduction
    appeal = file_appeal(engine, unit, indicator, "2026-12", kind="other")
    first_new = _last_message(engine) + 1
    ruling_id = _rule(appeal, "waived")

    ruling = {(unit, indicator, "2026-12"): Ruling(RulingKind.WAIVED)}
    fresh = assert_matches_fresh(engine, ruling, [unit])
    assert (unit, indicator) not in ledger_sums(engine)
    entries = rows(
        engine,
        "SELECT kind, stage, amount, corrects_id, ruling_id FROM deduction_entry "
        "WHERE ruling_id IS NOT NULL",
    )
    assert len(entries) == 1
    kind, stage, amount, corrects_id, by = entries[0]
    assert (kind, stage, by) == ("settled", "final", ruling_id)
    assert Decimal(str(amount)).quantize(Decimal("0.01")) == -before
    last = rows(
        engine,
        "SELECT MAX(id) FROM deduction_entry WHERE unit_id = :u AND indicator_id = :i "
        "AND ruling_id IS NULL",
        u=unit,
        i=indicator,
    )[0][0]
    assert corrects_id == last
    # every unit of the category whose annual row changed got a row pointing to the ruling
    changed = rows(
        engine,
        "SELECT unit_id, rank, grade FROM result_entry WHERE ruling_id = :r",
        r=ruling_id,
    )
    assert any(u == unit for u, _, _ in changed)
    unchanged = fresh_year(engine, {})
    moved = {
        k[2]
        for k, v in fresh.results.items()
        if k[0] == "annual_assessment" and (v[3], v[4]) != unchanged.results[k][3:5]
    }
    # the unit is told the outcome once, the units whose rank or grade moved their result
    outcome = _messages(engine, "appeal_outcome")
    assert [(u, p) for u, p, _, _ in outcome] == [(unit, "2026-12")]
    assert "免予扣分" in outcome[0][3]
    notices = _messages(engine, "annual_assessment", after=first_new - 1)
    assert moved and {u for u, _, _, _ in notices} == moved | {unit}
    assert all("2026年度考核" in subject for _, _, subject, _ in notices)
    _assert_rerun_changes_nothing(engine, ruling_id)


def test_a_corrected_value_replaces_the_observation_even_in_a_published_year(
    prefect_server: None, year_db: Engine
) -> None:
    engine = year_db
    with session_scope(engine) as session:
        publish_year(session, 2026, datetime(2027, 1, 20, 2, tzinfo=UTC))
    unit, indicator, expected, _ = pick_cell(engine, "2026-12")
    appeal = file_appeal(engine, unit, indicator, "2026-12", claimed=expected)
    ruling_id = _rule(appeal, "corrected", corrected_value=float(expected))

    ruling = {(unit, indicator, "2026-12"): Ruling(RulingKind.CORRECTED, corrected_value=expected)}
    assert_matches_fresh(engine, ruling, [unit])
    assert stored_cells(engine)[(unit, indicator, "2026-12")] == ("green", Decimal("0.00"))
    warnings = rows(
        engine,
        "SELECT level, corrects_id, ruling_id FROM warning_entry WHERE ruling_id IS NOT NULL",
    )
    assert [(lv, r) for lv, _, r in warnings] == [("green", ruling_id)]
    assert warnings[0][1] is not None
    outcome = _messages(engine, "appeal_outcome")
    assert len(outcome) == 1 and "数值更正为" in outcome[0][3]
    _assert_rerun_changes_nothing(engine, ruling_id)

    # the chain behind the month, as `assess explain` prints it
    code, ind_code = rows(
        engine,
        "SELECT u.code, i.code FROM unit u, indicator i WHERE u.id = :u AND i.id = :i",
        u=unit,
        i=indicator,
    )[0]
    text = explain_command(code, ind_code, "2026-12")
    shown = ("平台填报数据", "✔ 采用", "按平台数据计算", "经申诉复查裁定后", "更正数据",
             f"裁定 {ruling_id}", "扣分台账", "当前得分", "年度考核")  # fmt: skip
    for expected_text in shown:
        assert expected_text in text, expected_text


def test_a_reduced_june_deduction_recomputes_the_first_half_years_scores_and_ranks(
    prefect_server: None, year_db: Engine
) -> None:
    engine = year_db
    unit, indicator, _, pre = pick_cell(engine, "2026-06")
    sums_before = ledger_sums(engine)
    h1_before = {k: v for k, v in latest_results(engine).items() if k[1] == "2026-H1"}
    appeal = file_appeal(engine, unit, indicator, "2026-06", kind="other")
    ruling_id = _rule(appeal, "reduced", share=0.5)

    ruling = {(unit, indicator, "2026-06"): Ruling(RulingKind.REDUCED, share=Decimal("0.5"))}
    assert_matches_fresh(engine, ruling, [unit])
    assert ledger_sums(engine) == sums_before  # June is not the month the ledger ends on
    assert stored_cells(engine)[(unit, indicator, "2026-06")][1] == (pre / 2).quantize(
        Decimal("0.01")
    )
    h1_after = {k: v for k, v in latest_results(engine).items() if k[1] == "2026-H1"}
    assert (
        h1_after[("half_year_evaluation", "2026-H1", unit)][0]
        > h1_before[("half_year_evaluation", "2026-H1", unit)][0]
    )
    booked = {u for (u,) in rows(engine, "SELECT unit_id FROM result_entry WHERE ruling_id = :r",
                                 r=ruling_id)}  # fmt: skip
    assert booked == {k[2] for k in h1_after if h1_after[k] != h1_before[k]}
    _assert_rerun_changes_nothing(engine, ruling_id)


def test_a_rejected_appeal_changes_nothing_but_the_unit_is_told(
    prefect_server: None, year_db: Engine
) -> None:
    engine = year_db
    unit, indicator, _, _ = pick_cell(engine, "2026-12")
    counts = _counts(engine)
    appeal = file_appeal(engine, unit, indicator, "2026-12")
    ruling_id = _rule(appeal, "rejected", reason="经核查，平台数据无误")

    assert_matches_fresh(engine, {}, [unit])
    after = _counts(engine)
    assert {t: after[t] - counts[t] for t in LEDGERS} == {
        "deduction_entry": 0,
        "warning_entry": 0,
        "negative_list_entry": 0,
        "result_entry": 0,
        "message": 1,
    }
    outcome = _messages(engine, "appeal_outcome")
    assert "维持原结果" in outcome[0][3] and "平台数据无误" in outcome[0][3]
    assert rows(engine, "SELECT status FROM appeal WHERE id = :a", a=appeal) == [("ruled",)]
    _assert_rerun_changes_nothing(engine, ruling_id)

    # a ruled appeal is not ruled again, and an inconsistent ruling is refused before anything
    again = rule_on_appeal(form=ruling_form(appeal, ruling="waived", reason="再议"),
                           return_state=True)  # fmt: skip
    assert again.is_failed() and "already ruled" in (again.message or "")
    other = file_appeal(engine, unit, indicator, "2026-11")
    bad = rule_on_appeal(form=ruling_form(other, ruling="reduced", reason="减轻"),
                         return_state=True)  # fmt: skip
    assert bad.is_failed() and "share" in (bad.message or "")
    assert rows(engine, "SELECT COUNT(*) FROM ruling") == [(1,)]
