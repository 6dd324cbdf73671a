"""The simulator's progress records: which (unit, indicator) pairs report, and one
month's generated versions (late, missing, draft, resubmitted, withdrawn and bad
records), with the side tables tests check against."""

from __future__ import annotations

import bisect
import functools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from deployments.platform_sim_catalog import (
    JSON,
    Profile,
    SimIndicator,
    format_time,
    next_month,
    period_key,
    unit_interval,
)

UNKNOWN_UNIT: Final = "unknown_unit"
UNKNOWN_INDICATOR: Final = "unknown_indicator"
PERIOD_MISMATCH: Final = "period_mismatch"
NON_NUMERIC_VALUE: Final = "non_numeric_value"
MISSING_FIELD: Final = "missing_field"
BAD_REASONS: Final = (
    UNKNOWN_UNIT,
    UNKNOWN_INDICATOR,
    PERIOD_MISMATCH,
    NON_NUMERIC_VALUE,
    MISSING_FIELD,
)
BAD_PREFIX: Final = "bad-"

# ratio of the expected value a pair reports, by unit profile
_PROFILE_BANDS: Final[dict[Profile, tuple[float, float]]] = {
    "on_track": (0.96, 1.12),
    "lagging": (0.71, 0.93),
    "badly_lagging": (0.35, 0.68),
}
_MONTH_NOISE: Final = 0.01
# per pair and month: no record at all, by profile
_P_MISSING: Final[dict[Profile, float]] = {
    "on_track": 0.01,
    "lagging": 0.03,
    "badly_lagging": 0.08,
}
_P_DRAFT_ONLY: Final = 0.01
_P_RESUBMIT: Final = 0.03
_P_WITHDRAW: Final = 0.005
_MISSING_FIELDS: Final = ("value", "unit_code", "indicator_code", "status", "period")
_NOTES: Final = (None, None, None, None, "按月报送", "数据已复核", "含部分预估数")

_END: Final = "\uffff"  # sorts after any record_id
_TIME_LEN: Final = 25  # len("2026-04-01T08:00:03+08:00")

Pair = tuple[str, SimIndicator, float, float, str]
"""(unit, indicator, achieved ratio, chance of no upload, onboarded_at key)."""


def record_pairs(
    indicators: Sequence[SimIndicator],
    profiles: Mapping[str, Profile],
    onboard_key: Mapping[str, str],
    seed: int,
) -> list[Pair]:
    """The pairs that report, in a fixed order: the catalog's indicator order, units sorted."""
    pairs: list[Pair] = []
    for ind in indicators:
        for code in sorted(set(ind.unit_codes)):
            if code in profiles:
                profile = profiles[code]
                lo, hi = _PROFILE_BANDS[profile]
                ratio = lo + (hi - lo) * unit_interval(seed, code, ind.code)
                pair = (code, ind, ratio, _P_MISSING[profile], onboard_key[code])
                pairs.append(pair)
    return pairs


@dataclass(slots=True)
class SimView:
    """Records visible at one ``now`` in API order; ``keys[i]`` is ``items[i]``'s sort key
    (time + id, or the unit code), for bisecting."""

    keys: list[str]
    items: list[JSON]


@dataclass(slots=True)
class SimMonth:
    """One month's generated progress and the side tables tests check against."""

    period: str
    versions: list[JSON]  # every version, in the order of ``keys``
    keys: list[str]  # updated_at + record_id of each version (times are fixed-width), sorted
    expected_reason: dict[str, str] = field(default_factory=dict)
    missing: frozenset[tuple[str, str]] = frozenset()
    draft_only: frozenset[str] = frozenset()
    resubmitted: frozenset[str] = frozenset()
    withdrawn: frozenset[str] = frozenset()

    def view(self, now_key: str | None) -> SimView:
        """Latest version of each record with ``updated_at`` ≤ ``now_key``."""
        end = len(self.keys) if now_key is None else bisect.bisect_right(self.keys, now_key + _END)
        if end == 0:
            return SimView([], [])
        visible_keys = self.keys[:end]
        latest = {key[_TIME_LEN:]: index for index, key in enumerate(visible_keys)}
        if len(latest) == end:  # no record has two visible versions
            return SimView(visible_keys, self.versions[:end])
        keep = sorted(latest.values())
        return SimView([visible_keys[i] for i in keep], [self.versions[i] for i in keep])


