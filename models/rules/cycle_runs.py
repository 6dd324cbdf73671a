"""The recorded run of a (cycle, period): its statuses and when a claim goes stale.

A cycle run is claimed in our database before it books anything (``queued`` by a
parallel backfill, ``running`` once a run holds it) and ends ``completed``, ``partial``
(the platform could not be read in full: nobody was pre-deducted for what is missing)
or ``failed``. A queued or running claim older than `STALE_AFTER` no longer holds
later periods back.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

__all__ = ["CLAIM_STATUSES", "RERUN_STATUSES", "STALE_AFTER", "CycleStatus"]


class CycleStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    CycleStatus.QUEUED: "排队中",
    CycleStatus.RUNNING: "运行中",
    CycleStatus.COMPLETED: "已完成",
    CycleStatus.PARTIAL: "部分完成",
    CycleStatus.FAILED: "失败",
}

RERUN_STATUSES = frozenset({CycleStatus.FAILED, CycleStatus.PARTIAL})
"""Ended without doing all of its work: a backfill in ``failed`` mode runs them again."""
CLAIM_STATUSES = frozenset({CycleStatus.QUEUED, CycleStatus.RUNNING})
"""Held by a run (or queued for one)."""

STALE_AFTER = timedelta(hours=6)
"""A queued or running claim older than this no longer holds later periods back."""
