"""The appeal's life (申诉复查, rulebook section 7): its statuses and the steps between them.

An appeal comes in ``registered`` (or ``refused`` at intake, saying why). The office
rules on a registered appeal: a data-error or other appeal is ``ruled`` at once; a
force-majeure or reform/innovation appeal gets the expert panel's recommendation and
waits for the assessment committee (``awaiting_committee``), where a new recommendation
may replace the open one. The committee approves (``ruled``: the ruling takes effect)
or does not (back to ``registered``: the office rules again). A refused or ruled appeal
takes no further step.

The statuses are stored as their string values (``appeal.status``); every function
here takes the stored string, so a value this module does not know is never an error
on reading. ``expert_review`` and ``expired`` are values the table documents; no step
here enters them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = [
    "APPEAL_STEPS",
    "COMMITTEE_KINDS",
    "AppealStateError",
    "AppealStatus",
    "after_committee",
    "after_ruling",
    "appeal_status_label",
    "intake_status",
    "may_be_ruled",
    "needs_committee",
    "waits_for_committee",
]


class AppealStateError(ValueError):
    """The appeal is not in a status that allows the step (e.g. already ruled)."""


class AppealStatus(StrEnum):
    REGISTERED = "registered"
    REFUSED = "refused"
    EXPERT_REVIEW = "expert_review"
    AWAITING_COMMITTEE = "awaiting_committee"
    RULED = "ruled"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        """What the status means, in Chinese (as the office and the units read it)."""
        return _LABELS[self]


_LABELS = {
    AppealStatus.REGISTERED: "已受理，待裁定",
    AppealStatus.REFUSED: "不予受理",
    AppealStatus.EXPERT_REVIEW: "专家组评审中",
    AppealStatus.AWAITING_COMMITTEE: "待考核委审定",
    AppealStatus.RULED: "已裁定",
    AppealStatus.EXPIRED: "已逾期",
}

COMMITTEE_KINDS = frozenset({"force_majeure", "innovation"})
"""Appeal kinds whose ruling needs the expert panel's recommendation and the committee's
approval (force majeure: 规划政策调整、自然灾害; reform and exploration: 改革创新)."""

_FINAL = frozenset({AppealStatus.REFUSED, AppealStatus.RULED})

APPEAL_STEPS: Mapping[AppealStatus, frozenset[AppealStatus]] = {
    AppealStatus.REGISTERED: frozenset({AppealStatus.RULED, AppealStatus.AWAITING_COMMITTEE}),
    AppealStatus.AWAITING_COMMITTEE: frozenset(
        {AppealStatus.AWAITING_COMMITTEE, AppealStatus.RULED, AppealStatus.REGISTERED}
    ),
    AppealStatus.EXPERT_REVIEW: frozenset({AppealStatus.RULED, AppealStatus.AWAITING_COMMITTEE}),
    AppealStatus.EXPIRED: frozenset({AppealStatus.RULED, AppealStatus.AWAITING_COMMITTEE}),
    AppealStatus.REFUSED: frozenset(),
    AppealStatus.RULED: frozenset(),
}
"""Every status an appeal may move to from each status (intake sets the first one)."""


def appeal_status_label(status: str) -> str:
    """The Chinese label of a stored status (the value itself when it is not one we know)."""
    try:
        return AppealStatus(status).label
    except ValueError:
        return status


def needs_committee(kind: str) -> bool:
    """Force majeure and reform/innovation appeals need the expert panel and the committee."""
    return kind in COMMITTEE_KINDS


def intake_status(refused: bool) -> AppealStatus:
    """The status an appeal is stored with: ``refused`` when intake refused it, else
    ``registered``."""
    return AppealStatus.REFUSED if refused else AppealStatus.REGISTERED


def may_be_ruled(status: str) -> bool:
    """Whether the office may rule on an appeal in ``status`` (not refused, not ruled)."""
    return status not in _FINAL


def waits_for_committee(status: str, kind: str) -> bool:
    """Whether the appeal is a committee case already waiting for the committee (a new
    recommendation then replaces the open one, or the same one is kept)."""
    return needs_committee(kind) and status == AppealStatus.AWAITING_COMMITTEE


def after_ruling(status: str, kind: str) -> AppealStatus:
    """The status after the office rules on an appeal of ``kind``: ``ruled`` (the ruling
    takes effect), or ``awaiting_committee`` for a kind that needs the committee."""
    if not may_be_ruled(status):
        raise AppealStateError(f"an appeal that is {status} cannot be ruled on")
    return AppealStatus.AWAITING_COMMITTEE if needs_committee(kind) else AppealStatus.RULED


def after_committee(status: str, approved: bool) -> AppealStatus:
    """The status after the committee's decision: ``ruled`` when it approves the
    recommendation, back to ``registered`` when it does not."""
    if status != AppealStatus.AWAITING_COMMITTEE:
        raise AppealStateError(f"appeal is {status}, not awaiting the committee")
    return AppealStatus.RULED if approved else AppealStatus.REGISTERED
