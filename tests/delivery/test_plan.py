"""Planning the outbox: new, skip, correction, replace, withdraw — nothing sent twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.messages import (
    ExistingMessages,
    PlanAction,
    UnitDigest,
    content_hash,
    message_key,
    plan_outbox,
)
from tests.delivery.support import PERIOD, monthly_digest, reminder_digest

NOW = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def next_window(at: datetime) -> datetime:
    return at + timedelta(minutes=5)


def plan_one(digest: UnitDigest, existing: ExistingMessages | None = None) -> PlanAction | None:
    plans = plan_outbox([digest], existing or {}, NOW, next_window)
    return plans[0].action if plans else None


def test_a_first_digest_is_planned_as_a_new_message_due_at_the_next_window() -> None:
    (plan,) = plan_outbox([monthly_digest()], {}, NOW, next_window)
    assert plan.action is PlanAction.NEW
    assert plan.due_at == NOW + timedelta(minutes=5)
    assert plan.key == message_key("DEPT-FGW", "monthly_analysis", PERIOD, plan.content_hash)
    assert plan.rendered is not None and plan.rendered.for_unit
    assert plan.supersedes_id is None


def test_an_empty_digest_plans_nothing() -> None:
    assert (
        plan_outbox([UnitDigest("D", "单位", "monthly_analysis", PERIOD)], {}, NOW, next_window)
        == []
    )


@pytest.mark.parametrize("status", ["pending", "failed", "partial", "delivered", "undeliverable"])
def test_the_same_content_already_in_the_outbox_is_skipped(status: str) -> None:
    digest = monthly_digest()
    existing = {digest.slot: [(content_hash(digest), status, 7)]}
    assert plan_one(digest, existing) is PlanAction.SKIP


def test_changed_content_after_delivery_is_a_correction_superseding_the_last_message() -> None:
    before, after = monthly_digest(actual="80"), monthly_digest(actual="85")
    existing = {before.slot: [(content_hash(before), "delivered", 7)]}
    (plan,) = plan_outbox([after], existing, NOW, next_window)
    assert plan.action is PlanAction.CORRECTION
    assert plan.supersedes_id == 7
    assert plan.rendered is not None and "更正" in plan.rendered.subject


def test_changed_content_before_delivery_replaces_the_waiting_message_without_a_correction() -> (
    None
):
    before, after = monthly_digest(actual="80"), monthly_digest(actual="85")
    existing = {before.slot: [(content_hash(before), "pending", 7)]}
    (plan,) = plan_outbox([after], existing, NOW, next_window)
    assert plan.action is PlanAction.REPLACE
    assert plan.supersedes_id == 7
    assert plan.rendered is not None and "更正" not in plan.rendered.subject


def test_a_change_after_an_earlier_delivery_is_a_correction_even_over_a_waiting_one() -> None:
    a, b, c = (monthly_digest(actual=v) for v in ("80", "82", "85"))
    existing = {a.slot: [(content_hash(a), "delivered", 1), (content_hash(b), "failed", 2)]}
    (plan,) = plan_outbox([c], existing, NOW, next_window)
    assert (plan.action, plan.supersedes_id) == (PlanAction.CORRECTION, 2)


def test_content_going_back_to_an_earlier_version_gets_a_fresh_key() -> None:
    a, b = monthly_digest(actual="80"), monthly_digest(actual="85")
    existing = {a.slot: [(content_hash(a), "delivered", 1), (content_hash(b), "delivered", 2)]}
    (plan,) = plan_outbox([a], existing, NOW, next_window)
    assert plan.action is PlanAction.CORRECTION
    assert plan.key != message_key(a.unit_code, a.kind, a.period_key, content_hash(a))
    again = {a.slot: [*existing[a.slot], (content_hash(a), "delivered", 3)]}
    assert plan_one(a, again) is PlanAction.SKIP


def test_nothing_left_to_act_on_withdraws_a_waiting_message_but_not_a_delivered_one() -> None:
    digest = monthly_digest()
    empty = UnitDigest(digest.unit_code, digest.unit_name, digest.kind, digest.period_key)
    waiting = {digest.slot: [(content_hash(digest), "pending", 4)]}
    (plan,) = plan_outbox([empty], waiting, NOW, next_window)
    assert (plan.action, plan.supersedes_id) == (PlanAction.WITHDRAW, 4)
    delivered = {digest.slot: [(content_hash(digest), "delivered", 4)]}
    assert plan_outbox([empty], delivered, NOW, next_window) == []


def test_a_withdrawn_message_does_not_count_as_the_current_one() -> None:
    digest = monthly_digest()
    existing = {digest.slot: [(content_hash(digest), "withdrawn", 4)]}
    (plan,) = plan_outbox([digest], existing, NOW, next_window)
    assert plan.action is PlanAction.NEW
    assert plan.key.endswith("~2")


def test_one_plan_per_unit_and_only_for_units_with_something_to_act_on() -> None:
    digests = [
        monthly_digest("DEPT-FGW", "发改委"),
        monthly_digest("DEPT-TJJ", "统计局"),
        UnitDigest("DEPT-JYJ", "教育局", "monthly_analysis", PERIOD),
        reminder_digest("CTY-LS", "临山县"),
    ]
    plans = plan_outbox(digests, {}, NOW, next_window)
    assert [(p.unit_code, p.kind) for p in plans] == [
        ("DEPT-FGW", "monthly_analysis"),
        ("DEPT-TJJ", "monthly_analysis"),
        ("CTY-LS", "pre_deadline_reminder"),
    ]


def test_two_digests_for_the_same_unit_kind_and_period_are_refused() -> None:
    with pytest.raises(ValueError, match="same unit"):
        plan_outbox([monthly_digest(), monthly_digest(actual="90")], {}, NOW, next_window)


def test_planning_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_outbox([monthly_digest()], {}, NOW.replace(tzinfo=None), next_window)
