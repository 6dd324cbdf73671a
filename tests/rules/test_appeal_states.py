"""The appeal's life (rulebook section 7): which step may follow which."""

from __future__ import annotations

import pytest

from models.rules import (
    APPEAL_STEPS,
    AppealStateError,
    AppealStatus,
    after_committee,
    after_ruling,
    appeal_status_label,
    intake_status,
    may_be_ruled,
    needs_committee,
    waits_for_committee,
)

DIRECT_KINDS = ("data_error", "other")
COMMITTEE_KINDS = ("force_majeure", "innovation")


def test_an_appeal_comes_in_registered_or_refused_at_intake() -> None:
    assert intake_status(refused=False) is AppealStatus.REGISTERED
    assert intake_status(refused=True) is AppealStatus.REFUSED


@pytest.mark.parametrize("kind", DIRECT_KINDS)
def test_a_data_error_or_other_appeal_is_ruled_at_once(kind: str) -> None:
    assert not needs_committee(kind)
    assert after_ruling("registered", kind) is AppealStatus.RULED


@pytest.mark.parametrize("kind", COMMITTEE_KINDS)
def test_a_force_majeure_or_innovation_appeal_waits_for_the_committee(kind: str) -> None:
    assert needs_committee(kind)
    assert after_ruling("registered", kind) is AppealStatus.AWAITING_COMMITTEE


def test_a_new_recommendation_may_replace_the_one_waiting_for_the_committee() -> None:
    assert waits_for_committee("awaiting_committee", "force_majeure")
    assert after_ruling("awaiting_committee", "force_majeure") is AppealStatus.AWAITING_COMMITTEE


def test_a_registered_appeal_is_not_yet_waiting_for_the_committee() -> None:
    assert not waits_for_committee("registered", "innovation")


@pytest.mark.parametrize("status", ["refused", "ruled"])
def test_a_refused_or_ruled_appeal_cannot_be_ruled_on_again(status: str) -> None:
    assert not may_be_ruled(status)
    with pytest.raises(AppealStateError, match=status):
        after_ruling(status, "data_error")


def test_the_committees_approval_makes_the_ruling_take_effect() -> None:
    assert after_committee("awaiting_committee", approved=True) is AppealStatus.RULED


def test_the_committees_refusal_sends_the_appeal_back_to_the_office() -> None:
    assert after_committee("awaiting_committee", approved=False) is AppealStatus.REGISTERED


@pytest.mark.parametrize("status", ["registered", "refused", "ruled"])
def test_only_an_appeal_awaiting_the_committee_takes_its_decision(status: str) -> None:
    with pytest.raises(AppealStateError, match="not awaiting the committee"):
        after_committee(status, approved=True)


def test_every_step_the_rules_take_is_one_the_table_allows() -> None:
    kinds = DIRECT_KINDS + COMMITTEE_KINDS
    for status in AppealStatus:
        taken = {after_ruling(status, kind) for kind in kinds if may_be_ruled(status)}
        if status is AppealStatus.AWAITING_COMMITTEE:
            taken |= {after_committee(status, approved) for approved in (True, False)}
        assert taken == APPEAL_STEPS[status], status


def test_the_statuses_keep_the_values_stored_in_the_database() -> None:
    assert [s.value for s in AppealStatus] == [
        "registered",
        "refused",
        "expert_review",
        "awaiting_committee",
        "ruled",
        "expired",
    ]


def test_each_status_reads_in_chinese_and_an_unknown_one_reads_as_stored() -> None:
    assert AppealStatus.AWAITING_COMMITTEE.label == "待考核委审定"
    assert appeal_status_label("refused") == "不予受理"
    assert appeal_status_label("withdrawn") == "withdrawn"
