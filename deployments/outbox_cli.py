"""``assess outbox``: what goes out today and what failed (the office's view).

The lead wires it into `deployments.cli`, e.g.::

    @app.command("outbox")
    def outbox(
        day: Annotated[str | None, typer.Option(help="YYYY-MM-DD, default today")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        typer.echo(outbox_command(date.fromisoformat(day) if day else None, as_json))
"""

from __future__ import annotations

import json
from datetime import date, datetime

from models.persistence.database import session_scope
from models.rules.periods import SHANGHAI, local_text
from tasks.delivery import outbox_report, outbox_snapshot
from tasks.runtime import build_runtime


def today_in_shanghai() -> date:
    """The command line's 'today' (the wall clock is fine at the entry point)."""
    return datetime.now(SHANGHAI).date()


def outbox_command(day: date | None, as_json: bool) -> str:
    """The outbox of `day` (default today, Asia/Shanghai) as a Chinese report or JSON.

    Channels are redacted and message bodies never shown.
    """
    the_day = day or today_in_shanghai()
    engine = build_runtime().engine
    try:
        with session_scope(engine) as session:
            if as_json:
                return json.dumps(
                    outbox_snapshot(session, the_day).to_dict(), ensure_ascii=False, indent=2
                )
            return outbox_report(session, the_day)
    finally:
        engine.dispose()


def requeue_command(message_id: int, now: datetime) -> str:
    """``assess outbox requeue ID``: queue an undeliverable or failed message again."""
    from models.errors import InputError, NotFoundError
    from models.persistence.tables import Message
    from tasks.delivery import requeue_message

    engine = build_runtime().engine
    try:
        with session_scope(engine) as session:
            message = session.get(Message, message_id)
            if message is None:
                raise NotFoundError(
                    f"没有编号为 {message_id} 的消息：请用 assess outbox 查看发送失败的消息编号"
                )
            if message.status not in ("undeliverable", "failed", "partial"):
                raise InputError(
                    f"消息 {message_id} 的状态为 {message.status}，只有发送失败或无法送达的消息"
                    "可以重新排队"
                )
            requeued = requeue_message(session, message_id, now)
            due = local_text(requeued.due_at)
            return f"消息 {message_id} 已重新排队，将于 {due}（北京时间）后的发送时段发送"
    finally:
        engine.dispose()
