"""Loading the working-day calendar with the office's override file."""

from __future__ import annotations

from pathlib import Path

import yaml

from models.rules.workdays import WorkCalendar


def load_work_calendar(overrides: Path | None) -> WorkCalendar:
    """The national calendar plus the office's overrides (a YAML file), if any."""
    if overrides is None:
        return WorkCalendar()
    data = yaml.safe_load(overrides.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{overrides}: the top level must be a mapping (holidays, workdays)")
    try:
        return WorkCalendar.from_mapping(data)
    except ValueError as exc:
        raise ValueError(f"{overrides}: {exc}") from None
