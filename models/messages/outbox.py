"""Planning the outbox: what each digest needs (new, skip, correction, replace, withdraw).

Pure: it compares each digest with the messages already in the outbox for its unit, kind
and period, and renders the ones to send through `render.build_checked_unit_message`,
the one place a unit message is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from .digest import UnitDigest, canonical_form, check_item_types, message_key
from .render import RenderedMessage, build_checked_unit_message

# ---------------------------------------------------------------------------- plans


class PlanAction(StrEnum):
    NEW = "new"
    """Nothing was planned for this unit, kind and period before."""
    SKIP = "skip"
    """The same content is already in the outbox (sent or waiting): nothing to do."""
    CORRECTION = "correction"
    """The content changed after the unit received an earlier message: sent as 更正."""
    REPLACE = "replace"
    """The content changed before any earlier message reached the unit: the waiting one
    is superseded and the new one goes out instead (not a correction to the unit)."""
    WITHDRAW = "withdraw"
    """Nothing is left to act on: a message still waiting is withdrawn (nothing sent)."""


class ExistingMessage(NamedTuple):
    content_hash: str
    status: str
    message_id: int


ExistingMessages = Mapping[tuple[str, str, str], Sequence[tuple[str, str, int]]]
"""(unit_code, kind, period_key) -> earlier messages as (content_hash, status, message_id)."""


class MessageStatus(StrEnum):
    """Where a message in the outbox stands (the ``message.status`` column's values)."""

    PENDING = "pending"
    """Waiting for its send window."""
    PARTIAL = "partial"
    """Reached some of its unit's channels; the others are tried again."""
    FAILED = "failed"
    """Reached none of its channels yet; tried again."""
    DELIVERED = "delivered"
    """Reached every channel of its unit."""
    UNDELIVERABLE = "undeliverable"
    """Given up after the retries; the office was alerted."""
    SUPERSEDED = "superseded"
    """Replaced by a newer message before it reached the unit."""
    WITHDRAWN = "withdrawn"
    """Nothing left to act on: withdrawn before it was sent."""

    @property
    def label(self) -> str:
        return MESSAGE_STATUS_LABELS[self]


MESSAGE_STATUS_LABELS: dict[MessageStatus, str] = {
    MessageStatus.PENDING: "待发送",
    MessageStatus.PARTIAL: "部分送达（待重试）",
    MessageStatus.FAILED: "发送失败（待重试）",
    MessageStatus.DELIVERED: "已送达",
    MessageStatus.UNDELIVERABLE: "无法送达（已告警）",
    MessageStatus.SUPERSEDED: "已被替换",
    MessageStatus.WITHDRAWN: "已撤回",
}


class AttemptOutcome(StrEnum):
    """How one post to one channel ended (``delivery_attempt.outcome``)."""

    DELIVERED = "delivered"
    FAILED = "failed"


DELIVERED_STATUSES = frozenset({MessageStatus.DELIVERED, MessageStatus.PARTIAL})
"""Statuses of a message that reached the unit (through all or some of its channels)."""
WAITING_STATUSES = frozenset({MessageStatus.PENDING, MessageStatus.FAILED, MessageStatus.PARTIAL})
"""Statuses of a message still to be sent (to some or all of its channels)."""
_INACTIVE_STATUSES = frozenset({MessageStatus.WITHDRAWN, MessageStatus.SUPERSEDED})


@dataclass(frozen=True)
class MessagePlan:
    """What to do for one digest. ``rendered`` is set for new, correction and replace."""

    action: PlanAction
    unit_code: str
    kind: str
    period_key: str
    content_hash: str
    key: str
    rendered: RenderedMessage | None = None
    supersedes_id: int | None = None
    due_at: datetime | None = None

    @property
    def creates_message(self) -> bool:
        return self.action in (PlanAction.NEW, PlanAction.CORRECTION, PlanAction.REPLACE)


def plan_outbox(
    digests: Iterable[UnitDigest],
    existing: ExistingMessages,
    now: datetime,
    send_at_fn: Callable[[datetime], datetime],
) -> list[MessagePlan]:
    """Plan the outbox for `digests` against the messages already in it.

    Per (unit, kind, period): the *current* message is the latest one neither
    withdrawn nor superseded. Same content as the current one: skip. No current one: new (or a
    correction, if an earlier message with other content reached the unit).
    Different content: a correction superseding the current one if any earlier
    message reached the unit, else a replacement. An empty digest plans nothing,
    except withdrawing a current message that has not reached the unit yet.
    Messages are due at ``send_at_fn(now)`` (the next send window; a pure function,
    called once). Raises
    `ConfidentialContentError` for content that may not reach a unit.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    plans: list[MessagePlan] = []
    seen: set[tuple[str, str, str]] = set()
    due_at: datetime | None = None  # send_at_fn(now), computed once (it is pure)
    for digest in digests:
        check_item_types(digest)
        slot = digest.slot
        if slot in seen:
            raise ValueError(f"two digests for the same unit, kind and period: {slot}")
        seen.add(slot)
        earlier = sorted(
            (ExistingMessage(*row) for row in existing.get(slot, ())),
            key=lambda m: m.message_id,
        )
        active = [m for m in earlier if m.status not in _INACTIVE_STATUSES]
        current = active[-1] if active else None
        reached = any(m.status in DELIVERED_STATUSES for m in earlier)
        if digest.is_empty:
            if current is not None and current.status in WAITING_STATUSES - DELIVERED_STATUSES:
                plans.append(
                    MessagePlan(
                        action=PlanAction.WITHDRAW,
                        unit_code=digest.unit_code,
                        kind=digest.kind,
                        period_key=digest.period_key,
                        content_hash=current.content_hash,
                        key="",
                        supersedes_id=current.message_id,
                    )
                )
            continue
        canonical = canonical_form(digest)
        digest_hash = canonical.content_hash
        key = message_key(digest.unit_code, digest.kind, digest.period_key, digest_hash)
        if current is not None and current.content_hash == digest_hash:
            plans.append(
                MessagePlan(
                    action=PlanAction.SKIP,
                    unit_code=digest.unit_code,
                    kind=digest.kind,
                    period_key=digest.period_key,
                    content_hash=digest_hash,
                    key=key,
                    supersedes_id=None,
                )
            )
            continue
        if any(m.content_hash == digest_hash for m in earlier):
            # The content went back to an earlier version: a new key for the same content.
            key = f"{key}~{len(earlier) + 1}"
        if reached:
            action = PlanAction.CORRECTION
        elif current is not None:
            action = PlanAction.REPLACE
        else:
            action = PlanAction.NEW
        rendered = build_checked_unit_message(
            digest, canonical, correction=action is PlanAction.CORRECTION
        )
        if due_at is None:
            due_at = send_at_fn(now)
        plans.append(
            MessagePlan(
                action=action,
                unit_code=digest.unit_code,
                kind=digest.kind,
                period_key=digest.period_key,
                content_hash=digest_hash,
                key=key,
                rendered=rendered,
                supersedes_id=None if current is None else current.message_id,
                due_at=due_at,
            )
        )
    return plans
