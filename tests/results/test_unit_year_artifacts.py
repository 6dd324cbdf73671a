"""After a monthly analysis, each unit whose ledgers changed gets its year as an artifact."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from flows.monthly_analysis import monthly_analysis
from models.plans.office_lists import unit_artifact_key
from tests.results.support import artifacts_of, rows

pytestmark = [pytest.mark.flow, pytest.mark.db, pytest.mark.http]


def test_the_units_a_monthly_run_booked_entries_for_get_their_year_under_a_key_by_code(
    prefect_server: None, settings_env: Engine
) -> None:
    state = monthly_analysis(period="2026-03", return_state=True)
    assert state.is_completed()
    changed = {
        code
        for (code,) in rows(
            settings_env,
            "SELECT u.code FROM unit u WHERE u.id IN (SELECT unit_id FROM deduction_entry"
            " UNION SELECT unit_id FROM warning_entry"
            " UNION SELECT unit_id FROM negative_list_entry)",
        )
    }
    assert changed, "the demo's March has orange or red cells"
    published = {
        key: text
        for key, text in artifacts_of(state.state_details.flow_run_id)  # type: ignore[arg-type]
        if key and key.startswith("unit-")
    }
    assert set(published) == {unit_artifact_key(code, 2026) for code in changed}
    some = sorted(changed)[0]
    text = published[unit_artifact_key(some, 2026)]
    assert f"（{some}）2026 年度考核情况" in text and "## 月度等级" in text
    assert f"assess unit {some} --year 2026" in text and "截至 2026-03 月分析" in text


def test_the_units_read_together_get_the_same_year_as_each_read_alone(
    prefect_server: None, settings_env: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.office_lists
    from models.persistence.database import session_scope
    from models.persistence.tables import Unit
    from tasks.office_lists import load_unit_year, load_unit_years

    assert monthly_analysis(period="2026-03", return_state=True).is_completed()
    monkeypatch.setattr(tasks.office_lists, "UNITS_PER_READ", 5)  # several reads of a few
    with session_scope(settings_env) as session:
        units = list(session.exec(select(Unit).order_by(Unit.code)).all())
        together = load_unit_years(session, units, 2026)
        alone = {u.code: load_unit_year(session, u.code, 2026) for u in units}
    assert len(together) == len(units) > 5
    assert any(facts.deductions for facts in together.values())
    for code, facts in alone.items():
        mine = together[code]
        assert mine.indicators == facts.indicators and mine.category_sizes == facts.category_sizes
        for field in ("months", "deductions", "warnings", "negative", "appeals", "results"):
            key = lambda r: sorted(r.items(), key=str)  # noqa: E731
            assert sorted(map(str, map(key, getattr(mine, field)))) == sorted(
                map(str, map(key, getattr(facts, field)))
            ), (code, field)


def test_an_artifact_key_is_lowercase_letters_digits_and_dashes() -> None:
    assert unit_artifact_key("C04", 2026) == "unit-c04-2026"
    assert unit_artifact_key("D_12.x", 2027) == "unit-d-12-x-2027"
