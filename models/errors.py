"""The project's errors a person can correct, each with a one-line Chinese message.

One tree for every layer: the pure core, the tasks and the command line raise these
(or subclasses, e.g. ``ShareError``), and ``deployments.cli_errors`` maps the tree to
exit codes in one place. Anything outside the tree is an internal error.

- ``OfficeError``: a request the office (or an operator) must correct; exit code 2.
  - ``InputError``: something written wrongly (a period, a date, a year, an option);
    the message says how to write it.
  - ``NotFoundError``: a code, id, cycle or file that does not exist; the message names
    it and, where short, what does.
  - ``CycleRefused``: a cycle run that may not run now (not yet due, another run holds
    the period); exit code 3, so scripts can tell it from a mistake.
"""

from __future__ import annotations

__all__ = ["CycleRefused", "InputError", "NotFoundError", "OfficeError"]


class OfficeError(Exception):
    """A request a person must correct; ``str(error)`` is one line of Chinese."""


class InputError(OfficeError, ValueError):
    """Something written wrongly; the message says how to write it."""


class NotFoundError(OfficeError, LookupError):
    """A code, id, cycle or file that does not exist."""


class CycleRefused(OfficeError):
    """A cycle run that may not run now (not yet due, or the period is held by another run)."""
