"""The catalog meets the platform (issue 14, item 8): each monthly analysis reads the
platform's unit list once, reports what differs from the catalog in its artifact and in
one office message per content, and the office applies a proposal through the audited
change, from its effective month on. Real Prefect server, loopback simulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prefect.artifacts import Artifact
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from deployments.cli import app
from deployments.demo.build_catalog import demo_catalog
from deployments.demo.sim_feed import demo_unit_drift
from flows.monthly_analysis import monthly_analysis
from models.persistence.database import session_scope
from models.persistence.tables import AssessmentYear
from models.plans.platform_registry import NOT_IN_CATALOG, PlatformUnits, compare_registry
from models.rules import Period
from tasks.catalog import load_catalog
from tasks.monthly import load_units
from tasks.platform_registry import fetch_platform_units
from tests.fixtures.demo import platform, set_faults, set_unit_drift

NOW = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
DRIFT = demo_unit_drift(demo_catalog())


def _artifact(key: str) -> Any:
    found = Artifact.get(key)
    assert not isinstance(found, Coroutine)
    return found


def _office_messages(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT period, subject, body_text FROM message "
                "WHERE audience = 'office' AND kind = 'platform_registry' ORDER BY id"
            )
        )
        return [(p, s, b) for p, s, b in rows]


def _unit_requests(sim: str) -> int:
    with httpx.Client(base_url=sim, timeout=5) as http:
        return int(http.get("/_sim/stats").json()["by_path"].get("/api/v1/units", 0))


def _reset_stats(sim: str) -> None:
    with httpx.Client(base_url=sim, timeout=5) as http:
        http.delete("/_sim/stats").raise_for_status()


@pytest.mark.flow
@pytest.mark.db
@pytest.mark.http
def test_the_same_discrepancies_reach_the_office_once_and_different_ones_again(
    prefect_server: None, settings_env: Engine, sim: str
) -> None:
    set_unit_drift(sim, DRIFT.to_json())
    _reset_stats(sim)
    state = monthly_analysis(period="2026-03", return_state=True)
    assert state.is_completed() and state.name == "Completed"
    assert _unit_requests(sim) == 1, "the unit list is read once a month"
    report = _artifact("monthly-analysis-2026-03-report").data
    assert "## 平台单位名单核对" in report
    assert "| X01 | 青岚新区管委会 | 平台有、目录无 |" in report
    table = _artifact("monthly-analysis-2026-03-units")
    assert table is not None
    assert {r["差异"] for r in json.loads(table.data)} == {
        "平台有、目录无", "目录标为已纳入平台，平台名单中没有",
        "平台已纳入，目录标为未纳入平台", "纳入日期不一致",
    }  # fmt: skip
    [(period, subject, body)] = _office_messages(settings_env)
    assert period == "2026-03" and "平台单位名单核对" in subject
    assert "不一致 4 处" in body and "assess catalog change" in body

    assert monthly_analysis(period="2026-03", force=True, return_state=True).is_completed()
    assert monthly_analysis(period="2026-04", return_state=True).is_completed()
    assert len(_office_messages(settings_env)) == 1, "a rerun or the next month says it once"

    set_unit_drift(sim, {**DRIFT.to_json(), "extra": []})
    assert monthly_analysis(period="2026-05", return_state=True).is_completed()
    messages = _office_messages(settings_env)
    assert [m[0] for m in messages] == ["2026-03", "2026-05"]
    assert "不一致 3 处" in messages[1][2]


@pytest.mark.flow
@pytest.mark.db
@pytest.mark.http
def test_a_unit_list_the_platform_cannot_give_leaves_the_month_completed_as_before(
    prefect_server: None, settings_env: Engine, sim: str
) -> None:
    set_unit_drift(sim, DRIFT.to_json())
    set_faults(sim, units_dead=True, retry_after=0)
    state = monthly_analysis(period="2026-03", return_state=True)
    assert state.is_completed() and state.name == "Completed"
    with settings_env.connect() as conn:
        booked = conn.execute(sa.text("SELECT count(*) FROM deduction_entry")).scalar_one()
        status = conn.execute(sa.text("SELECT status FROM cycle_run")).scalar_one()
    assert booked > 0 and status == "completed"
    assert "未能读取平台单位名单" in _artifact("monthly-analysis-2026-03-report").data
    assert _office_messages(settings_env) == []


@pytest.mark.db
@pytest.mark.http
def test_hostile_unit_records_from_the_platform_are_reported_not_trusted(
    settings_env: Engine, sim: str
) -> None:
    hostile = [
        {"unit_code": "C01", "name": "长" * 5000},
        {"unit_code": "C02", "name": "临江区", "onboarded_at": "2027-06-01T09:00:00+08:00"},
        {"unit_code": 42, "name": "数字编码"},
        {"unit_code": "X\u0000", "name": "控制字符"},
        ["not", "an", "object"],
    ]
    set_unit_drift(sim, {"extra": hostile, "missing": ["C01", "C02"]})

    async def read() -> PlatformUnits:
        async with platform(sim) as client:
            return await fetch_platform_units(client, NOW)

    listed = asyncio.run(read())
    assert [b.reason for b in listed.rejected] == [
        "too_long", "future_time", "bad_characters", "bad_type", "not_an_object"
    ]  # fmt: skip
    codes = {u.code for u in listed.units}
    assert "C01" not in codes and "C02" not in codes
    with Session(settings_env) as session:
        units = load_catalog(session, "2026-03").units
    report = compare_registry(units, listed)
    assert {d.code for d in report.discrepancies} == {"C01", "C02"}  # missing, not trusted
    assert NOT_IN_CATALOG not in {d.kind for d in report.discrepancies}


def _freeze(engine: Engine) -> None:
    with session_scope(engine) as session:
        year = session.get(AssessmentYear, 2026)
        assert year is not None
        year.frozen_at = datetime(2026, 2, 6, 1, 0, tzinfo=UTC)


def _platform_facts(engine: Engine, month: str) -> dict[str, bool]:
    with Session(engine) as session:
        return {u.code: u.on_platform for u in load_units(session, None, Period.parse(month))}


@pytest.mark.db
@pytest.mark.http
def test_a_proposal_recorded_through_the_audited_change_applies_from_its_month_on(
    settings_env: Engine, sim: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESS_OPERATOR", "考核办 王")
    _freeze(settings_env)
    set_unit_drift(sim, DRIFT.to_json())
    off = next(code for code, date_ in DRIFT.onboarded.items() if date_.startswith("2026"))
    (gone,) = DRIFT.missing
    out = tmp_path / "建议.xlsx"
    runner = CliRunner()
    result = runner.invoke(app, ["catalog", "propose", "--year", "2026", str(out)])
    assert result.exit_code == 0, result.output
    assert "修订建议（按平台单位名单调整 3 个单位的平台信息）" in result.output
    assert "X01（青岚新区管委会）" in result.output and "手工补充" in result.output
    assert "assess catalog change" in result.output
    with Session(settings_env) as session:
        assert not any(r for r in session.exec(sa.text("SELECT id FROM catalog_revision")))
    before = _platform_facts(settings_env, "2026-06")
    assert (before[off], before[gone]) == (False, True)

    args = ["catalog", "change", str(out), "--document", "青考办〔2026〕15号"]
    result = runner.invoke(app, [*args, "--effective", "2026-07"])
    assert result.exit_code == 0, result.output
    assert (
        f"单位平台信息调整 {off}：纳入平台 否 → 是；纳入日期 （空） → 2026-02-01" in result.output
    )
    june, july = _platform_facts(settings_env, "2026-06"), _platform_facts(settings_env, "2026-07")
    assert june == before, "months before the effective month keep their rules"
    assert (july[off], july[gone]) == (True, False)
    with Session(settings_env) as session:
        units = {u.code: u for u in load_catalog(session, "2026-07").units}
    assert units[off].onboarded_on == date(2026, 2, 1)
    again = runner.invoke(app, ["catalog", "propose", "--year", "2026", str(tmp_path / "b.xlsx")])
    assert "没有需要调整的内容" in again.output
    assert not (tmp_path / "b.xlsx").exists()
