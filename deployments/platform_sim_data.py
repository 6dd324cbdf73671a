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

The parts: ``platform_sim_catalog`` (units, indicators, times and working days),
``platform_sim_records`` (which pairs report and one month's records),
``platform_sim_appeals`` (the year's appeals); this module holds the dataset that
generates them lazily and serves what is visible, and re-exports their public names.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from deployments.platform_sim_appeals import APPEAL_KINDS, generate_appeals
from deployments.platform_sim_catalog import (
    CST,
    JSON,
    PROFILES,
    Direction,
    Profile,
    SimIndicator,
    SimUnit,
    UnitDrift,
    ceil_time_key,
    format_time,
    monthly_analysis_day,
    parse_time,
    period_key,
    synthetic_catalog,
)
from deployments.platform_sim_records import (
    BAD_PREFIX,
    BAD_REASONS,
    Pair,
    SimMonth,
    SimView,
    generate_month,
    record_pairs,
)

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
    "UnitDrift",
    "ceil_time_key",
    "format_time",
    "generate_year",
    "monthly_analysis_day",
    "parse_time",
    "synthetic_catalog",
]


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
        self.periods: tuple[str, ...] = tuple(period_key(year, m) for m in range(1, 13))
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
        self._pairs: list[Pair] = record_pairs(
            self.indicators, self.profiles, self._onboard_key, seed
        )
        self._lock = threading.RLock()
        self._months: dict[str, SimMonth] = {}
        self._views: dict[tuple[str, str | None], SimView] = {}
        self._appeals: SimMonth | None = None
        self.late_appeal_ids: set[str] = set()
        self._now_key: str | None = None
        self.now = now
        self.unit_drift = UnitDrift()
        """How ``/api/v1/units`` differs from the catalog (default: not at all)."""

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
                    cached = generate_month(
                        self._pairs, self.indicators, self.year, self.seed, int(period[5:7])
                    )
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
        """On-platform units onboarded by ``now``, sorted by code, as ``unit_drift`` has
        them (an extra item's key is its code, or a stand-in sorting last)."""
        now_key = self._resolve_now(now)
        drift = self.unit_drift
        listed: list[tuple[str, JSON]] = []
        for unit in self.units:
            onboard = drift.onboarded.get(unit.code, self._onboard_key[unit.code])
            on = unit.on_platform or unit.code in drift.onboarded
            if not on or unit.code in drift.missing or (now_key is not None and onboard > now_key):
                continue
            item: JSON = {"unit_code": unit.code, "name": unit.name}
            if onboard:
                item["onboarded_at"] = onboard
            listed.append((unit.code, item))
        for n, raw in enumerate(drift.extra):
            code = raw.get("unit_code") if isinstance(raw, dict) else None
            listed.append((f"{code if isinstance(code, str) else chr(0x10FFFF)}\x00{n:06d}", raw))
        listed.sort(key=lambda pair: pair[0])
        return SimView([k for k, _ in listed], [i for _, i in listed])

    def appeal_view(self, now: datetime | Literal["dataset"] | None = "dataset") -> SimView:
        """Appeals filed by ``now``, sorted by (filed_at, appeal_id)."""
        now_key = self._resolve_now(now)
        with self._lock:
            if self._appeals is None:
                self._appeals = generate_appeals(
                    self._pairs, self.profiles, self.year, self.seed, self.late_appeal_ids
                )
            return self._appeals.view(now_key)

    @property
    def appeals(self) -> list[JSON]:
        """Every appeal of the year, whatever ``now`` is."""
        return list(self.appeal_view(None).items)


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
