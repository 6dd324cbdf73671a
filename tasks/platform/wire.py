"""The platform's wire format: paths, the page object, reading a body, a query and
``Retry-After`` (pure helpers of ``tasks.platform.client``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import httpx

from tasks.platform.errors import PlatformProtocolError

__all__ = [
    "APPEALS_PATH",
    "MAX_PAGE_LIMIT",
    "PROGRESS_PATH",
    "UNITS_PATH",
    "Page",
]

UNITS_PATH: Final = "/api/v1/units"
PROGRESS_PATH: Final = "/api/v1/progress"
APPEALS_PATH: Final = "/api/v1/appeals"
MAX_PAGE_LIMIT: Final = 1000

_PERIOD_RE: Final = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
MAX_BODY_EXCERPT: Final = 200

JSON = dict[str, Any]
Params = Mapping[str, str | int]


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


UNREADABLE: Final = object()
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

    def loads(content: bytes) -> Any:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            # orjson refuses NaN, Infinity and numbers beyond a double: try leniently
            return _lenient_loads(content)

except ImportError:  # pragma: no cover - depends on the environment

    def loads(content: bytes) -> Any:
        return _lenient_loads(content)


def parse_page(body: Any, *, path: str, query: str, page_no: int) -> Page:
    def fail(why: str) -> PlatformProtocolError:
        return PlatformProtocolError(
            f"platform answered GET {target(path, query)} with a malformed page: {why}",
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


def error_fields(content: bytes) -> tuple[str | None, str | None]:
    """The platform's ``error.code`` and ``error.message``, or a body excerpt."""
    try:
        body = loads(content)
    except ValueError:
        text = content[:MAX_BODY_EXCERPT].decode("utf-8", "replace").strip()
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


def query_string(params: Params) -> str:
    return str(httpx.QueryParams(dict(params)))


def target(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def check_period(period: str) -> str:
    if not _PERIOD_RE.fullmatch(period):
        raise ValueError(f"period must look like 2026-03, got {period!r}")
    return period


def format_time(value: datetime | str, name: str) -> str:
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
