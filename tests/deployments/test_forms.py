"""The forms staff fill in the Prefect UI read in Chinese; runs and deployments say what
they are about; an appeal is found by its platform id or its internal id."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import yaml
from prefect.utilities.callables import parameter_schema
from sqlalchemy import Engine

from deployments.demo.build_catalog import demo_catalog
from deployments.prefect_setup import DEFAULT_PREFECT_YAML
from flows.backfill_cycles import cycle_deployment
from flows.close_problem import close_problem
from flows.forms import ProblemClosureForm, RulingChoice, RulingForm
from flows.record_onsite_finding import OnsiteFindingForm, record_onsite_finding
from flows.rule_on_appeal import CommitteeInput, rule_on_appeal
from models.errors import InputError, NotFoundError
from models.persistence.database import session_scope
from models.persistence.tables import Appeal, Indicator, Unit
from models.plans.committee import committee_deadline, parse_appeal_ref
from models.rules import Cycle, RulingKind, WorkCalendar
from tasks.appeals.rulings import find_appeal_id
from tasks.catalog import save_catalog

CJK = re.compile(r"[\u4e00-\u9fff]")


def _fields(schema: dict[str, Any], model: str) -> dict[str, dict[str, Any]]:
    definitions = schema.get("definitions") or schema.get("$defs") or {}
    props: dict[str, dict[str, Any]] = definitions[model]["properties"]
    return props


def _assert_chinese(fields: dict[str, dict[str, Any]]) -> None:
    for name, field in fields.items():
        assert CJK.search(field["title"]), f"{name}: title {field['title']!r}"
        assert CJK.search(field.get("description", "")), f"{name}: no Chinese description"


@pytest.mark.parametrize(
    ("flow", "model", "expected"),
    [
        (rule_on_appeal, "RulingForm", {"appeal": "申诉编号", "ruling": "裁定结果"}),
        (record_onsite_finding, "OnsiteFindingForm", {"unit_code": "单位编码"}),
        (close_problem, "ProblemClosureForm", {"problem_id": "问题编号", "note": "销号说明"}),
    ],
)  # fmt: skip
def test_each_form_field_has_a_chinese_title_and_description_in_the_flows_parameter_schema(
    flow: Any, model: str, expected: dict[str, str]
) -> None:
    schema = parameter_schema(flow.fn).model_dump()
    assert list(schema["properties"]) == ["form"]  # one model parameter: its fields keep titles
    fields = _fields(schema, model)
    _assert_chinese(fields)
    for name, title in expected.items():
        assert fields[name]["title"] == title


def test_the_ruling_form_offers_chinese_choices_and_hides_the_test_only_wait() -> None:
    schema = parameter_schema(rule_on_appeal.fn).model_dump()
    choices = (schema.get("definitions") or schema["$defs"])["RulingChoice"]["enum"]
    assert choices == ["驳回", "更正数据", "免于扣分", "减轻扣分"]
    assert [RulingChoice(c).kind.label for c in choices] == choices
    assert "committee_timeout_seconds" not in _fields(schema, "RulingForm")
    # the English names still work (scripts, tests), and both ids are accepted as text
    form = RulingForm(appeal=12, ruling="reduced", reason="减轻", share=0.5)
    assert (form.appeal, form.ruling, form.ruling.kind) == (
        "12",
        RulingChoice.REDUCED,
        RulingKind.REDUCED,
    )
    with pytest.raises(ValueError):
        RulingForm(appeal="ap-1", ruling="reduced", reason="减轻", share=1.5)


def test_the_committees_pause_form_has_chinese_titles() -> None:
    fields = CommitteeInput.model_json_schema()["properties"]
    _assert_chinese(fields)
    assert fields["approved"]["title"] == "批准专家组建议"


def test_runs_are_named_by_what_they_are_about() -> None:
    ruling = RulingForm(appeal="ap-202610-01", ruling=RulingChoice.WAIVED, reason="不可抗力")
    finding = OnsiteFindingForm(
        unit_code="C04",
        checked_on=date(2026, 9, 15),
        description="台账缺失",
        rectify_by=date(2026, 10, 15),
    )
    assert isinstance(rule_on_appeal.flow_run_name, str)
    assert rule_on_appeal.flow_run_name.format(form=ruling) == "申诉裁定-ap-202610-01-免于扣分"
    assert isinstance(record_onsite_finding.flow_run_name, str)
    assert record_onsite_finding.flow_run_name.format(form=finding) == "实地核查发现-C04-2026-09-15"
    assert isinstance(close_problem.flow_run_name, str)
    assert close_problem.flow_run_name.format(form=ProblemClosureForm(problem_id=7)) == "问题销号-7"


def test_deployment_names_are_unique_and_say_what_they_run() -> None:
    deployments = yaml.safe_load(DEFAULT_PREFECT_YAML.read_text(encoding="utf-8"))["deployments"]
    names = [d["name"] for d in deployments]
    assert len(set(names)) == len(names)
    generic = {"calendar", "on-demand", "office-hours", "daily", "default"}
    assert not generic & set(names)
    by_flow = {d["entrypoint"].rsplit(":", 1)[1]: d["name"] for d in deployments}
    for cycle in Cycle:
        assert f"{cycle.value}/{by_flow[cycle.value]}" == cycle_deployment(cycle)
    assert by_flow["rule_on_appeal"] == "ruling-form"


def test_the_committee_has_working_days_until_six_in_the_evening_beijing_time() -> None:
    calendar = WorkCalendar()
    # Tuesday 2026-09-29, 10:00 Beijing: 09-30, then National Day (10-01..10-07) is skipped
    now = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)
    deadline = committee_deadline(now, 3, calendar)
    assert deadline.due == datetime(2026, 10, 9, 10, 0, tzinfo=UTC)  # 2026-10-09 18:00 Beijing
    assert deadline.label == "3 个工作日（至 2026-10-09 18:00 北京时间）"
    assert deadline.seconds_from(now) == int((deadline.due - now).total_seconds())
    with pytest.raises(InputError):
        committee_deadline(now, 0, calendar)


def test_an_appeal_id_is_read_as_platform_id_or_internal_id() -> None:
    assert parse_appeal_ref(" 12 ").internal_id == 12
    assert parse_appeal_ref("ap-202610-01").platform_id == "ap-202610-01"
    assert parse_appeal_ref("t-22-29-2026-12-force_majeure").platform_id is not None
    for wrong in ("", "ap 2026", "x" * 121):
        with pytest.raises(InputError, match="申诉编号"):
            parse_appeal_ref(wrong)


@pytest.mark.db
def test_an_appeal_is_found_by_either_of_its_ids(engine: Engine) -> None:
    with session_scope(engine) as session:
        save_catalog(session, demo_catalog())
    with session_scope(engine) as session:
        unit = session.query(Unit).first()
        indicator = session.query(Indicator).first()
        assert unit is not None and indicator is not None and unit.id and indicator.id
        at = datetime(2026, 11, 9, 3, 0, tzinfo=UTC)
        appeal = Appeal(
            platform_id="ap-202610-01", unit_id=unit.id, indicator_id=indicator.id,
            period="2026-10", kind="data_error", claimed_value=Decimal("1"),
            reason="数据有误", filed_at=at, received_at=at,
        )  # fmt: skip
        session.add(appeal)
        session.flush()
        internal = appeal.id
    with session_scope(engine) as session:
        assert find_appeal_id(session, "ap-202610-01") == internal
        assert find_appeal_id(session, str(internal)) == internal
        with pytest.raises(NotFoundError, match="ap-202610-02"):
            find_appeal_id(session, "ap-202610-02")
