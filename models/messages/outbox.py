"""Planning the outbox: what each digest needs (new, skip, correction, replace, withdraw).

Pure: it compares each digest with the messages already in the outbox for its unit, kind
and period, and renders the ones to send through `render.build_checked_unit_message`,
the one place a unit message is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from .digest import UnitDigest, canonical_form, check_item_types, message_key
from .merging import MERGEABLE_KINDS, merge_digests
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


class WaitingMessage(NamedTuple):
    """A message of a mergeable kind that has not reached its unit (pending or failed),
    with the digest rebuilt from its stored content."""

    message_id: int
    digest: UnitDigest


WaitingMessages = Mapping[tuple[str, str], Sequence[WaitingMessage]]
"""(unit_code, kind) -> its waiting messages (of any period)."""
MergedIn = Mapping[tuple[str, str, str], Sequence[UnitDigest]]
"""(unit_code, kind, period_key) -> digests of the messages merged into the slot's messages."""


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
    MERGED = "merged"
    """Not sent: a newer period's message of the same kind, queued before it reached the
    unit, says what is still to act on (``message.merged_into_id``)."""

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
    MessageStatus.MERGED: "已合并至新一期消息",
}


class AttemptOutcome(StrEnum):
    """How one post to one channel ended (``delivery_attempt.outcome``)."""

    DELIVERED = "delivered"
    FAILED = "failed"


DELIVERED_STATUSES = frozenset({MessageStatus.DELIVERED, MessageStatus.PARTIAL})
"""Statuses of a message that reached the unit (through all or some of its channels)."""
WAITING_STATUSES = frozenset({MessageStatus.PENDING, MessageStatus.FAILED, MessageStatus.PARTIAL})
"""Statuses of a message still to be sent (to some or all of its channels)."""
_INACTIVE_STATUSES = frozenset(
    {MessageStatus.WITHDRAWN, MessageStatus.SUPERSEDED, MessageStatus.MERGED}
)


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
    merges: tuple[int, ...] = ()
    """Waiting messages of other periods this one takes over (status ``merged``); a
    withdrawal with ``content`` records them merged into a withdrawn row (nothing left)."""
    content: str = ""
    """The digest's canonical JSON, kept with the message so it can be merged later."""

    @property
    def creates_message(self) -> bool:
        return self.action in (PlanAction.NEW, PlanAction.CORRECTION, PlanAction.REPLACE)


