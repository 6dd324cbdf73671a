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

Modules: ``errors`` (the exception tree, ``is_retryable``, ``retry_condition``,
``RetryPolicy``), ``wire`` (the paths, ``Page``, reading a body, a query and a
``Retry-After``) and ``client`` (``PlatformClient``). Import from ``tasks.platform``.
"""

from tasks.platform.client import PlatformClient
from tasks.platform.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformProtocolError,
    PlatformRejected,
    PlatformUnavailable,
    is_retryable,
    retry_condition,
)
from tasks.platform.wire import APPEALS_PATH, MAX_PAGE_LIMIT, PROGRESS_PATH, UNITS_PATH, Page
from tasks.retry import RetryPolicy

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
