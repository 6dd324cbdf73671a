"""The platform client's errors (all derive from ``PlatformError``).

Only ``PlatformUnavailable`` is worth retrying later (``is_retryable``,
``retry_condition`` for Prefect's ``retry_condition_fn``); how hard the client tries
within one request before it gives up with it is the project's one retry policy,
``tasks.retry.RetryPolicy``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "PlatformAuthError",
    "PlatformError",
    "PlatformProtocolError",
    "PlatformRejected",
    "PlatformUnavailable",
    "is_retryable",
    "retry_condition",
]

JSON = dict[str, Any]


def _restore_error(cls: type[PlatformError], args: tuple[Any, ...], state: JSON) -> PlatformError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


class PlatformError(Exception):
    """Base of every error this client raises.

    ``path`` is the API path, ``query`` the query string as sent (never holds the
    token: the token travels in the ``Authorization`` header only).
    """

    def __init__(self, message: str, *, path: str = "", query: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.query = query

    @property
    def target(self) -> str:
        """``path?query`` as sent, for messages."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only constructor arguments would break the default pickling
        # (Prefect persists and ships exceptions between processes)
        return (_restore_error, (type(self), self.args, dict(self.__dict__)))


class PlatformUnavailable(PlatformError):
    """The platform could not be read (its values are *unavailable*, not missing).

    ``attempts`` is how many HTTP requests were made, ``last_status`` the last
    HTTP status seen (None after a transport error), ``last_exception`` a short
    description of the last transport error (None after an HTTP answer).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        query: str = "",
        attempts: int = 0,
        last_status: int | None = None,
        last_exception: str | None = None,
    ) -> None:
        super().__init__(message, path=path, query=query)
        self.attempts = attempts
        self.last_status = last_status
        self.last_exception = last_exception


class PlatformRejected(PlatformError):
    """The platform refused the request (4xx); retrying the same request cannot help.

    ``status`` is the HTTP status, ``code`` and ``platform_message`` the
    platform's ``error.code`` / ``error.message`` (None when it sent none).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        query: str = "",
        status: int = 400,
        code: str | None = None,
        platform_message: str | None = None,
    ) -> None:
        super().__init__(message, path=path, query=query)
        self.status = status
        self.code = code
        self.platform_message = platform_message


class PlatformAuthError(PlatformRejected):
    """401/403: the token is missing, wrong or not allowed to read this."""


class PlatformProtocolError(PlatformError):
    """The platform answered 2xx but the body is not the documented page object."""


def is_retryable(exc: BaseException) -> bool:
    """True only for :class:`PlatformUnavailable`: the one kind a later retry can cure."""
    return isinstance(exc, PlatformUnavailable)


def retry_condition(task: object, task_run: object, state: object) -> bool:
    """Prefect ``retry_condition_fn``: retry a task only when the platform was unavailable.

    Prefect hands the failed state; its ``data`` is the raised exception (or a
    result record wrapping it).
    """
    data = getattr(state, "data", None)
    data = getattr(data, "result", data)
    if isinstance(data, BaseException):
        return is_retryable(data)
    return False