def plan_outbox(
    digests: Iterable[UnitDigest],
    existing: ExistingMessages,
    now: datetime,
    send_at_fn: Callable[[datetime], datetime],
    *,
    waiting: WaitingMessages | None = None,
    merged_in: MergedIn | None = None,
) -> list[MessagePlan]:
    """Plan the outbox for `digests` against the messages already in it.

    Per (unit, kind, period): the *current* message is the latest one neither
    withdrawn, superseded nor merged. Same content as the current one: skip. No current
    one: new (or a correction, if an earlier message with other content reached the unit).
    Different content: a correction superseding the current one if any earlier
    message reached the unit, else a replacement. An empty digest plans nothing,
    except withdrawing a current message that has not reached the unit yet.

    Catch-up (kinds of `MERGEABLE_KINDS`, see `models.messages.merging`): a digest is
    first merged with what was merged into its slot before (``merged_in``), so a rerun
    rebuilds the same content; a slot whose latest message was merged into a newer one
    with this content is skipped. A new message takes over the unit's ``waiting``
    messages of that kind of other periods (``merges``): its content is
    `merge_digests` of them all, in the slot of the newest period (a newer period's
    waiting message is replaced by the merged one). So a unit has at most one waiting
    message per kind. An empty digest with older ones waiting merges them too: what they
    said that is still open (a pre-deduction not released since) goes out in its slot,
    the rest is stale.

    Messages are due at ``send_at_fn(now)`` (the next send window; a pure function,
    called once). Raises `ConfidentialContentError` for content that may not reach a unit.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    plans: list[MessagePlan] = []
    seen: set[tuple[str, str, str]] = set()
    due: list[datetime] = []  # send_at_fn(now), computed once (it is pure)

    def due_at() -> datetime:
        if not due:
            due.append(send_at_fn(now))
        return due[0]

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
        mergeable = digest.kind in MERGEABLE_KINDS
        if mergeable and merged_in and merged_in.get(slot):
            digest = merge_digests([*merged_in[slot], digest])
        plan = _plan_slot(digest, earlier, mergeable, waiting or {}, due_at)
        if plan is not None:
            plans.append(plan)
    return plans


def _skip(digest: UnitDigest, digest_hash: str, key: str) -> MessagePlan:
    return MessagePlan(
        action=PlanAction.SKIP,
        unit_code=digest.unit_code,
        kind=digest.kind,
        period_key=digest.period_key,
        content_hash=digest_hash,
        key=key,
    )


def _plan_slot(
    digest: UnitDigest,
    earlier: Sequence[ExistingMessage],
    mergeable: bool,
    waiting: WaitingMessages,
    due_at: Callable[[], datetime],
) -> MessagePlan | None:
    active = [m for m in earlier if m.status not in _INACTIVE_STATUSES]
    current = active[-1] if active else None
    reached = any(m.status in DELIVERED_STATUSES for m in earlier)
    others = [
        w
        for w in (waiting.get((digest.unit_code, digest.kind), ()) if mergeable else ())
        if w.digest.period_key != digest.period_key
    ]
    if digest.is_empty and not others:
        if current is not None and current.status in WAITING_STATUSES - DELIVERED_STATUSES:
            return MessagePlan(
                action=PlanAction.WITHDRAW,
                unit_code=digest.unit_code,
                kind=digest.kind,
                period_key=digest.period_key,
                content_hash=current.content_hash,
                key="",
                supersedes_id=current.message_id,
            )
        return None
    digest_hash = canonical_form(digest).content_hash
    key = message_key(digest.unit_code, digest.kind, digest.period_key, digest_hash)
    if current is not None and current.content_hash == digest_hash:
        return _skip(digest, digest_hash, key)
    kept = [m for m in earlier if m.status not in _INACTIVE_STATUSES - {MessageStatus.MERGED}]
    if kept and kept[-1].status == MessageStatus.MERGED and kept[-1].content_hash == digest_hash:
        return _skip(digest, digest_hash, key)  # a newer message already speaks for it
    merges: tuple[int, ...] = ()
    supersedes = None if current is None else current.message_id
    if others:
        combined = merge_digests([*(w.digest for w in others), digest])
        newer = [w for w in others if w.digest.period_key == combined.period_key]
        unreached = WAITING_STATUSES - DELIVERED_STATUSES
        mine = () if current is None or current.status not in unreached else (supersedes,)
        if combined.is_empty:
            # What the older ones said was undone since: nothing to send. They are merged
            # into a withdrawn row of this slot (``content`` set), so a rerun rebuilds the
            # same empty content and sends nothing; this slot's waiting one is withdrawn.
            canonical = canonical_form(combined)
            return MessagePlan(
                action=PlanAction.WITHDRAW,
                unit_code=digest.unit_code,
                kind=digest.kind,
                period_key=digest.period_key,
                content_hash=canonical.content_hash,
                key=message_key(
                    digest.unit_code, digest.kind, digest.period_key, canonical.content_hash
                ),
                supersedes_id=next((i for i in mine if i is not None), None),
                due_at=due_at(),
                merges=tuple(w.message_id for w in others),
                content=canonical.payload,
            )
        if newer:  # a newer period's message waits: it is replaced by the merged one
            target = newer[0]
            target_hash = canonical_form(combined).content_hash
            target_key = message_key(
                combined.unit_code, combined.kind, combined.period_key, target_hash
            )
            if target_hash == canonical_form(target.digest).content_hash:
                return _skip(combined, target_hash, target_key)
            merges = tuple(w.message_id for w in others if w is not target)
            merges += tuple(i for i in mine if i is not None)
            return _created(
                combined,
                PlanAction.REPLACE,
                f"{target_key}~{target.message_id}",
                target.message_id,
                merges,
                due_at,
            )
        merges = tuple(w.message_id for w in others)
        digest = combined
        digest_hash = canonical_form(digest).content_hash
        key = message_key(digest.unit_code, digest.kind, digest.period_key, digest_hash)
        if current is not None and current.content_hash == digest_hash:
            # Already the merged content: the others are merged into the current message.
            return replace(_skip(digest, digest_hash, key), merges=merges, supersedes_id=supersedes)
    if any(m.content_hash == digest_hash for m in earlier):
        # The content went back to an earlier version: a new key for the same content.
        key = f"{key}~{len(earlier) + 1}"
    if reached:
        action = PlanAction.CORRECTION
    elif current is not None:
        action = PlanAction.REPLACE
    else:
        action = PlanAction.NEW
    return _created(digest, action, key, supersedes, merges, due_at)


def _created(
    digest: UnitDigest,
    action: PlanAction,
    key: str,
    supersedes_id: int | None,
    merges: tuple[int, ...],
    due_at: Callable[[], datetime],
) -> MessagePlan:
    canonical = canonical_form(digest)
    rendered = build_checked_unit_message(
        digest, canonical, correction=action is PlanAction.CORRECTION
    )
    return MessagePlan(
        action=action,
        unit_code=digest.unit_code,
        kind=digest.kind,
        period_key=digest.period_key,
        content_hash=canonical.content_hash,
        key=key,
        rendered=rendered,
        supersedes_id=supersedes_id,
        due_at=due_at(),
        merges=merges,
        content=canonical.payload,
    )
