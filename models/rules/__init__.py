"""The assessment office's rules as pure functions over plain data.

No database, network, scheduler or clock here: callers pass `now`, the work
calendar and the year's rules in. Amounts are `decimal.Decimal`; points are
rounded to 2 decimals half up.

What is where:

- `yearrules`: `YearRules`, every number of the rulebook as per-year configuration
  (`DEFAULT_RULES`, `to_dict` / `from_dict`), `to_decimal`, `round_points`.
- `periods`: `Period` (2026-03, 2026-Q1, 2026-H1, 2026), `parse_period`,
  `period_range`, `period_containing`, `Cycle`, `assessed_period`, `cycles_below`
  (the runs of the cycle below a higher run builds on), and
  `cycle_month_for_run` / `period_for_run` (which month/period a scheduled run is for);
  `to_shanghai` and `local_text` (every time people read: Beijing time, `2026-10-09 10:00`).
- `workdays`: `WorkCalendar` (national calendar incl. 调休 + office overrides,
  fallback of Monday–Friday less the statutory holidays computed by
  `statutory_holidays`, with `CalendarWarning`), the timetable (upload deadline,
  upload cut-off, reminder day, cycle run times, `year_timetable`) and the message
  window; `deadline_cutoff` (the last instant a value counts as uploaded on time).
- `completion`: `Direction`, `IndicatorSpec`, `expected`, `completion` and its caps.
- `levels`: `Level`, `MISSING` / `UNAVAILABLE`, `assess` → `Assessment`.
- `ledger`: `plan_entry` / `plan_entries`: the append-only ledger's next entries.
- `scores`: `running_score`, `final_deduction`, `settle`, `rank_competition`, `grades`.
- `negative_list`: negative-list history per unit, coefficient of variation,
  low discrimination.
- `rulings`: `Ruling`, `apply_ruling`, `ruled_amount`, `appeal_deadline`,
  `is_appeal_in_time`.
- `appeals`: the appeal's life: `AppealStatus` (with its Chinese label), which step
  may follow which (`APPEAL_STEPS`, `after_ruling`, `after_committee`), the kinds
  that need the committee (`needs_committee`).
"""

from .appeals import (
    APPEAL_STEPS,
    COMMITTEE_KINDS,
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
from .completion import (
    Direction,
    IndicatorSpec,
    IndicatorSpecError,
    completion,
    display_completion,
    expected,
    scoring_completion,
)
from .cycle_runs import STALE_AFTER, CycleStatus
from .ledger import LedgerChange, LedgerChangeKind, plan_entries, plan_entry
from .levels import (
    MISSING,
    UNAVAILABLE,
    Absent,
    Assessment,
    Level,
    Observation,
    assess,
    assessor,
    level_for_completion,
)
from .negative_list import (
    NegativeListMonth,
    coefficient_of_variation,
    low_discrimination,
    low_discrimination_for_year,
    negative_list_by_unit,
    negative_list_history,
)
from .periods import (
    SHANGHAI,
    Cycle,
    Period,
    PeriodError,
    PeriodKind,
    as_month,
    as_period,
    assessed_period,
    cycles_below,
    local_text,
    parse_period,
    period_containing,
    period_range,
    to_shanghai,
)
from .rulings import (
    Ruling,
    RulingError,
    RulingKind,
    RulingOutcome,
    appeal_deadline,
    apply_ruling,
    is_appeal_in_time,
    ruled_amount,
)
from .scores import (
    Grade,
    final_deduction,
    grades,
    rank_competition,
    running_score,
    settle,
    top_share_count,
)
from .workdays import (
    CalendarFallbackWarning,
    CalendarOverrideError,
    CalendarOverrides,
    CalendarWarning,
    TimetableEntry,
    WorkCalendar,
    cycle_month_for_run,
    deadline_cutoff,
    overrides_from_mapping,
    period_for_run,
)
from .yearrules import (
    DEFAULT_RULES,
    Number,
    YearRules,
    YearRulesError,
    round_points,
    to_decimal,
)

__all__ = [
    "APPEAL_STEPS",
    "COMMITTEE_KINDS",
    "DEFAULT_RULES",
    "MISSING",
    "SHANGHAI",
    "STALE_AFTER",
    "UNAVAILABLE",
    "Absent",
    "AppealStateError",
    "AppealStatus",
    "Assessment",
    "CalendarFallbackWarning",
    "CalendarOverrideError",
    "CalendarOverrides",
    "CalendarWarning",
    "Cycle",
    "CycleStatus",
    "Direction",
    "Grade",
    "IndicatorSpec",
    "IndicatorSpecError",
    "LedgerChange",
    "LedgerChangeKind",
    "Level",
    "NegativeListMonth",
    "Number",
    "Observation",
    "Period",
    "PeriodError",
    "PeriodKind",
    "Ruling",
    "RulingError",
    "RulingKind",
    "RulingOutcome",
    "TimetableEntry",
    "WorkCalendar",
    "YearRules",
    "YearRulesError",
    "after_committee",
    "after_ruling",
    "appeal_deadline",
    "appeal_status_label",
    "apply_ruling",
    "as_month",
    "as_period",
    "assess",
    "assessed_period",
    "assessor",
    "coefficient_of_variation",
    "completion",
    "cycle_month_for_run",
    "cycles_below",
    "deadline_cutoff",
    "display_completion",
    "expected",
    "final_deduction",
    "grades",
    "intake_status",
    "is_appeal_in_time",
    "level_for_completion",
    "local_text",
    "low_discrimination",
    "low_discrimination_for_year",
    "may_be_ruled",
    "needs_committee",
    "negative_list_by_unit",
    "negative_list_history",
    "overrides_from_mapping",
    "parse_period",
    "period_containing",
    "period_for_run",
    "period_range",
    "plan_entries",
    "plan_entry",
    "rank_competition",
    "round_points",
    "ruled_amount",
    "running_score",
    "scoring_completion",
    "settle",
    "to_decimal",
    "to_shanghai",
    "top_share_count",
    "waits_for_committee",
]
