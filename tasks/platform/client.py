"""``PlatformClient``: reads units, progress and appeals from the platform, page by page,
with retries (see the package's docstring for what a page may hold and the errors)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import httpx

from tasks.platform.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformProtocolError,
    PlatformRejected,
    PlatformUnavailable,
)
from tasks.platform.wire import (
    APPEALS_PATH,
    JSON,
    MAX_BODY_EXCERPT,
    MAX_PAGE_LIMIT,
    PROGRESS_PATH,
    UNITS_PATH,
    UNREADABLE,
    Page,
    Params,
    check_period,
    error_fields,
    format_time,
    loads,
    parse_page,
    query_string,
    target,
)
from tasks.retry import RetryPolicy, retry_after_seconds

__all__ = ["PlatformClient"]

logger = logging.getLogger("tasks.platform")

_RETRYABLE_STATUS: Final = frozenset({502, 503, 504})
_AUTH_STATUS: Final = frozenset({401, 403})
_REDACTED: Final = "***"


@dataclass(slots=True)
class _Attempts:
    count: int = 0
    last_status: int | None = None
    last_exception: str | None = None
    started: float = 0.0
    waits: list[float] = field(default_factory=list)


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
        params: dict[str, str | int] = {"period": check_period(period)}
        if updated_since is not None:
            params["updated_since"] = format_time(updated_since, "updated_since")
        async for page in self.iter_pages(PROGRESS_PATH, params):
            yield page

    async def iter_appeals(self, since: datetime | str | None = None) -> AsyncIterator[Page]:
        """Pages of appeals ordered by (filed_at, appeal_id); with ``since`` only
        those filed at or after it."""
        params: dict[str, str | int] = {}
        if since is not None:
            params["since"] = format_time(since, "since")
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
        unique = list(dict.fromkeys(check_period(p) for p in periods))

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
                    query=query_string(query),
                )
            seen.add(page.next_cursor)
            cursor = page.next_cursor

    async def get_page(self, path: str, params: Params, *, page_no: int = 1) -> Page:
        """One GET with retries; the body checked to be a page object.

        ``params`` go to the platform as given (``limit`` included), so a caller
        can see what the platform says about any query.
        """
        body = await self._get_json(path, params)
        page = parse_page(body, path=path, query=query_string(params), page_no=page_no)
        logger.debug("Platform GET %s page %d: %d items", path, page_no, len(page.items))
        return page

    # ------------------------------------------------------------------ internals

    async def _get_json(self, path: str, params: Params) -> Any:
        query = query_string(params)
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
                    if decoded is not UNREADABLE:
                        return decoded
                    # it looked like JSON but did not parse: cut short on the way, retry
                    delay = policy.backoff(state.count, self._rng)
                    what = (
                        f"HTTP {status} with a body that is not valid JSON "
                        f"({len(content)} bytes, cut short?)"
                    )
                elif status == 429 or status in _RETRYABLE_STATUS:
                    # Retry-After comes with 429 (contract); a 503 may send one too
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                    if retry_after is None:
                        delay = policy.backoff(state.count, self._rng)
                    else:
                        delay = min(retry_after, policy.max_retry_after)
                    what = "429 Too Many Requests" if status == 429 else f"HTTP {status}"
                elif 300 <= status < 400:
                    raise PlatformProtocolError(
                        f"platform answered GET {target(path, query)} with HTTP {status} "
                        f"(redirect to {response.headers.get('Location', '?')!r}); "
                        "check the platform base URL",
                        path=path,
                        query=query,
                    )
                elif status >= 500:
                    raise self._unavailable(
                        f"platform failed with HTTP {status} on GET {target(path, query)}"
                        f"{self._error_suffix(content)}",
                        state,
                        path,
                        query,
                    )
                else:
                    raise self._rejected(status, content, path, query)

            if state.count >= policy.max_attempts:
                raise self._unavailable(
                    f"platform unavailable: GET {target(path, query)} failed {state.count} "
                    f"times (max_attempts={policy.max_attempts}), last: {what}",
                    state,
                    path,
                    query,
                )
            elapsed = self._clock() - state.started
            if elapsed + delay > policy.total_budget:
                raise self._unavailable(
                    f"platform unavailable: GET {target(path, query)} failed {state.count} "
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
        """The parsed body; ``UNREADABLE`` for a JSON-looking body that does not parse."""
        try:
            return loads(content)
        except ValueError:
            if content.lstrip()[:1] in (b"{", b"["):
                return UNREADABLE
            excerpt = self._redact(content[:MAX_BODY_EXCERPT].decode("utf-8", "replace"))
            raise PlatformProtocolError(
                f"platform answered GET {target(path, query)} with a body that is not JSON: "
                f"{excerpt!r}",
                path=path,
                query=query,
            ) from None

    def _rejected(self, status: int, content: bytes, path: str, query: str) -> PlatformRejected:
        code, message = error_fields(content)
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
            f"platform {what} with HTTP {status} ({detail}) on GET {target(path, query)}",
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
        code, message = error_fields(content)
        detail = ": ".join(x for x in (code, message) if x)
        return f" ({self._redact(detail)})" if detail else ""

    def _redact(self, text: str) -> str:
        return text.replace(self._token, _REDACTED) if self._token else text
