"""Synthetic, reproducible data for the platform simulator.

:func:`generate_year` builds a :class:`SimDataset` for one assessment year from a
catalog of :class:`SimUnit` and :class:`SimIndicator` and a seed. Months are
generated lazily, the first time something asks for them, and cached; each
month depends only on (seed, year, month, catalog), so the same seed always
gives the same records whatever order months are read in.

What a month holds, for each on-platform unit × indicator that applies to it
(``SimIndicator.unit_codes``):

- one cumulative year-to-date value uploaded a few days after the month's end
  (85 % on days 1–4 of the next month, 10 % on the 5th, 5 % later), times in
  +08:00, values rounded to 2 places (milestones: whole numbers);
- the value follows the unit's *profile*: ``on_track`` units report 96–112 % of
  the expected value, ``lagging`` ones 71–93 %, ``badly_lagging`` ones 35–68 %;
- some pairs have no record at all (:attr:`SimMonth.missing`) or only a
  ``draft`` (:attr:`SimMonth.draft_only`); some records are resubmitted (same
  ``record_id``, later ``updated_at``, a changed value:
  :attr:`SimMonth.resubmitted`), some withdrawn (:attr:`SimMonth.withdrawn`);
- a few bad records (``record_id`` starting ``bad-``), each kind at least once;
  :attr:`SimMonth.expected_reason` maps their ids to one of :data:`BAD_REASONS`.

A record is visible once its ``updated_at`` is at or before the dataset's
``now`` (None: everything is visible); a resubmitted record shows its latest
visible version.

Appeals (a handful per month, one of them deliberately late) are filed a few
working days after the month's monthly analysis (the first working day after
the upload deadline, the 5th of the next month moved to the next working day).
Working days come from ``chinese_calendar`` where it knows the year, else
Monday–Friday.
"""

from __future__ import annotations

import bisect
import functools
import random
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final, Literal

__all__ = [
    "APPEAL_KINDS",
    "BAD_REASONS",
    "CST",
    "PROFILES",
    "Direction",
    "Profile",
    "SimDataset",
    "SimIndicator",
    "SimMonth",
    "SimUnit",
    "SimView",
    "format_time",
    "generate_year",
    "parse_time",
    "synthetic_catalog",
]

JSON = dict[str, Any]
Direction = Literal["increase", "decrease", "milestone"]
Profile = Literal["on_track", "lagging", "badly_lagging"]

CST: Final = timezone(timedelta(hours=8))
PROFILES: Final[tuple[Profile, ...]] = ("on_track", "lagging", "badly_lagging")
APPEAL_KINDS: Final = ("data_error", "force_majeure", "innovation", "other")

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


# --------------------------------------------------------------------------- time helpers


def format_time(value: datetime) -> str:
    """RFC 3339 in +08:00 with whole seconds, as the platform writes it (floor)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware, got {value!r}")
    return value.astimezone(CST).replace(microsecond=0).isoformat()


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with an offset (``Z`` allowed); ValueError otherwise."""
    parsed = datetime.fromisoformat(text.strip().replace(" ", "T"))
    if parsed.tzinfo is None:
        raise ValueError(f"time has no UTC offset: {text!r}")
    return parsed


def ceil_time_key(value: datetime) -> str:
    """Smallest platform time string at or after ``value`` (for "at or after" filters)."""
    if value.microsecond:
        value = value.replace(microsecond=0) + timedelta(seconds=1)
    return format_time(value)


