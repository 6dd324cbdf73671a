"""The simulator's catalog (units, indicators, a synthetic catalog for load tests) and
its clock: platform time strings in +08:00, months, and working days (from
``chinese_calendar`` where it knows the year, else Monday–Friday)."""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final, Literal

JSON = dict[str, Any]
Direction = Literal["increase", "decrease", "milestone"]
Profile = Literal["on_track", "lagging", "badly_lagging"]

CST: Final = timezone(timedelta(hours=8))
PROFILES: Final[tuple[Profile, ...]] = ("on_track", "lagging", "badly_lagging")


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


def period_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def unit_interval(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) from its parts (not salted per process)."""
    return zlib.crc32("|".join(map(str, parts)).encode()) / 4294967296.0


def is_workday(day: date) -> bool:
    try:
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day))
    except (ImportError, NotImplementedError):
        return day.weekday() < 5


def add_workdays(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if is_workday(day):
            n -= 1
    return day


def monthly_analysis_day(year: int, month: int) -> date:
    """First working day after month ``month``'s upload deadline (rulebook §4)."""
    ny, nm = next_month(year, month)
    deadline = date(ny, nm, 5)
    while not is_workday(deadline):
        deadline += timedelta(days=1)
    return add_workdays(deadline, 1)


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
class UnitDrift:
    """How the platform's unit list differs from the simulator's catalog (the catalog
    meets the platform, issue 14): ``missing`` codes are not listed, ``onboarded`` lists
    a unit (even one off the platform) with another ``onboarded_at`` string, and
    ``extra`` raw items (possibly hostile) are served as well. Records are unchanged."""

    extra: tuple[JSON, ...] = ()
    missing: frozenset[str] = frozenset()
    onboarded: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UnitDrift:
        """From ``{"extra": [...], "missing": [...], "onboarded": {code: time}}``."""
        extra, missing = data.get("extra", []), data.get("missing", [])
        onboarded = data.get("onboarded", {})
        if not isinstance(extra, list) or not isinstance(missing, list):
            raise ValueError("extra and missing must be lists")
        if not isinstance(onboarded, dict) or not all(
            isinstance(v, str) for v in onboarded.values()
        ):
            raise ValueError("onboarded must map unit codes to time strings")
        return cls(tuple(extra), frozenset(str(c) for c in missing), dict(onboarded))

    def to_json(self) -> JSON:
        return {
            "extra": list(self.extra),
            "missing": sorted(self.missing),
            "onboarded": dict(self.onboarded),
        }


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
