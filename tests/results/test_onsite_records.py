"""Findings of on-site checks: the problem ledger, the unit's notice, one reminder, closing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from models.persistence.database import session_scope
from models.persistence.tables import OnsiteCheckPlan
from models.plans.onsite import FindingForm, OnsiteError, draw_plan, problems_in_body
from models.rules import SHANGHAI, WorkCalendar
from tasks.onsite_tasks import (
    close_problem,
    draw_and_save_plan,
    onsite_export_payload,
    queue_rectification_notice,
    queue_reminders,
    record_finding,
)

pytestmark = pytest.mark.db

CALENDAR = WorkCalendar()
DRAWN = datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)
NOW = datetime(2026, 10, 20, 15, 0, tzinfo=SHANGHAI)
SEED = 1_946_382_711


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params).all()]


@pytest.fixture
def planned(catalog_db: Engine) -> Engine:
    """2026-Q3's plan, drawn on 12 October: C03 and D08 are sampled, C05 is not."""
    with session_scope(catalog_db) as session:
        session.add(
            OnsiteCheckPlan(
                period="2026-Q3",
                seed=SEED,
                candidates=[
                    {"unit_code": "C03", "red_count": 4},
                    {"unit_code": "C05", "red_count": 1},
                    {"unit_code": "D08", "red_count": 2},
                ],
                sample=["C03", "D08"],
                drawn_at=DRAWN,
            )
        )
    return catalog_db


def find(session: Any, code: str, text: str, by: date, **kw: Any) -> Any:
    outcome = record_finding(session, FindingForm(code, date(2026, 10, 20), text, by), NOW, **kw)
    queue_rectification_notice(session, outcome.unit_code, outcome.period, NOW, CALENDAR)
    return outcome


def test_a_finding_enters_the_problem_ledger_and_the_unit_is_told_only_the_problem(
    planned: Engine,
) -> None:
    with session_scope(planned) as session:
        outcome = find(session, "C03", "重点项目台账与现场进度不一致", date(2026, 11, 30))
    (problem,) = rows(
        planned,
        "SELECT p.source, p.period, p.finding_id, p.description, p.rectify_by, u.code "
        "FROM problem_entry p JOIN unit u ON u.id = p.unit_id",
    )
    assert problem[:3] == ("onsite_check", "2026-Q3", outcome.finding_id)
    assert str(problem[4]) == "2026-11-30" and problem[5] == "C03"
    (message,) = rows(
        planned,
        "SELECT m.kind, m.period, m.subject, m.body_text, m.body_html, m.body_markdown, u.code "
        "FROM message m JOIN unit u ON u.id = m.unit_id",
    )
    kind, period, subject, *bodies, code = message
    assert (kind, period, code) == ("rectification_notice", "2026-Q3", "C03")
    assert subject == "【市考核办】2026年第三季度整改通知 · 东岭县"
    for body in bodies:
        assert "重点项目台账与现场进度不一致" in body and "2026年11月30日" in body
        for secret in ("D08", "市发展和改革委员会", "C05", "南川县", str(SEED), "抽", "核查"):
            assert secret not in body


def test_a_second_finding_at_the_same_unit_reissues_the_notice_with_both_problems(
    planned: Engine,
) -> None:
    with session_scope(planned) as session:
        first = find(session, "C03", "重点项目台账与现场进度不一致", date(2026, 11, 30))
        second = find(session, "C03", "安全生产隐患整改资料缺失", date(2026, 12, 15))
    messages = rows(planned, "SELECT status, body_text FROM message ORDER BY id")
    assert [m[0] for m in messages] == ["superseded", "pending"]  # not sent yet: replaced
    assert problems_in_body(messages[1][1]) == {first.problem_id, second.problem_id}


@pytest.mark.parametrize(
    "description", ["本次四不两直检查发现台账缺失", "暗访发现值班脱岗", "列入抽查名单后发现问题"]
)
def test_a_finding_worded_with_the_check_plan_is_refused_and_nothing_is_recorded(
    planned: Engine, description: str
) -> None:
    with pytest.raises(OnsiteError, match="重新录入"), session_scope(planned) as session:
        find(session, "C03", description, date(2026, 11, 30))
    assert rows(planned, "SELECT COUNT(*) FROM onsite_check_finding") == [(0,)]
    assert rows(planned, "SELECT COUNT(*) FROM problem_entry") == [(0,)]
    assert rows(planned, "SELECT COUNT(*) FROM message") == [(0,)]


def test_a_finding_outside_the_sample_or_before_any_plan_is_refused(planned: Engine) -> None:
    with pytest.raises(OnsiteError, match="不在 2026-Q3 的抽查单位中"), session_scope(planned) as s:
        find(s, "C05", "问题", date(2026, 11, 30))
    with pytest.raises(OnsiteError, match="没有已抽取"), session_scope(planned) as s:
        record_finding(s, FindingForm("C03", date(2026, 9, 1), "问题", date(2026, 9, 30)), NOW)
    with pytest.raises(OnsiteError, match="不能早于"), session_scope(planned) as s:
        find(s, "C03", "问题", date(2026, 10, 1))
    with session_scope(planned) as s:
        find(s, "C05", "超出抽样范围登记的问题", date(2026, 11, 30), allow_outside_sample=True)
    assert rows(planned, "SELECT COUNT(*) FROM problem_entry") == [(1,)]


