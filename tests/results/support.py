"""Helpers of the results tests: artifacts read back from Prefect, plan-leak scans."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
)
from sqlalchemy import Engine

from models.messages import find_confidential_marker
from tests.fixtures.databases import rows

UNIT_CODE = re.compile(r"(?<![A-Za-z0-9])([CD]\d{2})(?![0-9])")
PLAN_WORDS = (
    "seed",
    "sample",
    "candidate",
    "red_count",
    "抽中",
    "抽取顺序",
    "随机种子",
    "季度红色指标数",
)


def run_tree(run_id: UUID) -> list[UUID]:
    """A flow run and all its subflow runs (any depth)."""
    with get_client(sync_client=True) as client:
        found = [run_id]
        frontier = [run_id]
        while frontier:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=frontier)
                )
            )
            frontier = [c.id for c in children if c.id not in found]
            found += frontier
    return found


def artifacts_of(run_id: UUID) -> list[tuple[str | None, str]]:
    """(key, data as text) of every artifact created by the run or its subflows."""
    ids = run_tree(run_id)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
        )
    return [(a.key, f"{a.description or ''}\n{a.data}") for a in artifacts]


@dataclass(frozen=True)
class Plan:
    """A stored plan and the names and codes it would give away."""

    seed: int
    sample: tuple[str, ...]
    candidates: dict[str, int]
    names: dict[str, str]

    def units(self) -> set[str]:
        return set(self.candidates) | set(self.sample)


def stored_plan(engine: Engine, period: str) -> Plan:
    import json

    ((seed, sample, candidates),) = rows(
        engine,
        "SELECT seed, sample, candidates FROM onsite_check_plan WHERE period = :p",
        p=period,
    )
    sample = json.loads(sample) if isinstance(sample, str) else sample
    candidates = json.loads(candidates) if isinstance(candidates, str) else candidates
    names = dict(rows(engine, "SELECT code, name FROM unit"))
    return Plan(
        int(seed),
        tuple(sample),
        {c["unit_code"]: int(c["red_count"]) for c in candidates},
        names,
    )


def leaks(text: str, plan: Plan, allowed_units: Iterable[str] = ()) -> list[str]:
    """What in ``text`` gives away part of ``plan`` (the units allowed excepted)."""
    allowed = set(allowed_units)
    found: list[str] = []
    if str(plan.seed) in text:
        found.append(f"seed {plan.seed}")
    marker = find_confidential_marker(text)
    if marker is not None:
        found.append(f"marker {marker}")
    for word in PLAN_WORDS:
        if word in text:
            found.append(f"word {word}")
    for code in sorted(plan.units() - allowed):
        if code in UNIT_CODE.findall(text):
            found.append(f"unit code {code}")
        if plan.names[code] in text:
            found.append(f"unit name {plan.names[code]}")
    return found


def unit_codes_in(text: str) -> set[str]:
    return set(UNIT_CODE.findall(text))