def _period(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _unit_interval(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from its parts (not salted per process)."""
    return zlib.crc32("|".join(map(str, parts)).encode()) / 4294967296.0


def _is_workday(day: date) -> bool:
    try:
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day))
    except (ImportError, NotImplementedError):
        return day.weekday() < 5


def _add_workdays(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if _is_workday(day):
            n -= 1
    return day


def monthly_analysis_day(year: int, month: int) -> date:
    """First working day after month ``month``'s upload deadline (rulebook §4)."""
    ny, nm = _next_month(year, month)
    deadline = date(ny, nm, 5)
    while not _is_workday(deadline):
        deadline += timedelta(days=1)
    return _add_workdays(deadline, 1)


# --------------------------------------------------------------------------- catalog


@dataclass(frozen=True, slots=True)
class SimUnit:
    """A unit as the simulator knows it. Off-platform units upload nothing."""

    code: str
    name: str
    on_platform: bool = True
    onboarded_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.onboarded_at is not None and self.onboarded_at.tzinfo is None:
            raise ValueError(f"onboarded_at of {self.code} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class SimIndicator:
    """An indicator and the units it applies to (exactly ``unit_codes``).

    ``plan`` holds 12 cumulative monthly targets (``increase`` only);
    ``milestone_due_months`` the due month of each milestone (``milestone``: the
    target is their number); ``decrease`` needs a ``baseline`` above ``target``.
    """

    code: str
    direction: Direction
    target: float
    baseline: float | None = None
    plan: tuple[float, ...] | None = None
    milestone_due_months: tuple[int, ...] = ()
    unit_codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.direction not in ("increase", "decrease", "milestone"):
            raise ValueError(f"{self.code}: unknown direction {self.direction!r}")
        if self.plan is not None and len(self.plan) != 12:
            raise ValueError(f"{self.code}: plan must have 12 cumulative values")
        if self.direction == "decrease" and self.baseline is None:
            raise ValueError(f"{self.code}: a decrease indicator needs a baseline")
        if self.direction == "milestone" and not self.milestone_due_months:
            raise ValueError(f"{self.code}: a milestone indicator needs milestone_due_months")
        if any(not 1 <= m <= 12 for m in self.milestone_due_months):
            raise ValueError(f"{self.code}: milestone months must be within 1..12")

    def expected(self, month: int) -> float:
        """Expected value by the end of ``month`` (rulebook §3)."""
        if self.direction == "milestone":
            return float(sum(1 for due in self.milestone_due_months if due <= month))
        if self.direction == "decrease":
            baseline = self.baseline if self.baseline is not None else self.target
            return baseline - (baseline - self.target) * month / 12
        if self.plan is not None:
            return self.plan[month - 1]
        return self.target * month / 12

    def value_at(self, month: int, ratio: float) -> float | int:
        """The value a unit reports when it achieved ``ratio`` of what was expected."""
        expected = self.expected(month)
        if self.direction == "milestone":
            total = len(self.milestone_due_months)
            done = int(expected * ratio + 1e-9)
            if ratio > 1.06 and done < total:
                done += 1
            return min(done, total)
        if self.direction == "decrease":
            baseline = self.baseline if self.baseline is not None else self.target
            return round(baseline - (baseline - expected) * ratio, 2)
        return round(expected * ratio, 2)


def synthetic_catalog(
    n_units: int, n_indicators: int, seed: int = 0
) -> tuple[list[SimUnit], list[SimIndicator]]:
    """A catalog for load tests: every indicator applies to every unit.

    100 units × 1000 indicators give 100,000 records a month.
    """
    rng = random.Random(f"catalog:{seed}")
    width = max(3, len(str(n_units)))
    units = [SimUnit(f"U{i:0{width}d}", f"模拟单位{i}") for i in range(1, n_units + 1)]
    codes = tuple(u.code for u in units)
    indicators: list[SimIndicator] = []
    iw = max(4, len(str(n_indicators)))
    for i in range(1, n_indicators + 1):
        code = f"I{i:0{iw}d}"
        roll = rng.random()
        if roll < 0.7:
            target = float(rng.randrange(100, 100_000))
            plan: tuple[float, ...] | None = None
            if rng.random() < 0.3:
                weights = [rng.uniform(0.5, 1.5) for _ in range(12)]
                total = sum(weights)
                acc = 0.0
                steps = []
                for w in weights:
                    acc += w
                    steps.append(round(target * acc / total, 2))
                steps[-1] = target
                plan = tuple(steps)
            indicators.append(SimIndicator(code, "increase", target, plan=plan, unit_codes=codes))
        elif roll < 0.9:
            baseline = round(rng.uniform(40, 90), 2)
            target = round(baseline * rng.uniform(0.7, 0.95), 2)
            indicators.append(
                SimIndicator(code, "decrease", target, baseline=baseline, unit_codes=codes)
            )
        else:
            due = tuple(sorted(rng.sample(range(1, 13), rng.randint(2, 6))))
            indicators.append(
                SimIndicator(
                    code,
                    "milestone",
                    float(len(due)),
                    milestone_due_months=due,
                    unit_codes=codes,
                )
            )
    return units, indicators


# --------------------------------------------------------------------------- generated data


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


class SimDataset:
    """A year of simulated platform data. Build it with :func:`generate_year`.

    Thread-safe: the simulator's server thread and a test may read it at once.
    """

    def __init__(
        self,
        units: Sequence[SimUnit],
        indicators: Sequence[SimIndicator],
        year: int,
        seed: int,
        now: datetime | None = None,
    ) -> None:
        self.units: tuple[SimUnit, ...] = tuple(units)
        self.indicators: tuple[SimIndicator, ...] = tuple(indicators)
        self.year = year
        self.seed = seed
        self.periods: tuple[str, ...] = tuple(_period(year, m) for m in range(1, 13))
        codes = [u.code for u in self.units]
        if len(set(codes)) != len(codes):
            raise ValueError("unit codes must be unique")
        icodes = [i.code for i in self.indicators]
        if len(set(icodes)) != len(icodes):
            raise ValueError("indicator codes must be unique")
        self._unit_by_code = {u.code: u for u in self.units}
        self._onboard_key = {
            u.code: format_time(u.onboarded_at) if u.onboarded_at else "" for u in self.units
        }
        on_platform = sorted(u.code for u in self.units if u.on_platform)
        self.profiles: dict[str, Profile] = _assign_profiles(on_platform, seed)
        # pairs in a fixed order: indicator order of the catalog, units sorted
        # (unit, indicator, achieved ratio, chance of no upload, onboarded_at key)
        self._pairs: list[tuple[str, SimIndicator, float, float, str]] = []
        for ind in self.indicators:
            for code in sorted(set(ind.unit_codes)):
                if code in self.profiles:
                    profile = self.profiles[code]
                    lo, hi = _PROFILE_BANDS[profile]
                    ratio = lo + (hi - lo) * _unit_interval(seed, code, ind.code)
                    pair = (code, ind, ratio, _P_MISSING[profile], self._onboard_key[code])
                    self._pairs.append(pair)
        self._lock = threading.RLock()
        self._months: dict[str, SimMonth] = {}
        self._views: dict[tuple[str, str | None], SimView] = {}
        self._appeals: SimMonth | None = None
        self.late_appeal_ids: set[str] = set()
        self._now_key: str | None = None
        self.now = now

    # ------------------------------------------------------------------ clock

    @property
    def now(self) -> datetime | None:
        return None if self._now_key is None else datetime.fromisoformat(self._now_key)

    @now.setter
    def now(self, value: datetime | None) -> None:
        with self._lock:
            self._now_key = None if value is None else format_time(value)

    @property
    def now_key(self) -> str | None:
        """``now`` as the platform writes times (None: everything visible)."""
        return self._now_key

    def _resolve_now(self, now: datetime | Literal["dataset"] | None) -> str | None:
        if now == "dataset":
            return self._now_key
        return None if now is None else format_time(now)

    # ------------------------------------------------------------------ progress

    @property
    def pair_count(self) -> int:
        """On-platform unit × applicable indicator pairs (records a month, before faults)."""
        return len(self._pairs)

    def month(self, period: str) -> SimMonth:
        """The month's generated data (generated on first use, then cached)."""
        with self._lock:
            cached = self._months.get(period)
            if cached is None:
                if period not in self.periods:
                    cached = SimMonth(period, [], [])
                else:
                    cached = self._generate_month(int(period[5:7]))
                self._months[period] = cached
            return cached

    def progress_view(
        self, period: str, now: datetime | Literal["dataset"] | None = "dataset"
    ) -> SimView:
        """Visible records of ``period`` at ``now`` (default: the dataset's), cached."""
        now_key = self._resolve_now(now)
        with self._lock:
            key = (period, now_key)
            view = self._views.get(key)
            if view is None:
                view = self.month(period).view(now_key)
                if len(self._views) >= 32:
                    self._views.pop(next(iter(self._views)))
                self._views[key] = view
            return view

    def visible_progress(
        self, period: str, now: datetime | Literal["dataset"] | None = "dataset"
    ) -> list[JSON]:
        """What the platform serves for ``period`` at ``now``, in API order."""
        return list(self.progress_view(period, now).items)

    def effective_values(
        self, period: str, now: datetime | Literal["dataset"] | None = "dataset"
    ) -> dict[tuple[str, str], float | int | None]:
        """(unit, indicator) → the value a correct reader derives: the latest visible
        version of each good record; withdrawn → None; drafts and bad records skipped."""
        out: dict[tuple[str, str], float | int | None] = {}
        for rec in self.progress_view(period, now).items:
            if rec["record_id"].startswith(BAD_PREFIX):
                continue
            if rec["status"] == "submitted":
                out[(rec["unit_code"], rec["indicator_code"])] = rec["value"]
            elif rec["status"] == "withdrawn":
                out[(rec["unit_code"], rec["indicator_code"])] = None
        return out

    @property
    def expected_reason(self) -> dict[str, str]:
        """Bad record id → reason, for every month (generates all twelve)."""
        out: dict[str, str] = {}
        for period in self.periods:
            out.update(self.month(period).expected_reason)
        return out

    # ------------------------------------------------------------------ units, appeals

    def unit_view(self, now: datetime | Literal["dataset"] | None = "dataset") -> SimView:
        """On-platform units onboarded by ``now``, sorted by code."""
        now_key = self._resolve_now(now)
        keys: list[str] = []
        items: list[JSON] = []
        for unit in sorted(self.units, key=lambda u: u.code):
            onboard = self._onboard_key[unit.code]
            if not unit.on_platform or (now_key is not None and onboard > now_key):
                continue
            item: JSON = {"unit_code": unit.code, "name": unit.name}
            if onboard:
                item["onboarded_at"] = onboard
            keys.append(unit.code)
            items.append(item)
        return SimView(keys, items)

    def appeal_view(self, now: datetime | Literal["dataset"] | None = "dataset") -> SimView:
        """Appeals filed by ``now``, sorted by (filed_at, appeal_id)."""
        now_key = self._resolve_now(now)
        with self._lock:
            if self._appeals is None:
                self._appeals = self._generate_appeals()
            return self._appeals.view(now_key)

    @property
    def appeals(self) -> list[JSON]:
        """Every appeal of the year, whatever ``now`` is."""
        return list(self.appeal_view(None).items)

    # ------------------------------------------------------------------ generation

    def _generate_month(self, month: int) -> SimMonth:
        year = self.year
        period = _period(year, month)
        rng = random.Random(f"progress:{self.seed}:{year}:{month}")
        ny, nm = _next_month(year, month)
        day_prefix = [f"{ny:04d}-{nm:02d}-{d:02d}T" for d in range(0, 10)]
        rid_prefix = f"r{year:04d}{month:02d}-"
        clock = _times_of_day()
        n_clock = len(clock)
        random_ = rng.random
        notes = _NOTES
        n_notes = len(notes)
        expected = {ind.code: ind.expected(month) for ind in self.indicators}

        versions: list[JSON] = []
        missing: list[tuple[str, str]] = []
        draft_only: list[str] = []
        resubmitted: list[str] = []
        withdrawn: list[str] = []
        for unit_code, ind, ratio, p_missing, key_onboard in self._pairs:
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

        expected_reason = self._bad_records(month, rng, versions, day_prefix)
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
        self, month: int, rng: random.Random, versions: list[JSON], day_prefix: list[str]
    ) -> dict[str, str]:
        if not self._pairs:
            return {}
        year = self.year
        period = _period(year, month)
        py, pm = (year - 1, 12) if month == 1 else (year, month - 1)
        kinds = list(BAD_REASONS) + [rng.choice(BAD_REASONS) for _ in range(rng.randint(0, 3))]
        reasons: dict[str, str] = {}
        for n, kind in enumerate(kinds, start=1):
            unit_code, ind, ratio, _, _ = self._pairs[rng.randrange(len(self._pairs))]
            secs = 28_800 + rng.randrange(50_400)
            day = rng.randint(1, 6)
            updated = (
                f"{day_prefix[day]}{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}+08:00"
            )
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
                rec["period"] = _period(py, pm)
            elif kind == NON_NUMERIC_VALUE:
                rec["value"] = rng.choice(
                    [f"{rng.randrange(1, 999)},{rng.randrange(10)}", "N/A", "约 80%"]
                )
            else:
                del rec[_MISSING_FIELDS[(month + n) % len(_MISSING_FIELDS)]]
            reasons[rid] = kind
            versions.append(rec)
        return reasons

    def _generate_appeals(self) -> SimMonth:
        rng = random.Random(f"appeals:{self.seed}:{self.year}")
        versions: list[JSON] = []
        by_unit: dict[str, list[tuple[SimIndicator, float]]] = {}
        for unit_code, ind, ratio, _, _ in self._pairs:
            by_unit.setdefault(unit_code, []).append((ind, ratio))
        if not by_unit:
            return SimMonth("appeals", [], [])
        laggards = sorted(u for u in by_unit if self.profiles[u] != "on_track")
        everyone = sorted(by_unit)
        reasons = {
            "data_error": "平台录入数据有误，实际完成值应为 {claimed}",
            "force_majeure": "受自然灾害影响，项目阶段性停工",
            "innovation": "改革创新试点，探索期指标暂未达到预期",
            "other": "因上级政策调整，指标口径发生变化",
        }
        for month in range(1, 13):
            analysis = monthly_analysis_day(self.year, month)
            count = rng.randint(3, 6)
            for n in range(1, count + 1):
                pool = laggards if laggards and rng.random() < 0.8 else everyone
                unit_code = rng.choice(pool)
                ind, ratio = rng.choice(by_unit[unit_code])
                kind = rng.choice(APPEAL_KINDS)
                late = n == count
                filed_day = _add_workdays(
                    analysis, rng.randint(7, 10) if late else rng.randint(1, 4)
                )
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
                    claimed = (
                        value + 1 if ind.direction == "milestone" else round(value * factor, 2)
                    )
                appeal_id = f"ap-{self.year:04d}{month:02d}-{n:02d}"
                versions.append(
                    {
                        "appeal_id": appeal_id,
                        "unit_code": unit_code,
                        "indicator_code": ind.code,
                        "period": _period(self.year, month),
                        "kind": kind,
                        "claimed_value": claimed,
                        "reason": reasons[kind].format(claimed=claimed),
                        "filed_at": format_time(filed),
                    }
                )
                if late:
                    self.late_appeal_ids.add(appeal_id)
        versions.sort(key=lambda a: (a["filed_at"], a["appeal_id"]))
        keys = [a["filed_at"] + a["appeal_id"] for a in versions]
        return SimMonth("appeals", versions, keys)


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


def _assign_profiles(codes: Iterable[str], seed: int) -> dict[str, Profile]:
    """Most units on track, about a fifth lagging, a few badly lagging (≥ 1 each from 3 units)."""
    ordered = sorted(codes)
    rng = random.Random(f"profiles:{seed}")
    rng.shuffle(ordered)
    n = len(ordered)
    n_bad = max(1, round(n * 0.08)) if n >= 3 else 0
    n_lag = max(1, round(n * 0.22)) if n >= 3 else 0
    profiles: dict[str, Profile] = {}
    for i, code in enumerate(ordered):
        if i < n_bad:
            profiles[code] = "badly_lagging"
        elif i < n_bad + n_lag:
            profiles[code] = "lagging"
        else:
            profiles[code] = "on_track"
    return profiles


def generate_year(
    units: Sequence[SimUnit],
    indicators: Sequence[SimIndicator],
    year: int,
    seed: int,
    *,
    now: datetime | None = None,
) -> SimDataset:
    """A reproducible simulated year; months are generated lazily on first read.

    ``now`` (timezone-aware) hides records updated after it; None shows everything.
    It can be moved later through :attr:`SimDataset.now`.
    """
    return SimDataset(units, indicators, year, seed, now)
