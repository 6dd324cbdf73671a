"""Secrets kept out of the logs while sending, and Apprise's reasons for a failure.

Apprise, the robots and the HTTP libraries log what they send, URLs included. While
a delivery run (or one `send_message`) is sending, a `LogGuard` is installed: it
scrubs their log records of the secrets of every channel being tried, and collects,
per try, what Apprise said about a failure (`Collected.reason`), for the attempt's
error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property

from tasks.delivery.channels import scrub

__all__ = ["Collected", "LogGuard", "guarded_logs"]


class Collected:
    """Apprise's warnings during one try, and the details it logs only at debug level."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.details: list[str] = []

    def reason(self) -> str:
        found = dict.fromkeys(m for m in [*self.messages, *self.details] if m)
        return "; ".join(found)


_DETAIL_PREFIXES = ("Socket Exception", "Response Details")


_APPRISE_LEVEL: list[int] = []
"""While any `LogGuard` is installed: Apprise's own level and effective level before
the first one, then one entry per installed guard (guards may overlap, e.g. two runs)."""
_APPRISE_LEVEL_LOCK = threading.Lock()


class LogGuard:
    """While sending: scrubs the records of Apprise and the HTTP libraries, and collects
    Apprise's reasons for a failure, for every try in flight.

    Installed once for a whole delivery run (installing it per try cost more than many
    a send). Each try registers its channel's secrets and a collector for the thread
    that makes it (Apprise, the robots and the HTTP libraries log in the calling
    thread); a record from any other thread is scrubbed of the secrets of every try in
    flight. Apprise is set to DEBUG while installed, so that failure details
    (``Socket Exception``...) can be kept; its records below ``quiet_below``, the level
    the application itself asked for, are then dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tries: dict[int, tuple[Sequence[str], Collected]] = {}
        self._quiet_below = 0

    def _current(self) -> tuple[Sequence[str], Collected | None]:
        found = self._tries.get(threading.get_ident())
        if found is not None:
            return found
        with self._lock:
            everything = {s for secrets, _ in self._tries.values() for s in secrets}
        return sorted(everything, key=len, reverse=True), None

    def _scrubbed(self, record: logging.LogRecord) -> tuple[str, Collected | None]:
        secrets, collector = self._current()
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: drop its arguments rather than leak
            message = str(record.msg)
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        message = scrub(message, secrets)
        record.msg = message
        record.args = None
        return message, collector

    def install(self) -> None:
        apprise_logger = logging.getLogger("apprise")
        with _APPRISE_LEVEL_LOCK:
            if not _APPRISE_LEVEL:  # the first guard: remember what the application set
                _APPRISE_LEVEL.extend([apprise_logger.level, apprise_logger.getEffectiveLevel()])
            _APPRISE_LEVEL.append(0)  # one entry per installed guard after the two levels
            self._quiet_below = _APPRISE_LEVEL[1]
            apprise_logger.setLevel(logging.DEBUG)
        for name in _SCRUBBED_LOGGERS:
            logging.getLogger(name).addFilter(self._scrub)
        apprise_logger.addFilter(self._apprise)
        apprise_logger.addHandler(self._handler)

    def uninstall(self) -> None:
        apprise_logger = logging.getLogger("apprise")
        apprise_logger.removeHandler(self._handler)
        apprise_logger.removeFilter(self._apprise)
        for name in _SCRUBBED_LOGGERS:
            logging.getLogger(name).removeFilter(self._scrub)
        with _APPRISE_LEVEL_LOCK:
            _APPRISE_LEVEL.pop()
            if len(_APPRISE_LEVEL) == 2:  # the last guard: restore the application's level
                apprise_logger.setLevel(_APPRISE_LEVEL[0])
                _APPRISE_LEVEL.clear()

    def _scrub(self, record: logging.LogRecord) -> bool:
        """Filter of the HTTP libraries' loggers: rewrite the record with secrets masked."""
        self._scrubbed(record)
        return True

    def _apprise(self, record: logging.LogRecord) -> bool:
        """Filter of Apprise's logger: keep failure details, drop what is below the
        application's level (unread: a dropped record is never shown), mask the rest."""
        if record.levelno < self._quiet_below and not str(record.msg).startswith(_DETAIL_PREFIXES):
            return False
        message, collector = self._scrubbed(record)
        if collector is not None and message.startswith(_DETAIL_PREFIXES):
            collector.details.append(" ".join(message.split())[:300])
        return record.levelno >= self._quiet_below

    @cached_property
    def _handler(self) -> logging.Handler:
        guard = self

        class _Warnings(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                _, collector = guard._current()
                if collector is not None:
                    collector.messages.append(record.getMessage())

        return _Warnings(level=logging.WARNING)

    @contextmanager
    def trying(self, secrets: Sequence[str]) -> Iterator[Collected]:
        """One try on one channel, in this thread."""
        collector = Collected()
        ident = threading.get_ident()
        with self._lock:
            self._tries[ident] = (secrets, collector)
        try:
            yield collector
        finally:
            with self._lock:
                del self._tries[ident]


_SCRUBBED_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "urllib3.connectionpool",
    "requests",
)


@contextmanager
def guarded_logs() -> Iterator[LogGuard]:
    """A `LogGuard` installed for the duration of the block."""
    guard = LogGuard()
    guard.install()
    try:
        yield guard
    finally:
        guard.uninstall()
