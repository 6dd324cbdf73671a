"""The recorded run of a (cycle, period): its statuses and when a claim goes stale.

A cycle run is claimed in our database before it books anything (``queued`` by a
parallel backfill, ``running`` once a run holds it) and ends ``completed``, ``partial``
(the platform could not be read in full: nobody was pre-deducted for what is missing)
or ``failed``. A queued or running claim older than `STALE_AFTER` no longer holds
later periods back. A running claim whose holder is gone (its Prefect flow run ended,
its process died) is released at once: `judge_holder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "CLAIM_STATUSES",
    "ENDED_FLOW_RUN_STATES",
    "RERUN_STATUSES",
    "STALE_AFTER",
    "CycleStatus",
    "HolderFacts",
    "HolderVerdict",
    "judge_holder",
]


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


# ------------------------------------------------------------------ holders of a claim

ENDED_FLOW_RUN_STATES = frozenset({"CRASHED", "FAILED", "CANCELLED", "COMPLETED"})
"""Prefect state types of a flow run that holds nothing any more: a ``running`` claim
still naming such a run was left behind (a crash, a kill, a failure whose hook never ran)."""


@dataclass(frozen=True)
class HolderFacts:
    """What is known of the run holding a ``running`` claim, gathered by the shell.

    ``flow_run_state``: the Prefect state type of the holder's flow run (``RUNNING``,
    ``CRASHED``...), ``"MISSING"`` when Prefect does not know the run, ``None`` when it
    could not be asked. ``pid_alive``: whether the holder's process is alive, ``None``
    when it runs on another host (or none was recorded).
    """

    claimed_at: datetime
    flow_run_id: str | None
    flow_run_state: str | None
    host: str | None
    pid: int | None
    pid_alive: bool | None


@dataclass(frozen=True)
class HolderVerdict:
    release: bool
    reason: str


def judge_holder(facts: HolderFacts, now: datetime) -> HolderVerdict:
    """Whether a ``running`` claim is still held, or released at once (then marked failed).

    Released: its flow run ended (Crashed, Failed, Cancelled, or Completed without
    finishing it) or Prefect no longer knows it; its process on this host is gone
    (``kill -9``: Prefect still says Running); or, as a last resort when its process
    cannot be seen (another host), it is older than `STALE_AFTER`. Otherwise the
    holder is alive and the period is busy.
    """
    state = facts.flow_run_state
    run = facts.flow_run_id or "无"
    if state in ENDED_FLOW_RUN_STATES:
        return HolderVerdict(True, f"持有该周期的流程运行 {run} 已结束（{state}），但未登记结果")
    if state == "MISSING":
        return HolderVerdict(True, f"持有该周期的流程运行 {run} 在 Prefect 中不存在")
    if facts.pid_alive is False:
        return HolderVerdict(
            True, f"持有该周期的进程 {facts.pid}（主机 {facts.host}）已不存在，流程运行 {run}"
        )
    if facts.pid_alive:  # seen alive: a long run is not a dead one
        return HolderVerdict(False, f"流程运行 {run}（进程 {facts.pid}）仍在处理该周期")
    if now - facts.claimed_at > STALE_AFTER:
        hours = STALE_AFTER.total_seconds() / 3600
        return HolderVerdict(True, f"持有该周期的运行已超过 {hours:g} 小时未结束，流程运行 {run}")
    return HolderVerdict(False, f"流程运行 {run} 仍在处理该周期")
