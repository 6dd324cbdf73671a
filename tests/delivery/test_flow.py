"""The deliver_outbox flow on a real Prefect server, and the `assess outbox` command."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from prefect import flow, task
from prefect.artifacts import Artifact
from prefect.client.schemas.objects import Artifact as ArtifactResponse
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from deployments.outbox_cli import outbox_command
from flows.deliver_outbox import deliver_outbox
from models.persistence.database import session_scope
from models.persistence.tables import Unit
from models.rules.periods import SHANGHAI
from models.rules.workdays import WorkCalendar
from tasks.delivery import queue_digests, send_window
from tasks.delivery.tasks import artifact_key, retry_on_database_error
from tests.delivery.support import monthly_digest, reminder_digest
from tests.fixtures.receivers import SMTP_PASSWORD, HttpReceiver, SmtpReceiver

FRIDAY_10 = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)
FRIDAY_EVENING = datetime(2026, 10, 9, 20, 30, tzinfo=SHANGHAI)


@pytest.fixture
def configured(
    db_url: str,
    engine: Engine,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> Engine:
    """Settings pointing at the test database and the loopback ops channel; two units."""
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    monkeypatch.setenv("ASSESS_OPS_CHANNELS", json.dumps([http_receiver.json_url("/ops")]))
    monkeypatch.delenv("ASSESS_CALENDAR_OVERRIDES", raising=False)
    with session_scope(engine) as session:
        session.add(
            Unit(
                code="DEPT-FGW",
                name="青岚市发展和改革委员会",
                kind="department",
                category="government",
                channels=[http_receiver.json_url("/fgw/hookT0ken12345")],
            )
        )
        session.add(
            Unit(
                code="CTY-LS",
                name="临山县",
                kind="county",
                category="key_development",
                channels=[smtp_receiver.mailto("ls@qinglan.gov.cn")],
            )
        )
    return engine


@pytest.mark.flow
@pytest.mark.http
def test_the_flow_delivers_in_the_window_and_publishes_the_outbox_artifact(
    prefect_server: None,
    configured: Engine,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
) -> None:
    send_at = send_window(WorkCalendar())
    with session_scope(configured) as session:
        queue_digests(
            session, [monthly_digest(), reminder_digest()], now=FRIDAY_10, send_at_fn=send_at
        )

    counts = deliver_outbox(now=FRIDAY_10)

    assert counts["window_open"] == 1 and counts["delivered"] == 2
    (hook,) = http_receiver.received("/fgw/hookT0ken12345")
    assert "实际 80亿元" in hook.json["message"]
    ((_, mail),) = smtp_receiver.received()
    assert mail["Subject"] == "【市考核办】2026年9月数据上传提醒 · 临山县"
    artifact = Artifact.get(artifact_key(FRIDAY_10.date()))
    assert isinstance(artifact, ArtifactResponse) and artifact.key == "outbox-2026-10-09"
    text = str(artifact.data)
    assert "## 发送前" in text and "## 发送后" in text
    assert "| 月度分析 | 1 | 0 | 0 |" in text and "| 月度分析 | 0 | 1 | 0 |" in text
    assert "| 数据上传提醒 | 0 | 1 | 0 |" in text
    for secret in ("hookT0ken12345", SMTP_PASSWORD):
        assert secret not in text
    assert "固定资产投资" not in text and "80亿元" not in text  # no message bodies

    # Friday evening: outside the window, a new message waits for Saturday's 调休 window.
    with session_scope(configured) as session:
        queue_digests(
            session, [monthly_digest(actual="85")], now=FRIDAY_EVENING, send_at_fn=send_at
        )
    assert deliver_outbox(now=FRIDAY_EVENING) == {"window_open": 0}
    assert len(http_receiver.received("/fgw/hookT0ken12345")) == 1


@pytest.mark.db
def test_the_outbox_command_prints_the_day_in_chinese_or_as_json(configured: Engine) -> None:
    with session_scope(configured) as session:
        queue_digests(
            session, [monthly_digest()], now=FRIDAY_10, send_at_fn=send_window(WorkCalendar())
        )
    text = outbox_command(FRIDAY_10.date(), as_json=False)
    assert text.startswith("# 消息发送情况（2026年10月9日）")
    assert "今日待发送（1）" in text and "青岚市发展和改革委员会（DEPT-FGW）" in text
    assert "hookT0ken12345" not in text
    data = json.loads(outbox_command(FRIDAY_10.date(), as_json=True))
    assert data["counts"] == {"monthly_analysis": {"pending": 1, "delivered": 0, "failed": 0}}
    (row,) = data["messages"]
    assert row["unit_code"] == "DEPT-FGW" and row["status"] == "pending"
    assert row["channels"][0].startswith("json://127.0.0.1:") and "hookT0ken12345" not in str(row)


@pytest.mark.flow
def test_tasks_are_retried_only_when_the_database_was_briefly_unavailable(
    prefect_server: None,
) -> None:
    calls: list[str] = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_on_database_error)
    def flaky(error: str) -> str:
        calls.append(error)
        if len(calls) == 1:
            if error == "database":
                raise OperationalError("SELECT 1", {}, Exception("database is locked"))
            raise ValueError("a bug, not the database")
        return "ok"

    @flow
    def run(error: str) -> str:
        return flaky(error)

    assert run("database") == "ok" and calls == ["database", "database"]
    calls.clear()
    with pytest.raises(ValueError, match="a bug"):
        run("bug")
    assert calls == ["bug"]