def generate_month(
    pairs: Sequence[Pair], indicators: Sequence[SimIndicator], year: int, seed: int, month: int
) -> SimMonth:
    """One month's records of every pair (see ``deployments.platform_sim_data``)."""
    period = period_key(year, month)
    rng = random.Random(f"progress:{seed}:{year}:{month}")
    ny, nm = next_month(year, month)
    day_prefix = [f"{ny:04d}-{nm:02d}-{d:02d}T" for d in range(0, 10)]
    rid_prefix = f"r{year:04d}{month:02d}-"
    clock = _times_of_day()
    n_clock = len(clock)
    random_ = rng.random
    notes = _NOTES
    n_notes = len(notes)
    expected = {ind.code: ind.expected(month) for ind in indicators}

    versions: list[JSON] = []
    missing: list[tuple[str, str]] = []
    draft_only: list[str] = []
    resubmitted: list[str] = []
    withdrawn: list[str] = []
    for unit_code, ind, ratio, p_missing, key_onboard in pairs:
        fate = random_()
        day_roll = random_()
        if day_roll < 0.85:
            day = 1 + int(day_roll / 0.85 * 4)
        elif day_roll < 0.95:
            day = 5
        else:
            day = 6 + int((day_roll - 0.95) / 0.05 * 4)
        updated = day_prefix[day] + clock[int(random_() * n_clock)]
        if key_onboard and key_onboard > updated:
            continue  # not yet on the platform when this month was due
        if fate < p_missing:
            missing.append((unit_code, ind.code))
            continue
        achieved = ratio + (random_() - 0.5) * 2 * _MONTH_NOISE
        if ind.direction == "increase":
            value: float | int = round(expected[ind.code] * achieved, 2)
        else:
            value = ind.value_at(month, achieved)
        rid = f"{rid_prefix}{unit_code}-{ind.code}"
        rec: JSON = {
            "record_id": rid,
            "unit_code": unit_code,
            "indicator_code": ind.code,
            "period": period,
            "value": value,
            "status": "submitted",
            "reported_at": updated,
            "updated_at": updated,
            "evidence_count": int(random_() * 6),
            "note": notes[int(random_() * n_notes)],
        }
        fate -= p_missing
        if fate < _P_DRAFT_ONLY:
            rec["status"] = "draft"
            del rec["reported_at"]
            draft_only.append(rid)
            versions.append(rec)
        elif fate < _P_DRAFT_ONLY + _P_RESUBMIT:
            first = dict(rec)
            first["value"] = _perturb(value, rng)
            later = dict(rec)
            later["updated_at"] = _later(updated, rng)
            later["note"] = "更正后重新报送"
            versions.append(first)
            versions.append(later)
            resubmitted.append(rid)
        elif fate < _P_DRAFT_ONLY + _P_RESUBMIT + _P_WITHDRAW:
            gone = dict(rec)
            gone["status"] = "withdrawn"
            gone["updated_at"] = _later(updated, rng)
            gone["note"] = "单位撤回"
            versions.append(rec)
            versions.append(gone)
            withdrawn.append(rid)
        else:
            versions.append(rec)

    expected_reason = _bad_records(pairs, year, month, rng, versions, day_prefix)
    keys = [_version_key(r) for r in versions]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    versions = [versions[i] for i in order]
    keys = [keys[i] for i in order]
    return SimMonth(
        period=period,
        versions=versions,
        keys=keys,
        expected_reason=expected_reason,
        missing=frozenset(missing),
        draft_only=frozenset(draft_only),
        resubmitted=frozenset(resubmitted),
        withdrawn=frozenset(withdrawn),
    )


def _bad_records(
    pairs: Sequence[Pair],
    year: int,
    month: int,
    rng: random.Random,
    versions: list[JSON],
    day_prefix: list[str],
) -> dict[str, str]:
    """A few bad records (each kind at least once) appended to ``versions``; id → reason."""
    if not pairs:
        return {}
    period = period_key(year, month)
    py, pm = (year - 1, 12) if month == 1 else (year, month - 1)
    kinds = list(BAD_REASONS) + [rng.choice(BAD_REASONS) for _ in range(rng.randint(0, 3))]
    reasons: dict[str, str] = {}
    for n, kind in enumerate(kinds, start=1):
        unit_code, ind, ratio, _, _ = pairs[rng.randrange(len(pairs))]
        secs = 28_800 + rng.randrange(50_400)
        day = rng.randint(1, 6)
        updated = f"{day_prefix[day]}{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}+08:00"
        rid = f"{BAD_PREFIX}{year:04d}{month:02d}-{n:03d}"
        rec: JSON = {
            "record_id": rid,
            "unit_code": unit_code,
            "indicator_code": ind.code,
            "period": period,
            "value": ind.value_at(month, ratio),
            "status": "submitted",
            "reported_at": updated,
            "updated_at": updated,
            "evidence_count": rng.randrange(3),
            "note": None,
        }
        if kind == UNKNOWN_UNIT:
            rec["unit_code"] = f"ZZ-UNKNOWN-{n:02d}"
        elif kind == UNKNOWN_INDICATOR:
            rec["indicator_code"] = f"IND-UNKNOWN-{n:02d}"
        elif kind == PERIOD_MISMATCH:
            rec["period"] = period_key(py, pm)
        elif kind == NON_NUMERIC_VALUE:
            rec["value"] = rng.choice(
                [f"{rng.randrange(1, 999)},{rng.randrange(10)}", "N/A", "约 80%"]
            )
        else:
            del rec[_MISSING_FIELDS[(month + n) % len(_MISSING_FIELDS)]]
        reasons[rid] = kind
        versions.append(rec)
    return reasons


def _version_key(record: JSON) -> str:
    key: str = record["updated_at"] + record["record_id"]
    return key


@functools.cache
def _times_of_day() -> tuple[str, ...]:
    """Upload clock times 08:00:00–21:59:59 with the +08:00 offset."""
    return tuple(
        f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+08:00" for s in range(28_800, 79_200)
    )


def _perturb(value: float | int, rng: random.Random) -> float | int:
    if isinstance(value, int):
        return max(0, value - 1) if value else 1
    changed = round(value * rng.choice([0.9, 0.95, 1.05, 1.1]), 2)
    return changed if changed != value else round(value + 1, 2)


def _later(updated: str, rng: random.Random) -> str:
    when = datetime.fromisoformat(updated) + timedelta(seconds=rng.randrange(3_600, 72 * 3_600))
    return format_time(when)