def reminders(engine: Engine) -> list[tuple[Any, ...]]:
    return rows(
        engine,
        "SELECT u.code, m.body_text FROM message m JOIN unit u ON u.id = m.unit_id "
        "WHERE m.kind = 'rectification_reminder' ORDER BY m.id",
    )


def remind_on(engine: Engine, day: date) -> None:
    with session_scope(engine) as session:
        at = datetime(day.year, day.month, day.day, 9, 30, tzinfo=SHANGHAI)
        queue_reminders(session, day, at, CALENDAR, working_days=3)


def test_each_open_problem_is_reminded_once_three_working_days_before_its_deadline(
    planned: Engine,
) -> None:
    with session_scope(planned) as session:
        c03 = find(session, "C03", "重点项目台账与现场进度不一致", date(2026, 11, 30))
        d08 = find(session, "D08", "惠企政策兑现台账不完整", date(2026, 12, 15))
    remind_on(planned, date(2026, 11, 24))
    assert reminders(planned) == []
    for day in (date(2026, 11, 25), date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 30)):
        remind_on(planned, day)  # 25 Nov is 3 working days before Monday 30 Nov
    ((code, body),) = reminders(planned)
    assert code == "C03" and problems_in_body(body) == {c03.problem_id}
    assert "即将到期" in body and "2026年11月30日" in body
    with session_scope(planned) as session:
        close_problem(session, d08.problem_id, "已完成整改", NOW)
    remind_on(planned, date(2026, 12, 10))
    assert len(reminders(planned)) == 1  # a closed problem is not reminded


def test_a_problem_is_closed_once_by_appending_its_closure(planned: Engine) -> None:
    with session_scope(planned) as session:
        outcome = find(session, "C03", "重点项目台账与现场进度不一致", date(2026, 11, 30))
        close_problem(session, outcome.problem_id, "台账已更新，经复核销号", NOW)
    with pytest.raises(OnsiteError, match="已于"), session_scope(planned) as session:
        close_problem(session, outcome.problem_id, "再次销号", NOW)
    with pytest.raises(OnsiteError, match="不存在"), session_scope(planned) as session:
        close_problem(session, 9999, "", NOW)
    assert rows(planned, "SELECT problem_id, note FROM problem_closure") == [
        (outcome.problem_id, "台账已更新，经复核销号")
    ]


def test_the_office_export_of_a_plan_reproduces_its_sample_from_the_stored_seed(
    catalog_db: Engine,
) -> None:
    with session_scope(catalog_db) as session:
        session.execute(
            sa.text(
                "INSERT INTO monthly_assessment (year, period, unit_id, indicator_id, level, "
                "pre_deduction, computed_at) SELECT 2026, '2026-09', u.id, i.id, 'red', 0, "
                ":at FROM unit u, indicator i WHERE i.year = 2026 AND i.code IN "
                "('safety', 'petitions') AND u.code IN ('C01', 'C02', 'C04', 'D09', 'D10', 'D11')"
            ),
            {"at": DRAWN},
        )
        first = draw_and_save_plan(
            session, "2026-Q3", ["2026-07", "2026-08", "2026-09"], DRAWN, draw_rule(), seed=SEED
        )
        again = draw_and_save_plan(
            session, "2026-Q3", ["2026-07", "2026-08", "2026-09"], NOW, draw_rule(), seed=7
        )
        payload = onsite_export_payload(session, "2026-Q3")
    assert first.created and not again.created and again.plan_id == first.plan_id
    assert payload["seed"] == SEED and payload["reproduced"] is True
    codes = [c["单位编码"] for c in payload["candidates"]]
    assert codes == ["C01", "C02", "C04", "D09", "D10", "D11"]
    expected = draw_plan("2026-Q3", first_candidates(), SEED).sample
    assert [s["单位编码"] for s in payload["sample"]] == list(expected)
    assert len(expected) == 2  # ceil(0.2 × 6)


def draw_rule() -> Any:
    from models.plans.onsite import SampleRule

    return SampleRule()


def first_candidates() -> Any:
    from models.plans.onsite import Candidate

    return tuple(Candidate(c, 2) for c in ("C01", "C02", "C04", "D09", "D10", "D11"))


def test_a_plan_is_never_redrawn_unless_it_was_drawn_with_no_one_to_check(
    catalog_db: Engine,
) -> None:
    months = ["2026-04", "2026-05", "2026-06"]
    with session_scope(catalog_db) as session:
        empty = draw_and_save_plan(session, "2026-Q2", months, DRAWN, draw_rule(), seed=1)
        session.execute(
            sa.text(
                "INSERT INTO monthly_assessment (year, period, unit_id, indicator_id, level, "
                "pre_deduction, computed_at) SELECT 2026, '2026-06', u.id, i.id, 'missing', 0, "
                ":at FROM unit u, indicator i WHERE i.year = 2026 AND i.code = 'safety' "
                "AND u.code IN ('C07', 'D15')"
            ),
            {"at": DRAWN},
        )
        filled = draw_and_save_plan(session, "2026-Q2", months, NOW, draw_rule(), seed=2)
        kept = draw_and_save_plan(session, "2026-Q2", months, NOW, draw_rule(), seed=3)
    assert empty.created and filled.created and not kept.created
    assert empty.plan_id == filled.plan_id == kept.plan_id
    assert rows(catalog_db, "SELECT seed, sample FROM onsite_check_plan")[0][0] == 2
