"""After a round: a message's new status, and the office alert for an unreachable unit.

`settle_round` reads the message's whole history of attempts: delivered when every
channel accepted it (or some did and the others keep failing), partial, failed, or
undeliverable once every channel failed for `DeliveryPolicy.unreachable_after_rounds`
rounds. A unit message that becomes undeliverable raises exactly one office alert
(`raise_alert`: audience ``office``, kind ``unit_unreachable``), delivered to the
operations channels.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session, select

from models.messages import AttemptOutcome, MessageStatus, build_office_alert, message_key
from models.persistence.tables import Message
from tasks.delivery.channels import redact_channel
from tasks.delivery.queueing import add_pending_message
from tasks.delivery.reads import (
    OFFICE,
    UNIT_UNREACHABLE,
    AttemptLike,
    OutgoingMessage,
    UnitInfo,
    aware,
    shanghai_time,
)
from tasks.delivery.sending import DeliveryPolicy, SendResult

__all__ = ["raise_alert", "settle_round"]

log = logging.getLogger(__name__)


def settle_round(
    message: OutgoingMessage,
    channels: Sequence[str],
    history: Sequence[AttemptLike],
    result: SendResult,
    policy: DeliveryPolicy,
) -> tuple[str, datetime | None]:
    """The message's status (and first delivery time) after a round, from its whole
    history of attempts.

    Failures count from the message's ``due_at`` on (a requeued message starts afresh).
    """
    accepted = {a.channel for a in history if a.outcome == AttemptOutcome.DELIVERED}
    missing = [c for c in (redact_channel(url) for url in channels) if c not in accepted]
    delivered_at = message.delivered_at
    if result.first_delivered_at is not None and delivered_at is None:
        delivered_at = result.first_delivered_at
    if channels and not missing:
        return MessageStatus.DELIVERED, delivered_at
    since = message.due_at
    failed = {
        c: sum(
            1
            for a in history
            if a.channel == c
            and a.outcome == AttemptOutcome.FAILED
            and aware(a.attempted_at) >= since
        )
        for c in missing
    }
    exhausted = all(n >= policy.unreachable_after_attempts for n in failed.values())
    if accepted and exhausted:
        log.warning(
            "message %s reached the unit, but %s keep failing: giving up on them",
            message.id,
            ", ".join(missing),
        )
        return MessageStatus.DELIVERED, delivered_at
    if accepted:
        return MessageStatus.PARTIAL, delivered_at
    if exhausted:
        if message.audience == OFFICE:
            log.error("office message %s could not be delivered", message.id)
        return MessageStatus.UNDELIVERABLE, delivered_at
    return MessageStatus.FAILED, delivered_at


def raise_alert(
    session: Session,
    message: OutgoingMessage,
    unit: UnitInfo | None,
    history: Sequence[AttemptLike],
    channels: Sequence[str],
    now: datetime,
) -> Message | None:
    """Queue the one office alert for an undeliverable unit message (None if it exists).

    One alert per message and queueing (a requeued message may alert again)."""
    key = message_key(
        OFFICE,
        UNIT_UNREACHABLE,
        message.period,
        hashlib.sha256(
            f"{message.key}@{aware(message.due_at).astimezone(UTC).isoformat()}".encode()
        ).hexdigest(),
    )
    if session.exec(select(Message.id).where(Message.key == key)).first() is not None:
        return None
    failures = [a for a in history if a.outcome == AttemptOutcome.FAILED]
    rendered = build_office_alert(
        unit_code=unit.code if unit else "?",
        unit_name=unit.name if unit else "?",
        message_subject=message.subject,
        message_kind=message.kind,
        period_key=message.period,
        attempts=len(history),
        channels=tuple(redact_channel(c) for c in channels),
        last_error=failures[-1].error if failures else "单位未配置任何通知渠道",
        first_attempt_at=shanghai_time(history[0].attempted_at) if history else None,
        last_attempt_at=shanghai_time(history[-1].attempted_at) if history else None,
        message_id=message.id,
    )
    alert = add_pending_message(
        session, key=key, audience=OFFICE, kind=UNIT_UNREACHABLE, period=message.period,
        body=rendered, now=now,
    )  # fmt: skip
    session.flush()
    return alert
