"""The simulator's appeals: a handful a month, one of them deliberately late."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from deployments.platform_sim_catalog import (
    CST,
    JSON,
    Profile,
    SimIndicator,
    add_workdays,
    format_time,
    monthly_analysis_day,
    period_key,
)
from deployments.platform_sim_records import Pair, SimMonth

APPEAL_KINDS: Final = ("data_error", "force_majeure", "innovation", "other")


def generate_appeals(
    pairs: Sequence[Pair], profiles: Mapping[str, Profile], year: int, seed: int, late_ids: set[str]
) -> SimMonth:
    """The year's appeals, a handful a month, filed a few working days after the month's
    monthly analysis; the deliberately late one of each month goes into ``late_ids``."""
    rng = random.Random(f"appeals:{seed}:{year}")
    versions: list[JSON] = []
    by_unit: dict[str, list[tuple[SimIndicator, float]]] = {}
    for unit_code, ind, ratio, _, _ in pairs:
        by_unit.setdefault(unit_code, []).append((ind, ratio))
    if not by_unit:
        return SimMonth("appeals", [], [])
    laggards = sorted(u for u in by_unit if profiles[u] != "on_track")
    everyone = sorted(by_unit)
    reasons = {
        "data_error": "平台录入数据有误，实际完成值应为 {claimed}",
        "force_majeure": "受自然灾害影响，项目阶段性停工",
        "innovation": "改革创新试点，探索期指标暂未达到预期",
        "other": "因上级政策调整，指标口径发生变化",
    }
    for month in range(1, 13):
        analysis = monthly_analysis_day(year, month)
        count = rng.randint(3, 6)
        for n in range(1, count + 1):
            pool = laggards if laggards and rng.random() < 0.8 else everyone
            unit_code = rng.choice(pool)
            ind, ratio = rng.choice(by_unit[unit_code])
            kind = rng.choice(APPEAL_KINDS)
            late = n == count
            filed_day = add_workdays(analysis, rng.randint(7, 10) if late else rng.randint(1, 4))
            filed = datetime(
                filed_day.year,
                filed_day.month,
                filed_day.day,
                rng.randint(9, 17),
                rng.randrange(60),
                rng.randrange(60),
                tzinfo=CST,
            )
            claimed: float | int | None = None
            if kind == "data_error":
                value = ind.value_at(month, ratio)
                factor = rng.uniform(0.8, 0.95) if ind.direction == "decrease" else 1.15
                claimed = value + 1 if ind.direction == "milestone" else round(value * factor, 2)
            appeal_id = f"ap-{year:04d}{month:02d}-{n:02d}"
            versions.append(
                {
                    "appeal_id": appeal_id,
                    "unit_code": unit_code,
                    "indicator_code": ind.code,
                    "period": period_key(year, month),
                    "kind": kind,
                    "claimed_value": claimed,
                    "reason": reasons[kind].format(claimed=claimed),
                    "filed_at": format_time(filed),
                }
            )
            if late:
                late_ids.add(appeal_id)
    versions.sort(key=lambda a: (a["filed_at"], a["appeal_id"]))
    keys = [a["filed_at"] + a["appeal_id"] for a in versions]
    return SimMonth("appeals", versions, keys)
