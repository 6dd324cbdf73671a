"""``assess outbox requeue ID`` queues a failed message again, and the operations alert
about an unreachable unit names that command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import Engine

from deployments.cli_errors import ExitCode
from models.messages import build_office_alert
from models.persistence.database import session_scope
from models.persistence.tables import Message, Unit
from models.rules.periods import SHANGHAI
from tests.fixtures.cli import Ran

AT = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)


def test_the_unreachable_unit_alert_names_the_requeue_command() -> None:
    alert = build_office_alert(
        unit_code="C04", unit_name="青岚区", message_subject="月度分析",
        message_kind="monthly_analysis",
        period_key="2026-09", attempts=6, channels=("json://…",), last_error="503",
        first_attempt_at=AT, last_attempt_at=AT, message_id=17,
    )  # fmt: skip
    for body in (alert.text, alert.markdown, alert.html):
        assert "assess outbox requeue 17" in body


def _message(engine: Engine, status: str) -> int:
    with session_scope(engine) as session:
        unit = Unit(code="C04", name="青岚区", kind="county", category="key_development")
        session.add(unit)
        session.flush()
        message = Message(
            key=f"C04:monthly_analysis:2026-09:{status}", unit_id=unit.id, kind="monthly_analysis",
            period="2026-09", content_hash=status, subject="月度分析", body_markdown="x",
            body_text="x", body_html="x", due_at=AT, created_at=AT, status=status,
        )  # fmt: skip
        session.add(message)
        session.flush()
        assert message.id is not None
        return message.id


@pytest.mark.db
def test_a_failed_message_is_queued_again_and_mistakes_get_one_chinese_line(
    assess: Callable[..., Ran], engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    failed = _message(engine, "undeliverable")
    ran = assess("outbox", "requeue", str(failed))
    assert ran.code == 0, ran.err
    assert f"消息 {failed} 已重新排队" in ran.out
    with session_scope(engine) as session:
        message = session.get(Message, failed)
        assert message is not None and message.status == "pending"
    for args, says in (
        (("outbox", "requeue", "9999"), "没有编号为 9999 的消息"),
        (("outbox", "requeue", str(failed)), "只有发送失败或无法送达的消息可以重新排队"),
        (("outbox", "requeue"), "请写明要重新排队的消息编号"),
        (("outbox", "resend", "3"), "只支持 requeue"),
    ):
        wrong = assess(*args)
        assert wrong.code == ExitCode.USER and len(wrong.error_lines) == 1, wrong.err
        assert says in wrong.error_lines[0]
