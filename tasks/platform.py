"""Client for the assessment information platform's read API (综合考核信息平台).

This module is the one narrow I/O seam between the assessment system and the
platform described in ``platform-api.yaml``. It knows about HTTP, paging,
retries and the shape of a page; it does not validate records (that happens
later, record by record, in ``models.plans.records`` and
``models.plans.appeal_intake``).

What a page may hold (issue 17): a page is the documented object
``{"items": [...], "next_cursor": ...}``; its items are passed on *as they are*,
so an item that is not an object, or holds ``NaN``/``Infinity`` (read as non-finite
numbers, which the record checks refuse) or a number too large for a double (read
as infinity), is set aside on its own later and the rest of the page is kept. A
body that starts like JSON but cannot be parsed (cut short, corrupted) cannot be
split into items: it is retried like a 503 and, if it stays unreadable, ends in
:class:`PlatformUnavailable` (the month is marked unavailable, so nobody is
pre-deducted for what could not be read). A body that is not JSON at all (an HTML
error page) or not the page object is a :class:`PlatformProtocolError` at once.

Usage::

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        client = PlatformClient(http, token=token)
        async for page in client.iter_progress("2026-03"):
            handle(page.items)

The ``httpx.AsyncClient`` is injected, so tests swap its transport
(``httpx.MockTransport``) and the real logic still runs; ``sleep``, ``rng`` and
``clock`` are injectable so retry tests do not wait.

Errors (all derive from :class:`PlatformError`)::

    PlatformError                 base; also raised for client-side misuse of httpx
    ├── PlatformUnavailable       the platform could not be read: a transient failure
    │                             (429, 502/503/504, timeout, connection error, a page
    │                             cut short) persisted past the retry policy, or
    │                             another 5xx answer
    ├── PlatformRejected          the platform refused the request (400, 404, other 4xx);
    │   └── PlatformAuthError     401/403: missing, wrong or insufficient token
    └── PlatformProtocolError     a 200 answer whose body is not the documented page object

Only :class:`PlatformUnavailable` is worth retrying later (:func:`is_retryable`,
:func:`retry_condition` for Prefect's ``retry_condition_fn``). The bearer token
never appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import httpx

__all__ = [
    "APPEALS_PATH",
    "MAX_PAGE_LIMIT",
    "PROGRESS_PATH",
    "UNITS_PATH",
    "Page",
    "PlatformAuthError",
    "PlatformClient",
    "PlatformError",
    "PlatformProtocolError",
    "PlatformRejected",
    "PlatformUnavailable",
    "RetryPolicy",
    "is_retryable",
    "retry_condition",
]

logger = logging.getLogger(__name__)

UNITS_PATH: Final = "/api/v1/units"
PROGRESS_PATH: Final = "/api/v1/progress"
APPEALS_PATH: Final = "/api/v1/appeals"
MAX_PAGE_LIMIT: Final = 1000

_PERIOD_RE: Final = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_RETRYABLE_STATUS: Final = frozenset({502, 503, 504})
_AUTH_STATUS: Final = frozenset({401, 403})
_REDACTED: Final = "***"
_MAX_BODY_EXCERPT: Final = 200

JSON = dict[str, Any]
Params = Mapping[str, str | int]


# --------------------------------------------------------------------------- errors


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


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard the client tries before it gives up with :class:`PlatformUnavailable`.

    - ``max_attempts``: HTTP requests per page, first one included.
    - backoff before attempt n+1: uniform in ``[0, min(max_delay, base_delay × 2^(n-1))]``
      ("full jitter").
    - 429 waits ``Retry-After`` seconds, capped at ``max_retry_after`` (backoff when absent).
    - ``total_budget``: seconds from the first attempt; a wait that would end past
      it is not started.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    total_budget: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after, self.total_budget) < 0:
            raise ValueError("delays and budget must not be negative")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter delay after the ``attempt``-th failed attempt (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return rng.uniform(0.0, ceiling)


# --------------------------------------------------------------------------- pages


@dataclass(frozen=True, slots=True)
class Page:
    """One page as the platform sent it: raw items, unvalidated (an item may even be
    something other than an object; the record checks set such items aside)."""

    items: list[Any]
    next_cursor: str | None
    page_no: int

    @property
    def is_last(self) -> bool:
        return self.next_cursor is None


@dataclass(slots=True)
class _Attempts:
    count: int = 0
    last_status: int | None = None
    last_exception: str | None = None
    started: float = 0.0
    waits: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------- client


class PlatformClient:
    """Reads units, progress and appeals from the platform, page by page.

    ``http`` must carry the platform's ``base_url`` (and its timeouts); the
    client adds the bearer token to each request and never mutates ``http``.
    ``max_concurrency`` bounds the HTTP requests in flight through this client.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token: str,
        page_limit: int = MAX_PAGE_LIMIT,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token:
            raise ValueError("a platform token is required")
        if not 1 <= page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"page_limit must be within 1..{MAX_PAGE_LIMIT}, got {page_limit}")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._http = http
        self._token = token
        self.page_limit = page_limit
        self.max_concurrency = max_concurrency
        self.retry = retry if retry is not None else RetryPolicy()
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._semaphore = asyncio.Semaphore(max_concurrency)

    def __repr__(self) -> str:
        return (
            f"PlatformClient(base_url={str(self._http.base_url)!r}, token={_REDACTED!r}, "
            f"page_limit={self.page_limit}, max_concurrency={self.max_concurrency})"
        )

    __str__ = __repr__

    # ------------------------------------------------------------------ public API

    async def iter_units(self) -> AsyncIterator[Page]:
        """Pages of units registered on the platform."""
        async for page in self.iter_pages(UNITS_PATH, {}):
            yield page

    async def iter_progress(
        self, period: str, updated_since: datetime | str | None = None
    ) -> AsyncIterator[Page]:
        """Pages of progress records for ``period`` (``YYYY-MM``), ordered by
        (updated_at, record_id); with ``updated_since`` only those changed at or after it."""
        params: dict[str, str | int] = {"period": _check_period(period)}
        if updated_since is not None:
            params["updated_since"] = _format_time(updated_since, "updated_since")
        async for page in self.iter_pages(PROGRESS_PATH, params):
            yield page

    async def iter_appeals(self, since: datetime | str | None = None) -> AsyncIterator[Page]:
        """Pages of appeals ordered by (filed_at, appeal_id); with ``since`` only
        those filed at or after it."""
        params: dict[str, str | int] = {}
        if since is not None:
            params["since"] = _format_time(since, "since")
        async for page in self.iter_pages(APPEALS_PATH, params):
            yield page

    async def fetch_units(self) -> list[JSON]:
        return [item async for page in self.iter_units() for item in page.items]

    async def fetch_progress(
        self, period: str, updated_since: datetime | str | None = None
    ) -> list[JSON]:
        return [
            item async for page in self.iter_progress(period, updated_since) for item in page.items
        ]

    async def fetch_appeals(self, since: datetime | str | None = None) -> list[JSON]:
        return [item async for page in self.iter_appeals(since) for item in page.items]

    async def fetch_progress_pages_concurrently(
        self, periods: Iterable[str], updated_since: datetime | str | None = None
    ) -> dict[str, list[Page]]:
        """All pages of several periods, periods read side by side.

        Pages of one period are sequential (each needs the previous cursor);
        at most ``max_concurrency`` requests are in flight. The first error
        cancels the other periods and is raised as it is (no exception group).
        """
        unique = list(dict.fromkeys(_check_period(p) for p in periods))

        async def one(period: str) -> list[Page]:
            return [page async for page in self.iter_progress(period, updated_since)]

        tasks = [asyncio.create_task(one(period)) for period in unique]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return dict(zip(unique, results, strict=True))

    async def iter_pages(self, path: str, params: Params) -> AsyncIterator[Page]:
        """Follow ``next_cursor`` from the first page of ``path`` until it is null."""
        cursor: str | None = None
        page_no = 0
        seen: set[str] = set()
        while True:
            page_no += 1
            query: dict[str, str | int] = {**params, "limit": self.page_limit}
            if cursor is not None:
                query["cursor"] = cursor
            page = await self.get_page(path, query, page_no=page_no)
            yield page
            if page.next_cursor is None:
                return
            if page.next_cursor in seen:
                raise PlatformProtocolError(
                    f"platform returned a cursor it had already returned (page {page_no}); "
                    "refusing to loop",
                    path=path,
                    query=_query_string(query),
                )
            seen.add(page.next_cursor)
            cursor = page.next_cursor

    async def get_page(self, path: str, params: Params, *, page_no: int = 1) -> Page:
        """One GET with retries; the body checked to be a page object.

        ``params`` go to the platform as given (``limit`` included), so a caller
        can see what the platform says about any query.
        """
        body = await self._get_json(path, params)
        page = _parse_page(body, path=path, query=_query_string(params), page_no=page_no)
        logger.debug("Platform GET %s page %d: %d items", path, page_no, len(page.items))
        return page

    # ------------------------------------------------------------------ internals

    async def _get_json(self, path: str, params: Params) -> Any:
        query = _query_string(params)
        state = _Attempts(started=self._clock())
        policy = self.retry
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        while True:
            state.count += 1
            delay: float
            try:
                async with self._semaphore:
                    response = await self._http.get(path, params=params, headers=headers)
                    content = await response.aread()
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                state.last_status = None
                state.last_exception = self._redact(f"{type(exc).__name__}: {exc}".rstrip(": "))
                delay = policy.backoff(state.count, self._rng)
                what = state.last_exception
            except httpx.HTTPError as exc:
                raise PlatformError(
                    self._redact(f"cannot send GET {path}: {type(exc).__name__}: {exc}"),
                    path=path,
                    query=query,
                ) from None
            else:
                status = response.status_code
                state.last_status = status
                state.last_exception = None
                if 200 <= status < 300:
                    decoded = self._decode(content, path=path, query=query)
                    if decoded is not _UNREADABLE:
                        return decoded
                    # it looked like JSON but did not parse: cut short on the way, retry
                    delay = policy.backoff(state.count, self._rng)
                    what = (
                        f"HTTP {status} with a body that is not valid JSON "
                        f"({len(content)} bytes, cut short?)"
                    )
                elif status == 429 or status in _RETRYABLE_STATUS:
                    # Retry-After comes with 429 (contract); a 503 may send one too
                    retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                    if retry_after is None:
                        delay = policy.backoff(state.count, self._rng)
                    else:
                        delay = min(retry_after, policy.max_retry_after)
                    what = "429 Too Many Requests" if status == 429 else f"HTTP {status}"
                elif 300 <= status < 400:
                    raise PlatformProtocolError(
                        f"platform answered GET {_target(path, query)} with HTTP {status} "
                        f"(redirect to {response.headers.get('Location', '?')!r}); "
                        "check the platform base URL",
                        path=path,
                        query=query,
                    )
                elif status >= 500:
                    raise self._unavailable(
                        f"platform failed with HTTP {status} on GET {_target(path, query)}"
                        f"{self._error_suffix(content)}",
                        state,
                        path,
                        query,
                    )
                else:
                    raise self._rejected(status, content, path, query)

            if state.count >= policy.max_attempts:
                raise self._unavailable(
                    f"platform unavailable: GET {_target(path, query)} failed {state.count} "
                    f"times (max_attempts={policy.max_attempts}), last: {what}",
                    state,
                    path,
                    query,
                )
            elapsed = self._clock() - state.started
            if elapsed + delay > policy.total_budget:
                raise self._unavailable(
                    f"platform unavailable: GET {_target(path, query)} failed {state.count} "
                    f"times and waiting {delay:.1f}s more would exceed the retry budget of "
                    f"{policy.total_budget:.0f}s, last: {what}",
                    state,
                    path,
                    query,
                )
            logger.warning(
                "Platform GET %s failed (%s), attempt %d of %d; retrying in %.2fs",
                path,
                what,
                state.count,
                policy.max_attempts,
                delay,
            )
            state.waits.append(delay)
            await self._sleep(delay)

    def _decode(self, content: bytes, *, path: str, query: str) -> Any:
        """The parsed body; ``_UNREADABLE`` for a JSON-looking body that does not parse."""
        try:
            return _loads(content)
        except ValueError:
            if content.lstrip()[:1] in (b"{", b"["):
                return _UNREADABLE
            excerpt = self._redact(content[:_MAX_BODY_EXCERPT].decode("utf-8", "replace"))
            raise PlatformProtocolError(
                f"platform answered GET {_target(path, query)} with a body that is not JSON: "
                f"{excerpt!r}",
                path=path,
                query=query,
            ) from None

    def _rejected(self, status: int, content: bytes, path: str, query: str) -> PlatformRejected:
        code, message = _error_fields(content)
        code = self._redact(code) if code is not None else None
        message = self._redact(message) if message is not None else None
        if status in _AUTH_STATUS:
            cls: type[PlatformRejected] = PlatformAuthError
            what = "refused the token" if status == 401 else "denied access"
        else:
            cls = PlatformRejected
            what = "rejected the request"
        detail = ": ".join(x for x in (code, message) if x) or "no error details"
        err = cls(
            f"platform {what} with HTTP {status} ({detail}) on GET {_target(path, query)}",
            path=path,
            query=query,
            status=status,
            code=code,
            platform_message=message,
        )
        return err

    def _unavailable(
        self, message: str, state: _Attempts, path: str, query: str
    ) -> PlatformUnavailable:
        err = PlatformUnavailable(
            message,
            path=path,
            query=query,
            attempts=state.count,
            last_status=state.last_status,
            last_exception=state.last_exception,
        )
        return err

    def _error_suffix(self, content: bytes) -> str:
        code, message = _error_fields(content)
        detail = ": ".join(x for x in (code, message) if x)
        return f" ({self._redact(detail)})" if detail else ""

    def _redact(self, text: str) -> str:
        return text.replace(self._token, _REDACTED) if self._token else text


