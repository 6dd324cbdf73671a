"""The operations channel hears of a Partial cycle run and of a failed on-demand flow:
one alert each, in Chinese, with Beijing times."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from deployments.prefect_setup import setup_alerts
from flows.forms import RulingForm
from flows.monthly_analysis import monthly_analysis
from flows.rule_on_appeal import rule_on_appeal
from models.rules import SHANGHAI
from tests.fixtures.demo import TOKEN, set_faults
from tests.fixtures.receivers import HttpReceiver

pytestmark = [
    pytest.mark.flow,
    pytest.mark.db,
    pytest.mark.http,
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated"),  # apprise, on Python 3.11
]


@pytest.fixture
def ops_channel(prefect_server: None) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    try:
        setup_alerts([receiver.json_url("/ops")])
        time.sleep(2)  # the triggers service picks up the automation
        yield receiver
    finally:
        receiver.stop()


def _alerts(receiver: HttpReceiver, expected: int) -> list[Any]:
    """The alerts received once ``expected`` arrived, and a while more for any extra."""
    deadline = time.monotonic() + 45
    while receiver.count("/ops") < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(5)
    return receiver.received("/ops")


def test_a_partial_run_and_a_failed_appeal_ruling_each_put_one_alert_in_the_ops_channel(
    ops_channel: HttpReceiver,
    catalog_db: Engine,
    db_url: str,
    sim: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    monkeypatch.setenv("ASSESS_PLATFORM_URL", sim)
    monkeypatch.setenv("ASSESS_PLATFORM_TOKEN", TOKEN)
    set_faults(sim, dead=True)
    partial = monthly_analysis(period="2026-04", return_state=True)
    assert partial.name == "Partial" and partial.is_completed()
    failed = rule_on_appeal(
        form=RulingForm(appeal="987654", ruling="rejected", reason="无此申诉",
                        document_ref="考核办〔2026〕1号"),
        return_state=True,
    )  # fmt: skip
    assert failed.is_failed()

    alerts = [a.json for a in _alerts(ops_channel, 2)]
    assert len(alerts) == 2, [a["title"] for a in alerts]
    by_flow = {("monthly" if "monthly-analysis" in a["title"] else "appeal"): a for a in alerts}
    assert set(by_flow) == {"monthly", "appeal"}
    assert "部分完成" in by_flow["monthly"]["title"] and "Partial" in by_flow["monthly"]["title"]
    assert "平台不可用" in by_flow["monthly"]["message"]
    assert "运行异常" in by_flow["appeal"]["title"]
    assert "流程：rule_on_appeal" in by_flow["appeal"]["message"]
    for alert, state in ((by_flow["monthly"], partial), (by_flow["appeal"], failed)):
        planned = _planned_in_beijing(state)
        assert f"计划时间（北京时间）：{planned}" in alert["message"]
        assert "结束时间（北京时间）：20" in alert["message"]


def _planned_in_beijing(state: Any) -> str:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert run.expected_start_time is not None
    return run.expected_start_time.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
