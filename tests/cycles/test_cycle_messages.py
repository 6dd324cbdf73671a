"""What the cycle flows hand to the outbox: one digest per unit with something to act on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from flows.monthly_analysis import monthly_analysis
from flows.pre_deadline_reminder import pre_deadline_reminder
from tests.fixtures.demo import TOKEN

pytestmark = [pytest.mark.flow, pytest.mark.db, pytest.mark.http]


@pytest.fixture
def env(
    catalog_db: Engine, db_url: str, sim: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    monkeypatch.setenv("ASSESS_PLATFORM_URL", sim)
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", TOKEN)
    yield catalog_db


def _messages(engine: Engine, kind: str) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT u.code, m.period, m.body_text FROM message m "
                "JOIN unit u ON u.id = m.unit_id WHERE m.kind = :kind ORDER BY u.code"
            ),
            {"kind": kind},
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _levels_by_unit(engine: Engine, period: str) -> dict[str, set[str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT u.code, a.level FROM monthly_assessment a JOIN unit u ON u.id = a.unit_id "
                "WHERE a.period = :p"
            ),
            {"p": period},
        ).all()
    out: dict[str, set[str]] = {}
    for code, level in rows:
        out.setdefault(code, set()).add(level)
    return out


def test_a_monthly_analysis_queues_one_digest_per_unit_that_has_something_to_act_on(
    prefect_server: None, env: Engine
) -> None:
    monthly_analysis(period="2026-03", return_state=True)
    for _ in range(3):
        monthly_analysis(period="2026-03", force=True, return_state=True)
    messages = _messages(env, "monthly_analysis")
    codes = [code for code, _, _ in messages]
    assert len(codes) == len(set(codes)), "at most one message per unit per cycle"
    levels = _levels_by_unit(env, "2026-03")
    told = {"yellow", "orange", "red", "missing"}
    expected = {code for code, lv in levels.items() if lv & told}
    all_green = {code for code, lv in levels.items() if lv <= {"green", "unavailable"}}
    assert set(codes) == expected
    assert not set(codes) & all_green
    body = dict((c, b) for c, _, b in messages)[codes[0]]
    assert "2026-03" in body or "2026年3月" in body


def test_a_pre_deadline_reminder_goes_only_to_units_still_missing_a_value(
    prefect_server: None, env: Engine, demo_year: object
) -> None:
    state = pre_deadline_reminder(period="2026-05", return_state=True)
    assert state.is_completed()
    messages = _messages(env, "pre_deadline_reminder")
    with env.connect() as conn:
        on_platform = {
            r[0] for r in conn.execute(sa.text("SELECT code FROM unit WHERE on_platform"))
        }
    codes = {c for c, _, _ in messages}
    assert codes <= on_platform
    assert codes, "the demo year has units missing uploads"
    assert len(codes) < len(on_platform), "units with everything uploaded hear nothing"
    again = pre_deadline_reminder(period="2026-05", force=True, return_state=True)
    assert again.is_completed()
    assert len(_messages(env, "pre_deadline_reminder")) == len(messages)