# --------------------------------------------------------------------------- helpers

_UNREADABLE: Final = object()
"""What ``_decode`` returns for a body that starts like JSON but does not parse."""


def _lenient_int(text: str) -> int | float:
    # a longer integer would trip Python's int/str digit limit: no value is that long
    return int(text) if len(text) <= 40 else float(text)


def _lenient_loads(content: bytes) -> Any:
    """The standard parser, which also reads ``NaN``/``Infinity`` (as non-finite
    floats) and numbers beyond a double (as infinity), so one such item does not
    make the page unreadable; the record checks then set the item aside."""
    try:
        return json.loads(content, parse_int=_lenient_int)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ValueError(str(exc)) from None


try:  # orjson is faster for large pages; plain json works the same
    import orjson

    def _loads(content: bytes) -> Any:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            # orjson refuses NaN, Infinity and numbers beyond a double: try leniently
            return _lenient_loads(content)

except ImportError:  # pragma: no cover - depends on the environment

    def _loads(content: bytes) -> Any:
        return _lenient_loads(content)


def _parse_page(body: Any, *, path: str, query: str, page_no: int) -> Page:
    def fail(why: str) -> PlatformProtocolError:
        return PlatformProtocolError(
            f"platform answered GET {_target(path, query)} with a malformed page: {why}",
            path=path,
            query=query,
        )

    if not isinstance(body, dict):
        raise fail(f"expected a JSON object, got {type(body).__name__}")
    if "items" not in body or "next_cursor" not in body:
        missing = [k for k in ("items", "next_cursor") if k not in body]
        raise fail(f"missing {', '.join(missing)}")
    items = body["items"]
    cursor = body["next_cursor"]
    if not isinstance(items, list):
        raise fail(f"'items' is {type(items).__name__}, not an array")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        raise fail("'next_cursor' is neither null nor a non-empty string")
    return Page(items=items, next_cursor=cursor, page_no=page_no)


def _error_fields(content: bytes) -> tuple[str | None, str | None]:
    """The platform's ``error.code`` and ``error.message``, or a body excerpt."""
    try:
        body = _loads(content)
    except ValueError:
        text = content[:_MAX_BODY_EXCERPT].decode("utf-8", "replace").strip()
        return None, text or None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = error.get("code")
        message = error.get("message")
        return (
            str(code) if code is not None else None,
            str(message) if message is not None else None,
        )
    return None, None


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds per the contract, HTTP-date tolerated."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _query_string(params: Params) -> str:
    return str(httpx.QueryParams(dict(params)))


def _target(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def _check_period(period: str) -> str:
    if not _PERIOD_RE.fullmatch(period):
        raise ValueError(f"period must look like 2026-03, got {period!r}")
    return period


def _format_time(value: datetime | str, name: str) -> str:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} must be an RFC 3339 time, got {value!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{name} must carry a UTC offset, got {value!r}")
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.isoformat()
