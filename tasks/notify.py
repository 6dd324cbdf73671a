"""Notifications: the outbox in the database and its delivery through Apprise.

- Queue: `queue_digests` = `load_existing` + `models.messages.plan_outbox` +
  `save_outbox`. A message is keyed by unit, kind, period and content hash, so
  the same content is never queued twice; changed content is queued as a
  correction (or replaces a message that has not reached the unit yet).
- Deliver: `deliver_due` sends what `load_due_messages` returns, one
  `send_message` per message: every channel of the unit, each try recorded as
  a `DeliveryAttempt` (channel redacted, error scrubbed of secrets), retried
  with backoff inside the round and again in a later round (`DeliveryPolicy`).
  Up to `DEFAULT_CONCURRENCY` messages are sent at once on a thread pool
  (messages sharing a rate-limited robot one after another); due messages are
  read `_LOAD_BATCH` at a time by the calling thread.
- Exactly once: each worker claims a message just before sending it (a lease,
  `tasks.outbox_lease`), commits each channel's answer before it posts or waits
  again, and writes the status and releases the message in one transaction, on a
  connection of its own. Overlapping runs and workers never send a message both;
  after a crash only a post whose answer was lost is sent again, once its lease
  expired, marked ``resend``.
  A unit none of whose channels accepted a message for
  `unreachable_after_rounds` rounds gets its message marked ``undeliverable``
  and exactly one office alert (audience ``office``, kind ``unit_unreachable``)
  delivered to the operations channels.
- Robots: DingTalk, WeCom and Feishu robots may answer HTTP 200 with an error
  code in the body. Apprise 2.0.1's plugins look only at the HTTP status and
  call that a success, so those schemas are sent by small subclasses of the
  Apprise plugins (`CheckedDingTalk`, `CheckedWeComBot`, `CheckedFeishu`) that
  read the body and fail on a non-zero ``errcode`` / ``code``.
- Rate limits per channel (`RateLimiter`; DingTalk and WeCom robots 20 a
  minute), with injectable clock and sleep.
- Secrets: channel URLs are shown only through `redact_channel`; errors and the
  log records of Apprise and the HTTP libraries are scrubbed while sending.
- The office's view: `outbox_snapshot` (rendered by `tasks.outbox_tasks`).

Message statuses: pending (waiting for its window), partial (reached the unit
through some channels, others retried), failed (no channel yet, retried),
delivered, undeliverable (given up, office alerted), superseded (replaced
before it was delivered), withdrawn (nothing left to act on).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any, ClassVar, NamedTuple, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
import httpx
from apprise.plugins import N_MGR, url_to_dict
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.wecombot import NotifyWeComBot
from sqlalchemy import Connection, Engine, and_, func, insert, or_, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from models.messages import (
    ConfidentialContentError,
    MessagePlan,
    PlanAction,
    UnitDigest,
    build_office_alert,
    message_key,
    plan_outbox,
)
from models.rules.periods import SHANGHAI
from models.rules.workdays import WorkCalendar
from models.rules.yearrules import DEFAULT_RULES, YearRules
from models.tables import DeliveryAttempt, Message, Unit, columns_of, table_of
from tasks.outbox_lease import (
    DEFAULT_LEASE,
    LEASE_MARGIN,
    WAITING_STATUSES,
    LeaseSeen,
    claim,
    insert_attempts,
    new_holder,
    release,
    settle,
    wall_clock,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_POLICY",
    "DEFAULT_RATE_LIMITS",
    "ChannelResult",
    "CheckedDingTalk",
    "CheckedFeishu",
    "CheckedWeComBot",
    "DeliveryPolicy",
    "DeliveryRun",
    "Notifier",
    "NotifierFactory",
    "OutboxRow",
    "OutboxSnapshot",
    "OutgoingMessage",
    "RateLimit",
    "RateLimiter",
    "SendResult",
    "Sendable",
    "body_format_for",
    "channel_schema",
    "channel_secrets",
    "deliver_due",
    "load_due_messages",
    "load_existing",
    "make_notifier",
    "outbox_snapshot",
    "queue_digests",
    "redact_channel",
    "requeue_message",
    "robot_response_error",
    "save_outbox",
    "scrub",
    "send_message",
    "send_window",
]

log = logging.getLogger(__name__)

OFFICE = "office"
UNIT_UNREACHABLE = "unit_unreachable"

# ------------------------------------------------------------------------ channels

MARKDOWN_SCHEMAS = frozenset({"dingtalk", "wecombot", "feishu", "json", "jsons"})
HTML_SCHEMAS = frozenset({"mailto", "mailtos"})
SERVER_HOST_SCHEMAS = frozenset(
    {"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos", "http", "https"}
)
"""Schemas whose host is a server name (shown redacted); for the others the host is a token."""
_HARMLESS_QUERY_KEYS = frozenset(
    {"mode", "format", "overflow", "verify", "method", "retry", "wait", "cto", "rto", "tz"}
)
_SECRET_PARAM = re.compile(
    r"(?i)\b(access_token|token|key|secret|sign|password|pass|apikey|api_key)=[^&\s\"']+"
)


def channel_schema(url: str) -> str:
    """The Apprise schema of a channel URL (``dingtalk``, ``mailto``, ``json``...)."""
    return url.split("://", 1)[0].strip().lower() if "://" in url else ""


def body_format_for(url: str) -> str:
    """markdown for robots and JSON webhooks, html for email, text otherwise."""
    schema = channel_schema(url)
    if schema in MARKDOWN_SCHEMAS:
        return "markdown"
    if schema in HTML_SCHEMAS:
        return "html"
    return "text"


def _netloc_host(netloc: str) -> str:
    host = netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]


@lru_cache(maxsize=8192)
def redact_channel(url: str) -> str:
    """A channel as it may be shown, stored and logged: schema, server host, a fingerprint.

    Tokens, users, passwords, paths and query strings are dropped; for robots
    (DingTalk, WeCom, Feishu...) the host itself is the token and is dropped too.
    The fingerprint (8 hex digits of the URL's sha256) tells channels apart.
    """
    fingerprint = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    schema = channel_schema(url) or "unknown"
    try:
        parts = urlsplit(url)
        host = _netloc_host(parts.netloc)
        port = parts.port
    except ValueError:
        return f"{schema}://*** #{fingerprint}"
    if schema in SERVER_HOST_SCHEMAS and host:
        where = host if port is None else f"{host}:{port}"
        return f"{schema}://{where}/*** #{fingerprint}"
    return f"{schema}://*** #{fingerprint}"


def _looks_secret(piece: str, minimum: int = 8) -> bool:
    """Long path or query pieces (tokens), or shorter ones with digits; not words like 'send'."""
    return len(piece) >= minimum or (len(piece) >= 5 and any(c.isdigit() for c in piece))


def channel_secrets(url: str) -> list[str]:
    """The parts of a channel URL that must never be shown (longest first).

    The URL itself, its password (a signing secret for robots), a robot's
    host (its token), and path segments and query values that look like
    tokens (8+ characters, or 5+ with a digit).
    """
    return list(_channel_secrets(url))


@lru_cache(maxsize=8192)
def _channel_secrets(url: str) -> tuple[str, ...]:
    found: set[str] = {url, unquote(url)}
    try:
        parts = urlsplit(url)
    except ValueError:
        return tuple(sorted(found, key=len, reverse=True))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        found.add(userinfo)
        user, _, password = userinfo.partition(":")
        if password:
            found.update({password, unquote(password)})
        elif channel_schema(url) not in SERVER_HOST_SCHEMAS:
            found.update({user, unquote(user)})  # e.g. a DingTalk signing secret
    host = _netloc_host(netloc)
    if host and channel_schema(url) not in SERVER_HOST_SCHEMAS:
        found.update({host, unquote(host)})
    for segment in parts.path.split("/"):
        if _looks_secret(segment):
            found.update({segment, unquote(segment)})
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if name.lower() not in _HARMLESS_QUERY_KEYS and _looks_secret(value, minimum=6):
            found.add(value)
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (and any ``token=...``-like parameter) replaced by ***."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)


class _Collect:
    """Apprise's warnings during one try, and the details it logs only at debug level."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.details: list[str] = []

    def reason(self) -> str:
        found = dict.fromkeys(m for m in [*self.messages, *self.details] if m)
        return "; ".join(found)


_DETAIL_PREFIXES = ("Socket Exception", "Response Details")


_APPRISE_LEVEL: list[int] = []
"""While any `_LogGuard` is installed: Apprise's own level and effective level before
the first one, then one entry per installed guard (guards may overlap, e.g. two runs)."""
_APPRISE_LEVEL_LOCK = threading.Lock()


class _LogGuard:
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
        self._tries: dict[int, tuple[Sequence[str], _Collect]] = {}
        self._quiet_below = 0

    def _current(self) -> tuple[Sequence[str], _Collect | None]:
        found = self._tries.get(threading.get_ident())
        if found is not None:
            return found
        with self._lock:
            everything = {s for secrets, _ in self._tries.values() for s in secrets}
        return sorted(everything, key=len, reverse=True), None

    def _scrubbed(self, record: logging.LogRecord) -> tuple[str, _Collect | None]:
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
    def trying(self, secrets: Sequence[str]) -> Iterator[_Collect]:
        """One try on one channel, in this thread."""
        collector = _Collect()
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
def _guarded_logs() -> Iterator[_LogGuard]:
    """A `_LogGuard` installed for the duration of the block."""
    guard = _LogGuard()
    guard.install()
    try:
        yield guard
    finally:
        guard.uninstall()


# -------------------------------------------------------------------------- robots


def robot_response_error(response: httpx.Response) -> str | None:
    """Why a robot's answer is a failure, or None when it accepted the message.

    DingTalk and WeCom answer ``{"errcode": 0, "errmsg": "ok"}``; Feishu
    ``{"code": 0, "msg": "success"}``. Any other code is a failure even with HTTP 200.
    """
    if response.status_code < 200 or response.status_code >= 300:
        return f"HTTP {response.status_code}"
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for code_field, message_field in (
        ("errcode", "errmsg"),
        ("code", "msg"),
        ("StatusCode", "StatusMessage"),
    ):
        code = data.get(code_field)
        if code not in (None, 0, "0"):
            detail = str(data.get(message_field, "")).strip()[:300]
            return f"robot answered HTTP {response.status_code} with {code_field}={code}" + (
                f": {detail}" if detail else ""
            )
    return None


class _CheckedRobot:
    """Posts the payload itself (httpx) and checks the robot's answer."""

    service_name: ClassVar[str]
    default_endpoint: ClassVar[str]
    logger: logging.Logger
    endpoint: str | None = None

    def _endpoint_url(self) -> str:
        raise NotImplementedError

    def _post(self, payload: dict[str, Any], params: dict[str, str] | None = None) -> bool:
        url = httpx.URL(self._endpoint_url())
        if params:
            url = url.copy_merge_params(params)
        try:
            with httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0)) as client:
                response = client.post(
                    url, json=payload, headers={"User-Agent": "assessment-calendar"}
                )
        except httpx.HTTPError as exc:
            self.logger.warning(
                "Failed to send %s notification: %s: %s", self.service_name, type(exc).__name__, exc
            )
            return False
        error = robot_response_error(response)
        if error is not None:
            self.logger.warning("Failed to send %s notification: %s", self.service_name, error)
            return False
        self.logger.info("Sent %s notification.", self.service_name)
        return True


# Apprise's plugin classes are partly typed; the subclasses below override ``send`` with
# Apprise's calling convention, so they derive from untyped aliases.
_DingTalkBase: Any = NotifyDingTalk
_WeComBotBase: Any = NotifyWeComBot
_FeishuBase: Any = NotifyFeishu
_url_to_dict: Any = url_to_dict


def _is_markdown(body_format: object) -> bool:
    return str(getattr(body_format, "value", body_format)) == "markdown"


class CheckedDingTalk(_CheckedRobot, _DingTalkBase):  # type: ignore[misc]
    """Apprise's DingTalk plugin, but an answer with ``errcode != 0`` is a failure."""

    service_name = "DingTalk"
    default_endpoint = "https://oapi.dingtalk.com/robot/send?access_token={token}"
    request_rate_per_sec = 0

    def _endpoint_url(self) -> str:
        return (self.endpoint or self.default_endpoint).format(token=self.token)

    def send(self, body: str, title: str = "", body_format: object = None, **kwargs: Any) -> bool:
        payload: dict[str, Any] = {"at": {"atMobiles": self.targets, "isAtAll": False}}
        if _is_markdown(body_format):
            heading = " ".join(title.split()).lstrip("#- ")
            payload["msgtype"] = "markdown"
            payload["markdown"] = {
                "title": heading or "考核提醒",
                "text": f"### {heading}\n\n{body}" if heading else body,
            }
        else:
            payload["msgtype"] = "text"
            payload["text"] = {"content": f"{title}\n{body}" if title else body}
        params = None
        if self.secret:
            timestamp, signature = self.get_signature()
            params = {"timestamp": timestamp, "sign": unquote(signature)}
        return self._post(payload, params)


WECOM_MARKDOWN_MAX_BYTES = 4000
_TRUNCATED = "\n\n……（内容较长，完整内容请登录考核平台查看）"


def _truncate_utf8(text: str, max_bytes: int) -> str:
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    budget = max_bytes - len(_TRUNCATED.encode("utf-8"))
    cut = text.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return cut + _TRUNCATED


class CheckedWeComBot(_CheckedRobot, _WeComBotBase):  # type: ignore[misc]
    """Apprise's WeCom robot plugin, sending markdown and failing on ``errcode != 0``."""

    service_name = "WeCom Bot"
    default_endpoint = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}"
    notify_format = (apprise.NotifyFormat.MARKDOWN, apprise.NotifyFormat.TEXT)
    title_maxlen = 250
    request_rate_per_sec = 0

    def _endpoint_url(self) -> str:
        return (self.endpoint or self.default_endpoint).format(key=self.key)

    def send(self, body: str, title: str = "", body_format: object = None, **kwargs: Any) -> bool:
        if _is_markdown(body_format):
            content = f"### {title}\n{body}" if title else body
            payload: dict[str, Any] = {
                "msgtype": "markdown",
                "markdown": {"content": _truncate_utf8(content, WECOM_MARKDOWN_MAX_BYTES)},
            }
        else:
            text = f"{title}\n{body}" if title else body
            payload = {"msgtype": "text", "text": {"content": text}}
        return self._post(payload)


class CheckedFeishu(_CheckedRobot, _FeishuBase):  # type: ignore[misc]
    """Apprise's Feishu robot plugin, sending a markdown card and failing on ``code != 0``."""

    service_name = "Feishu"
    default_endpoint = "https://open.feishu.cn/open-apis/bot/v2/hook/{token}"
    notify_format = (apprise.NotifyFormat.MARKDOWN, apprise.NotifyFormat.TEXT)
    title_maxlen = 250
    request_rate_per_sec = 0

    def _endpoint_url(self) -> str:
        return (self.endpoint or self.default_endpoint).format(token=self.token)

    def send(self, body: str, title: str = "", body_format: object = None, **kwargs: Any) -> bool:
        if _is_markdown(body_format):
            payload: dict[str, Any] = {
                "msg_type": "interactive",
                "card": {
                    "header": {"title": {"tag": "plain_text", "content": title or "考核提醒"}},
                    "elements": [{"tag": "markdown", "content": body}],
                },
            }
        else:
            payload = {
                "msg_type": "text",
                "content": {"text": f"{title}\n{body}" if title else body},
            }
        return self._post(payload)


CHECKED_ROBOTS: dict[str, type[_CheckedRobot]] = {
    "dingtalk": CheckedDingTalk,
    "wecombot": CheckedWeComBot,
    "feishu": CheckedFeishu,
}


class Notifier(Protocol):
    """What `send_message` needs from a channel: Apprise's ``notify`` (True when accepted)."""

    def notify(self, *, body: str, title: str, body_format: str) -> bool: ...


NotifierFactory = Callable[[str], Notifier]


class ChannelError(ValueError):
    """A channel URL Apprise cannot use."""


def make_notifier(url: str, *, robot_endpoints: Mapping[str, str] | None = None) -> Notifier:
    """An Apprise plugin instance for `url` (a fresh one per try).

    DingTalk, WeCom and Feishu robots use the checked subclasses; ``robot_endpoints``
    (schema -> URL template with ``{token}`` / ``{key}``) points them elsewhere,
    e.g. a proxy, or a loopback receiver in tests.
    """
    schema = channel_schema(url)
    parsed = _parsed_url(url)
    if not parsed or schema not in N_MGR:
        raise ChannelError(f"not a usable Apprise URL for schema {schema!r}")
    results: dict[str, Any] = copy.deepcopy(parsed)
    results["tag"] = set()
    results["asset"] = apprise.AppriseAsset()
    plugin_cls: Any = CHECKED_ROBOTS.get(schema) or N_MGR[schema]
    try:
        plugin: Any = plugin_cls(**results)
    except Exception as exc:
        raise ChannelError(f"invalid {schema} channel: {type(exc).__name__}") from None
    if robot_endpoints and schema in robot_endpoints and schema in CHECKED_ROBOTS:
        plugin.endpoint = robot_endpoints[schema]
    return plugin  # type: ignore[no-any-return]


@lru_cache(maxsize=4096)
def _parsed_url(url: str) -> dict[str, Any] | None:
    """Apprise's parse of a channel URL, once per URL (copied before each use)."""
    parsed: dict[str, Any] | None = _url_to_dict(url, secure_logging=True)
    return parsed


# ----------------------------------------------------------------------- rate limits


@dataclass(frozen=True)
class RateLimit:
    """At most ``messages`` sends in any ``per_seconds`` window."""

    messages: int
    per_seconds: float


DEFAULT_RATE_LIMITS: Mapping[str, RateLimit] = {
    "dingtalk": RateLimit(20, 60.0),
    "wecombot": RateLimit(20, 60.0),
    "feishu": RateLimit(100, 60.0),
}


def _rate_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{channel_schema(url)}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
    except ValueError:
        return url


class RateLimiter:
    """Per-channel rate limits (keyed by schema, host and path; kept in memory only).

    A token bucket whose every token comes back exactly ``per_seconds`` after it
    was spent: so never more than ``messages`` sends in any window of that
    length (a DingTalk robot that gets a 21st message within a minute is
    muted for ten minutes, so a plain refilling bucket's double burst won't do).
    ``monotonic`` and ``sleep`` are injectable so tests need not wait.

    Thread-safe: sends to one channel take its tokens one at a time (a thread waiting
    for a channel's token holds that channel only).
    """

    def __init__(
        self,
        limits: Mapping[str, RateLimit] = DEFAULT_RATE_LIMITS,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = limits
        self.monotonic = monotonic
        self.sleep = sleep
        self._spent: dict[str, deque[float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def limited_key(self, url: str) -> str | None:
        """The key `url`'s sends are counted under, or None when it has no limit."""
        if channel_schema(url) not in self.limits:
            return None
        return _rate_key(url)

    def acquire(self, url: str) -> float:
        """Wait (through ``sleep``) until `url` may be sent to; returns the seconds waited."""
        limit = self.limits.get(channel_schema(url))
        if limit is None:
            return 0.0
        key = _rate_key(url)
        with self._lock:
            spent = self._spent.setdefault(key, deque())
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            return self._take(spent, limit)

    def _take(self, spent: deque[float], limit: RateLimit) -> float:
        waited = 0.0
        while True:
            now = self.monotonic()
            while spent and now - spent[0] >= limit.per_seconds:
                spent.popleft()
            if len(spent) < limit.messages:
                spent.append(now)
                return waited
            delay = spent[0] + limit.per_seconds - now
            self.sleep(delay)
            waited += delay


# -------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard a message is pushed.

    ``tries`` per channel in one round, ``backoff`` seconds slept before the 2nd,
    3rd... try; a failed message is retried in a later round no earlier than
    ``retry_after`` after its last attempt (and only inside the send window);
    after ``unreachable_after_rounds`` failed rounds on every channel (counted as
    ``rounds × tries`` failed attempts per channel) the message is given up and
    the office alerted.
    """

    tries: int = 3
    backoff: tuple[float, ...] = (2.0, 8.0)
    retry_after: timedelta = timedelta(hours=1)
    unreachable_after_rounds: int = 2
    lease: timedelta = DEFAULT_LEASE
    """How long a delivery run holds a message it claimed (see `tasks.outbox_lease`)."""

    def __post_init__(self) -> None:
        if self.tries < 1:
            raise ValueError("tries must be at least 1")
        if self.unreachable_after_rounds < 1:
            raise ValueError("unreachable_after_rounds must be at least 1")
        if self.lease <= 2 * LEASE_MARGIN:
            raise ValueError(f"lease must be longer than {2 * LEASE_MARGIN}")

    def delay_before(self, try_number: int) -> float:
        """Seconds to sleep before try ``try_number`` (2, 3...)."""
        if not self.backoff:
            return 0.0
        return self.backoff[min(try_number - 2, len(self.backoff) - 1)]

    @property
    def unreachable_after_attempts(self) -> int:
        return self.tries * self.unreachable_after_rounds


DEFAULT_POLICY = DeliveryPolicy()


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    """Redacted."""
    delivered: bool
    tries: int
    error: str
    """Scrubbed; empty when delivered."""
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class SendResult:
    """The attempts of one `send_message` call (not yet added to a session)."""

    attempts: tuple[DeliveryAttempt, ...]
    channels: tuple[ChannelResult, ...]

    @property
    def delivered_all(self) -> bool:
        return all(c.delivered for c in self.channels)

    @property
    def delivered_any(self) -> bool:
        return any(c.delivered for c in self.channels)

    @property
    def first_delivered_at(self) -> datetime | None:
        times = [c.delivered_at for c in self.channels if c.delivered_at is not None]
        return min(times) if times else None


class Sendable(Protocol):
    """What `send_message` reads of a message: a saved `Message`, or its `OutgoingMessage`."""

    @property
    def id(self) -> int | None: ...
    @property
    def subject(self) -> str: ...
    @property
    def body_markdown(self) -> str: ...
    @property
    def body_text(self) -> str: ...
    @property
    def body_html(self) -> str: ...


def _body_for(message: Sendable, body_format: str) -> str:
    if body_format == "markdown":
        return message.body_markdown
    if body_format == "html":
        return message.body_html
    return message.body_text


def _try_channel(
    message: Sendable,
    url: str,
    notifier_factory: NotifierFactory,
    secrets: Sequence[str],
    guard: _LogGuard,
) -> str | None:
    """One try on one channel: None when accepted, else the (scrubbed) reason."""
    body_format = body_format_for(url)
    with guard.trying(secrets) as collected:
        try:
            notifier = notifier_factory(url)
            accepted = notifier.notify(
                body=_body_for(message, body_format),
                title=message.subject,
                body_format=body_format,
            )
        except Exception as exc:
            return scrub(f"{type(exc).__name__}: {exc}", secrets)[:2000]
    if accepted:
        return None
    return scrub(collected.reason() or "refused (no detail)", secrets)[:2000]


def send_message(
    message: Sendable,
    channels: Sequence[str],
    *,
    now: datetime,
    notifier_factory: NotifierFactory = make_notifier,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    rate_limiter: RateLimiter | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    skip_channels: Collection[str] = (),
    clock_origin: float | None = None,
) -> SendResult:
    """Deliver `message` to each of `channels` (Apprise URLs) not in ``skip_channels``
    (redacted channels that already accepted it).

    Each channel is tried up to ``policy.tries`` times with ``policy.backoff``
    between tries; every try is a `DeliveryAttempt` (redacted channel, time,
    outcome, scrubbed error). Attempt times are ``now`` plus the time elapsed on
    ``monotonic`` since ``clock_origin`` (default: the start of this call; a
    delivery run passes its own start). Nothing is written to the database here.
    Thread-safe (with a thread-safe ``notifier_factory``, ``sleep`` and ``monotonic``).
    """
    with _guarded_logs() as guard:
        return _send(
            message,
            channels,
            now=now,
            notifier_factory=notifier_factory,
            sleep=sleep,
            monotonic=monotonic,
            rate_limiter=rate_limiter,
            policy=policy,
            skip_channels=skip_channels,
            clock_origin=clock_origin,
            guard=guard,
        )


class _Checkpoints(Protocol):
    """How a delivery run keeps the books while one message is sent (see `_Bookkeeping`)."""

    def answered(self, attempt: DeliveryAttempt) -> None:
        """A channel answered (accepted or refused)."""

    def flush(self) -> None:
        """Commit the answers not yet committed: called before any further post or wait."""

    def may_post(self) -> bool:
        """Whether the run still holds the message long enough to post it once more."""


def _send(
    message: Sendable,
    channels: Sequence[str],
    *,
    now: datetime,
    notifier_factory: NotifierFactory,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
    rate_limiter: RateLimiter | None,
    policy: DeliveryPolicy,
    skip_channels: Collection[str],
    clock_origin: float | None,
    guard: _LogGuard,
    checkpoints: _Checkpoints | None = None,
) -> SendResult:
    """`send_message` with its logs guarded by ``guard`` (installed by the caller).

    With ``checkpoints``, every answer is handed over as it comes and committed before
    the next post, backoff or rate-limit wait; sending stops (the rest is left to a
    later round) when the lease would end before another post could be answered.
    """
    if message.id is None:
        raise ValueError("save the message before sending it")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    start = monotonic() if clock_origin is None else clock_origin

    def at() -> datetime:
        return now + timedelta(seconds=max(0.0, monotonic() - start))

    skip = set(skip_channels)
    targets = [(url, redact_channel(url)) for url in channels]
    targets = [(url, shown) for url, shown in targets if shown not in skip]
    secrets = sorted({s for url, _ in targets for s in channel_secrets(url)}, key=len, reverse=True)
    attempts: list[DeliveryAttempt] = []
    results: dict[str, ChannelResult] = {}
    pending = list(targets)
    stopped = False
    for try_number in range(1, policy.tries + 1):
        if not pending or stopped:
            break
        if try_number > 1:
            if checkpoints is not None:
                checkpoints.flush()
            sleep(policy.delay_before(try_number))
        still: list[tuple[str, str]] = []
        for url, shown in pending:
            if checkpoints is not None:
                checkpoints.flush()
            if rate_limiter is not None:
                rate_limiter.acquire(url)
            if checkpoints is not None and not checkpoints.may_post():
                log.warning(
                    "message %s: its lease ends soon, %s and later channels wait for the "
                    "next round",
                    message.id,
                    shown,
                )
                stopped = True
                break
            attempted_at = at()
            error = _try_channel(message, url, notifier_factory, secrets, guard)
            attempt = DeliveryAttempt(
                message_id=message.id,
                channel=shown[:300],
                attempted_at=attempted_at,
                outcome="delivered" if error is None else "failed",
                error=error or "",
            )
            attempts.append(attempt)
            if checkpoints is not None:
                checkpoints.answered(attempt)
            if error is None:
                results[shown] = ChannelResult(shown, True, try_number, "", attempted_at)
                log.info("message %s delivered to %s (try %d)", message.id, shown, try_number)
            else:
                results[shown] = ChannelResult(shown, False, try_number, error)
                still.append((url, shown))
                log.warning(
                    "message %s not delivered to %s (try %d): %s",
                    message.id,
                    shown,
                    try_number,
                    error,
                )
        pending = still
    return SendResult(
        attempts=tuple(attempts),
        channels=tuple(results[shown] for _, shown in targets if shown in results),
    )


# --------------------------------------------------------------------------- outbox


def send_window(
    calendar: WorkCalendar, rules: YearRules = DEFAULT_RULES
) -> Callable[[datetime], datetime]:
    """The ``send_at_fn`` of `plan_outbox`: the next send window (working day 09:00–18:00)."""

    def send_at(at: datetime) -> datetime:
        return calendar.message_send_time(at, rules)

    return send_at


_IN_CHUNK = 500
"""Ids per ``IN (...)`` list (well under SQLite's and PostgreSQL's parameter limits)."""


def _chunks(ids: Sequence[int], size: int = _IN_CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def load_existing(
    session: Session, slots: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], list[tuple[str, str, int]]]:
    """Earlier unit messages per (unit_code, kind, period_key), oldest first.

    One query, reading only the columns a plan needs (not the bodies).
    """
    wanted = set(slots)
    if not wanted:
        return {}
    codes = {s[0] for s in wanted}
    kinds = {s[1] for s in wanted}
    periods = {s[2] for s in wanted}
    table = table_of(Message)
    m = table.c
    rows = session.execute(
        core_select(col(Unit.code), m.kind, m.period, m.content_hash, m.status, m.id)
        .join_from(table, Unit, m.unit_id == col(Unit.id))
        .where(
            m.audience == "unit",
            col(Unit.code).in_(codes),
            m.kind.in_(kinds),
            m.period.in_(periods),
        )
        .order_by(m.id)
    ).all()
    out: dict[tuple[str, str, str], list[tuple[str, str, int]]] = {}
    for code, kind, period, digest_hash, status, message_id in rows:
        slot = (code, kind, period)
        if slot in wanted and message_id is not None:
            out.setdefault(slot, []).append((digest_hash, status, message_id))
    return out


def _mark_old(session: Session, ids: Sequence[int], status: str, condition: Any) -> None:
    """Set ``status`` on the messages ``ids`` that meet ``condition``.

    ORM-enabled UPDATEs: messages already loaded in the session see the new status.
    """
    for chunk in _chunks(ids):
        session.execute(
            update(Message)
            .where(col(Message.id).in_(chunk), condition)
            .values(status=status)
            .execution_options(synchronize_session="fetch")
        )


def save_outbox(
    session: Session,
    plans: Iterable[MessagePlan],
    units_by_code: Mapping[str, Unit],
    now: datetime,
    *,
    cycle_run_id: int | None = None,
) -> int:
    """Apply plans: insert new messages, supersede or withdraw waiting ones.

    Every plan is checked before anything is written. Superseded and withdrawn
    messages are updated in bulk; new messages are inserted, in plan order, in one
    executemany (Core: no ORM objects, nothing read back). Returns how many were
    inserted.
    """
    withdraw: list[int] = []
    supersede: list[int] = []
    rows: list[dict[str, Any]] = []
    for plan in plans:
        if plan.action is PlanAction.SKIP:
            continue
        if plan.action is PlanAction.WITHDRAW:
            if plan.supersedes_id is not None:
                withdraw.append(plan.supersedes_id)
            continue
        rendered = plan.rendered
        if rendered is None or plan.due_at is None:
            raise ValueError(f"plan {plan.action} for {plan.key} has no rendered message")
        if not rendered.for_unit:
            raise ConfidentialContentError(
                f"refused: the message for {plan.unit_code} was not built by build_unit_message"
            )
        unit = units_by_code.get(plan.unit_code)
        if unit is None or unit.id is None:
            raise ValueError(f"unknown unit {plan.unit_code!r}")
        if plan.supersedes_id is not None:
            supersede.append(plan.supersedes_id)
        rows.append(
            {
                "key": plan.key,
                "unit_id": unit.id,
                "audience": "unit",
                "kind": plan.kind,
                "period": plan.period_key,
                "content_hash": plan.content_hash,
                "subject": rendered.subject,
                "body_markdown": rendered.markdown,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "supersedes_id": plan.supersedes_id,
                "status": "pending",
                "due_at": plan.due_at,
                "created_at": now,
                "delivered_at": None,
                "cycle_run_id": cycle_run_id,
            }
        )
    session.flush()
    status = col(Message.status)
    _mark_old(session, withdraw, "withdrawn", status.in_(("pending", "failed")))
    _mark_old(
        session, supersede, "superseded", status.not_in(("delivered", "withdrawn", "superseded"))
    )
    if rows:
        session.execute(insert(table_of(Message)), rows)
    return len(rows)


def queue_digests(
    session: Session,
    digests: Iterable[UnitDigest],
    *,
    now: datetime,
    send_at_fn: Callable[[datetime], datetime],
    cycle_run_id: int | None = None,
) -> list[MessagePlan]:
    """Plan and save the outbox for `digests` (idempotent: the same content is never
    queued twice). Returns the plans, skips included."""
    the_digests = list(digests)
    existing = load_existing(session, (d.slot for d in the_digests))
    plans = plan_outbox(the_digests, existing, now, send_at_fn)
    codes = {p.unit_code for p in plans if p.creates_message}
    units = (
        {u.code: u for u in session.exec(select(Unit).where(col(Unit.code).in_(codes))).all()}
        if codes
        else {}
    )
    save_outbox(session, plans, units, now, cycle_run_id=cycle_run_id)
    return plans


class _AttemptLike(Protocol):
    """What settling a message and the office's view read of an attempt."""

    @property
    def channel(self) -> str: ...
    @property
    def attempted_at(self) -> datetime: ...
    @property
    def outcome(self) -> str: ...
    @property
    def error(self) -> str: ...


class _PastAttempt(NamedTuple):
    """A recorded `DeliveryAttempt`, as read back (Core, no ORM object)."""

    channel: str
    attempted_at: datetime
    outcome: str
    error: str


def _attempts_by_message(
    session: Session | Connection, message_ids: Sequence[int]
) -> dict[int, list[_PastAttempt]]:
    """Each message's recorded attempts, oldest first (``IN`` lists in chunks)."""
    da = columns_of(DeliveryAttempt)
    out: dict[int, list[_PastAttempt]] = {}
    for chunk in _chunks(message_ids):
        rows = session.execute(
            core_select(da.message_id, da.channel, da.attempted_at, da.outcome, da.error)
            .where(da.message_id.in_(chunk))
            .order_by(da.id)
        )
        for message_id, channel, attempted_at, outcome, error in rows:
            out.setdefault(message_id, []).append(
                _PastAttempt(channel, _aware(attempted_at), outcome, error)
            )
    return out


class _Due(NamedTuple):
    id: int
    audience: str
    due_at: datetime


def _due(session: Session, now: datetime, policy: DeliveryPolicy) -> list[_Due]:
    """`load_due_messages` as ids (bodies are read later, a batch at a time)."""
    m = columns_of(Message)
    candidates = session.execute(
        core_select(m.id, m.status, m.audience, m.due_at)
        .where(m.status.in_(WAITING_STATUSES), m.due_at <= now)
        .order_by(m.due_at, m.id)
    ).all()
    retrying = [message_id for message_id, status, _, _ in candidates if status != "pending"]
    da = columns_of(DeliveryAttempt)
    last: dict[int, datetime] = {}
    for chunk in _chunks(retrying):
        for message_id, latest in session.execute(
            core_select(da.message_id, func.max(da.attempted_at))
            .where(da.message_id.in_(chunk))
            .group_by(da.message_id)
        ):
            if latest is not None:
                last[message_id] = _aware(latest)
    due = [
        _Due(message_id, audience, _aware(due_at))
        for message_id, status, audience, due_at in candidates
        if status == "pending"
        or message_id not in last
        or last[message_id] + policy.retry_after <= now
    ]
    return sorted(due, key=lambda d: (d.audience == OFFICE, d.due_at, d.id))


def load_due_messages(
    session: Session, now: datetime, policy: DeliveryPolicy = DEFAULT_POLICY
) -> list[Message]:
    """Messages to send at `now`: pending ones due by now, and failed or partly delivered
    ones whose last attempt is at least ``policy.retry_after`` old. Unit messages first."""
    due = _due(session, now, policy)
    loaded: dict[int, Message] = {}
    for chunk in _chunks([d.id for d in due]):
        for message in session.exec(select(Message).where(col(Message.id).in_(chunk))).all():
            if message.id is not None:
                loaded[message.id] = message
    return [loaded[d.id] for d in due if d.id in loaded]


def _local(value: datetime) -> datetime:
    return _aware(value).astimezone(SHANGHAI)


def _aware(value: datetime) -> datetime:
    # func.max bypasses the column type on SQLite and returns a naive UTC datetime or text
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass
class DeliveryRun:
    """What one `deliver_due` call did (message ids per outcome)."""

    delivered: list[int] = field(default_factory=list)
    partial: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    undeliverable: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)
    waiting_for_channels: list[int] = field(default_factory=list)
    held_elsewhere: list[int] = field(default_factory=list)
    """Due messages left alone: another delivery run held or claimed them."""
    attempts: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "delivered": len(self.delivered),
            "partial": len(self.partial),
            "failed": len(self.failed),
            "undeliverable": len(self.undeliverable),
            "alerts": len(self.alerts),
            "waiting_for_channels": len(self.waiting_for_channels),
            "held_elsewhere": len(self.held_elsewhere),
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class OutgoingMessage:
    """A due message as `deliver_due` sends it: plain data, handed to worker threads
    (an ORM object must not cross threads)."""

    id: int
    key: str
    unit_id: int | None
    audience: str
    kind: str
    period: str
    subject: str
    body_markdown: str
    body_text: str
    body_html: str
    due_at: datetime
    delivered_at: datetime | None


class _UnitInfo(NamedTuple):
    code: str
    name: str
    channels: tuple[str, ...]


def _load_outgoing(session: Session, ids: Sequence[int]) -> list[tuple[OutgoingMessage, LeaseSeen]]:
    """The messages `ids`, in that order, each with its lease (one query)."""
    m = columns_of(Message)
    rows = session.execute(
        core_select(
            m.id,
            m.key,
            m.unit_id,
            m.audience,
            m.kind,
            m.period,
            m.subject,
            m.body_markdown,
            m.body_text,
            m.body_html,
            m.due_at,
            m.delivered_at,
            m.claimed_by,
            m.lease_until,
        ).where(m.id.in_(ids))
    ).all()
    by_id = {
        row.id: (
            OutgoingMessage(
                id=row.id,
                key=row.key,
                unit_id=row.unit_id,
                audience=row.audience,
                kind=row.kind,
                period=row.period,
                subject=row.subject,
                body_markdown=row.body_markdown,
                body_text=row.body_text,
                body_html=row.body_html,
                due_at=_aware(row.due_at),
                delivered_at=None if row.delivered_at is None else _aware(row.delivered_at),
            ),
            LeaseSeen(row.claimed_by, None if row.lease_until is None else _aware(row.lease_until)),
        )
        for row in rows
    }
    return [by_id[i] for i in ids if i in by_id]


def _load_units(session: Session, unit_ids: Collection[int]) -> dict[int, _UnitInfo]:
    u = columns_of(Unit)
    out: dict[int, _UnitInfo] = {}
    for chunk in _chunks(sorted(unit_ids)):
        for unit_id, code, name, channels in session.execute(
            core_select(u.id, u.code, u.name, u.channels).where(u.id.in_(chunk))
        ):
            out[unit_id] = _UnitInfo(code, name, tuple(channels or ()))
    return out


def _raise_alert(
    session: Session,
    message: OutgoingMessage,
    unit: _UnitInfo | None,
    history: Sequence[_AttemptLike],
    channels: Sequence[str],
    now: datetime,
) -> Message | None:
    """Queue the one office alert for an undeliverable unit message (None if it exists).

    One alert per message and queueing (a requeued message may alert again)."""
    key = message_key(
        OFFICE,
        UNIT_UNREACHABLE,
        message.period,
        hashlib.sha256(
            f"{message.key}@{_aware(message.due_at).astimezone(UTC).isoformat()}".encode()
        ).hexdigest(),
    )
    if session.exec(select(Message.id).where(Message.key == key)).first() is not None:
        return None
    failures = [a for a in history if a.outcome == "failed"]
    rendered = build_office_alert(
        unit_code=unit.code if unit else "?",
        unit_name=unit.name if unit else "?",
        message_subject=message.subject,
        message_kind=message.kind,
        period_key=message.period,
        attempts=len(history),
        channels=tuple(redact_channel(c) for c in channels),
        last_error=failures[-1].error if failures else "单位未配置任何通知渠道",
        first_attempt_at=_local(history[0].attempted_at) if history else None,
        last_attempt_at=_local(history[-1].attempted_at) if history else None,
    )
    alert = Message(
        key=key,
        unit_id=None,
        audience=OFFICE,
        kind=UNIT_UNREACHABLE,
        period=message.period,
        content_hash=rendered.content_hash,
        subject=rendered.subject,
        body_markdown=rendered.markdown,
        body_text=rendered.text,
        body_html=rendered.html,
        status="pending",
        due_at=now,
        created_at=now,
    )
    session.add(alert)
    session.flush()
    return alert


DEFAULT_CONCURRENCY = 8
"""Messages `deliver_due` sends at once (each message's channels one after another)."""
_LOAD_BATCH = _IN_CHUNK
"""Due messages (bodies included) read at a time."""


@dataclass(frozen=True)
class _Job:
    """One message to send in a delivery run."""

    seq: int
    message: OutgoingMessage
    channels: tuple[str, ...]
    history: tuple[_PastAttempt, ...]
    unit: _UnitInfo | None
    seen: LeaseSeen
    """The message's lease when it was read: its claim must find it unchanged."""


class _Bookkeeping:
    """The answers of one claimed message, committed as they come (`_Checkpoints`).

    Runs in the worker thread sending the message, on that thread's connection. When
    the run took the message over from a run whose lease expired (``takeover``), the
    first post to each channel is a resend: marked ``resend`` and logged.
    """

    def __init__(
        self,
        conn: Connection,
        message_id: int,
        *,
        until: datetime,
        lease_clock: Callable[[], datetime],
        takeover: LeaseSeen | None,
    ) -> None:
        self.conn = conn
        self.message_id = message_id
        self.until = until
        self.lease_clock = lease_clock
        self.takeover = takeover
        self._rows: list[dict[str, Any]] = []
        self._posted: set[str] = set()

    def answered(self, attempt: DeliveryAttempt) -> None:
        resend = self.takeover is not None and attempt.channel not in self._posted
        self._posted.add(attempt.channel)
        if resend and self.takeover is not None:
            log.warning(
                "message %s resent to %s: the lease of %s expired at %s before its answer "
                "was recorded",
                self.message_id,
                attempt.channel,
                self.takeover.claimed_by,
                self.takeover.lease_until,
            )
        self._rows.append(
            {
                "message_id": self.message_id,
                "channel": attempt.channel,
                "attempted_at": attempt.attempted_at,
                "outcome": attempt.outcome,
                "error": attempt.error,
                "resend": resend,
            }
        )

    def flush(self) -> None:
        if self._rows:
            with self.conn.begin():
                insert_attempts(self.conn, self.take())

    def take(self) -> list[dict[str, Any]]:
        """The answers not yet committed (the caller writes them)."""
        rows, self._rows = self._rows, []
        return rows

    def may_post(self) -> bool:
        return self.lease_clock() + LEASE_MARGIN < self.until


_Send = Callable[[_Job, _Checkpoints], SendResult]


class _Delivery:
    """One `deliver_due` run: loads due messages in batches (calling thread) and sends
    them on a thread pool. Each worker claims a message just before sending it,
    commits each answer as it comes, and writes the message's status and releases it
    once its channels are done, on a connection of its own."""

    def __init__(
        self,
        session: Session,
        *,
        engine: Engine,
        now: datetime,
        ops_channels: Sequence[str],
        send: _Send,
        limiter: RateLimiter,
        policy: DeliveryPolicy,
        pool: ThreadPoolExecutor,
        concurrency: int,
        holder: str,
        lease_clock: Callable[[], datetime],
    ) -> None:
        self.session = session
        self.engine = engine
        self.now = now
        self.ops_channels = tuple(ops_channels)
        self.send = send
        self.limiter = limiter
        self.policy = policy
        self.pool = pool
        self.concurrency = concurrency
        self.holder = holder
        self.lease_clock = lease_clock
        self.run = DeliveryRun()
        self._seq = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self.connections: list[Connection] = []

    def deliver(self, ids: Sequence[int], audience: str) -> None:
        """Send the messages ``ids`` (all of ``audience``), at most ``concurrency`` lanes
        at a time. A failure (a bug: sending never raises for a channel's refusal) stops
        new sends; what was answered is recorded before it is raised."""
        batches = iter(_chunks(ids, _LOAD_BATCH))
        lanes: deque[list[_Job]] = deque()
        in_flight: set[Future[BaseException | None]] = set()
        error: BaseException | None = None
        while True:
            while error is None and len(lanes) < self.concurrency:
                batch = next(batches, None)
                if batch is None:
                    break
                lanes.extend(self._lanes(self._jobs(batch, audience)))
            while error is None and lanes and len(in_flight) < self.concurrency:
                in_flight.add(self.pool.submit(self._send_lane, lanes.popleft()))
            if not in_flight:
                break
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                error = error or future.result()
        if error is not None:
            raise error

    def _jobs(self, ids: Sequence[int], audience: str) -> list[_Job]:
        self.session.commit()  # read what other runs committed since
        loaded = _load_outgoing(self.session, ids)
        at = self.lease_clock()
        held = [message.id for message, seen in loaded if seen.held_at(at)]
        if held:
            self.run.held_elsewhere.extend(held)
            log.info("%d due messages held by another delivery run: left to it", len(held))
        loaded = [(message, seen) for message, seen in loaded if not seen.held_at(at)]
        units = _load_units(self.session, {m.unit_id for m, _ in loaded if m.unit_id is not None})
        histories = _attempts_by_message(self.session, [m.id for m, _ in loaded])
        jobs = []
        for message, seen in loaded:
            unit = units.get(message.unit_id) if message.unit_id is not None else None
            if audience == OFFICE:
                channels = self.ops_channels
                if not channels:
                    log.error("office message %s waits: no operations channel set", message.id)
                    self.run.waiting_for_channels.append(message.id)
                    continue
            else:
                channels = unit.channels if unit is not None else ()
            self._seq += 1
            jobs.append(
                _Job(self._seq, message, channels, tuple(histories.get(message.id, ())), unit, seen)
            )
        return jobs

    def _lanes(self, jobs: Sequence[_Job]) -> list[list[_Job]]:
        """Jobs sent one after another: those sharing a rate-limited channel (so a robot's
        wait holds one worker, not all), each of the others alone."""
        lanes: dict[object, list[_Job]] = {}
        for job in jobs:
            key: object = next(
                (k for k in map(self.limiter.limited_key, job.channels) if k is not None),
                job.seq,
            )
            lanes.setdefault(key, []).append(job)
        return list(lanes.values())

    def _connection(self) -> Connection:
        """This worker thread's connection (opened on first use, closed by the caller)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.engine.connect()
            self._local.conn = conn
            with self._lock:
                self.connections.append(conn)
        return conn

    def _send_lane(self, lane: Sequence[_Job]) -> BaseException | None:
        """Runs in a worker thread: claims, sends and records each job of the lane."""
        for job in lane:
            try:
                self._deliver_one(job)
            except BaseException as exc:  # raised by the caller
                return exc
        return None

    def _deliver_one(self, job: _Job) -> None:
        message = job.message
        conn = self._connection()
        at = self.lease_clock()
        until = at + self.policy.lease
        if not claim(
            conn, message.id, holder=self.holder, seen=job.seen, now=self.now, at=at, until=until
        ):
            log.info("message %s left alone: another delivery run claimed it", message.id)
            with self._lock:
                self.run.held_elsewhere.append(message.id)
            return
        takeover = job.seen if job.seen.abandoned_at(at) else None
        if takeover is not None:
            # Its last holder may have recorded an answer after this run read the history.
            history = _attempts_by_message(conn, [message.id]).get(message.id, [])
            conn.rollback()
            job = replace(job, history=tuple(history))
        books = _Bookkeeping(
            conn, message.id, until=until, lease_clock=self.lease_clock, takeover=takeover
        )
        try:
            result = self.send(job, books)
        except BaseException:
            try:
                books.flush()
                release(conn, message.id, holder=self.holder)
            except Exception:
                log.exception(
                    "message %s: could not record its answers after a failure", message.id
                )
            raise
        self._record(conn, job, result, books)

    def _record(self, conn: Connection, job: _Job, result: SendResult, books: _Bookkeeping) -> None:
        """Write the answers not yet written and the message's status, release it, raise
        its office alert if it is undeliverable: one transaction."""
        message = job.message
        history: list[_AttemptLike] = [*job.history, *result.attempts]
        with self._lock:
            self.run.attempts += len(result.attempts)
            status, delivered_at = _settle(
                message, job.channels, history, result, self.policy, self.run
            )
        with conn.begin():
            insert_attempts(conn, books.take())
            if not settle(
                conn, message.id, holder=self.holder, status=status, delivered_at=delivered_at
            ):
                log.warning(
                    "message %s: its lease ended while it was sent; its answers are recorded, "
                    "its status is left to the run that holds it now",
                    message.id,
                )
                return
            if status != "undeliverable" or message.audience == OFFICE:
                return
            with Session(bind=conn) as session:
                alert = _raise_alert(session, message, job.unit, history, job.channels, self.now)
                alert_id = None if alert is None else alert.id
        if alert_id is not None:
            with self._lock:
                self.run.alerts.append(alert_id)
            log.error(
                "unit %s unreachable for message %s: office alerted",
                job.unit.code if job.unit else "?",
                message.id,
            )

    def close(self) -> None:
        for conn in self.connections:
            conn.close()


def deliver_due(
    session: Session,
    *,
    now: datetime,
    ops_channels: Sequence[str] = (),
    notifier_factory: NotifierFactory = make_notifier,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    rate_limiter: RateLimiter | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    concurrency: int = DEFAULT_CONCURRENCY,
    lease_clock: Callable[[], datetime] = wall_clock,
    holder: str | None = None,
) -> DeliveryRun:
    """Send every due message: unit messages first, then office messages (new alerts too).

    Up to ``concurrency`` messages are sent at once, each as `send_message` sends it;
    messages sharing a rate-limited channel go one after another (the limit holds
    across threads either way). Each message is claimed just before it is sent (a
    lease of ``policy.lease`` on ``lease_clock``, see `tasks.outbox_lease`), so runs
    that overlap (two schedules, two workers) never send it both; each channel's answer
    is committed before anything else is posted, and the message's status written and
    its lease released as soon as its channels are done. A rerun never sends a message
    twice to a channel whose answer was recorded; a message whose answer was lost (the
    run died between a post and its commit) is sent again once its lease expired, once,
    marked ``resend``. The caller decides whether the send window is open; ``session``
    is committed. ``notifier_factory``, ``sleep``, ``monotonic`` and ``lease_clock`` are
    called from worker threads, each of which uses a connection of its own.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    session.commit()  # nothing of the caller's may hold a write lock while workers write
    limiter = rate_limiter or RateLimiter(monotonic=monotonic, sleep=sleep)
    origin = monotonic()
    _ = "json" in N_MGR  # Apprise loads its plugins on first use: here, not in a worker
    delivery: _Delivery | None = None
    try:
        with (
            _guarded_logs() as guard,
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="deliver") as pool,
        ):

            def send(job: _Job, books: _Checkpoints) -> SendResult:
                return _send(
                    job.message,
                    job.channels,
                    now=now,
                    notifier_factory=notifier_factory,
                    sleep=sleep,
                    monotonic=monotonic,
                    rate_limiter=limiter,
                    policy=policy,
                    skip_channels={a.channel for a in job.history if a.outcome == "delivered"},
                    clock_origin=origin,
                    guard=guard,
                    checkpoints=books,
                )

            delivery = _Delivery(
                session,
                engine=engine,
                now=now,
                ops_channels=ops_channels,
                send=send,
                limiter=limiter,
                policy=policy,
                pool=pool,
                concurrency=concurrency,
                holder=holder or new_holder(),
                lease_clock=lease_clock,
            )
            for audience in ("unit", OFFICE):
                session.commit()  # see the alerts the unit messages raised
                due = [d.id for d in _due(session, now, policy) if d.audience == audience]
                delivery.deliver(due, audience)
    finally:
        if delivery is not None:
            delivery.close()
    session.commit()
    return delivery.run


def _settle(
    message: OutgoingMessage,
    channels: Sequence[str],
    history: Sequence[_AttemptLike],
    result: SendResult,
    policy: DeliveryPolicy,
    run: DeliveryRun,
) -> tuple[str, datetime | None]:
    """The message's status (and first delivery time) after a round, from its whole
    history of attempts.

    Failures count from the message's ``due_at`` on (a requeued message starts afresh).
    """
    accepted = {a.channel for a in history if a.outcome == "delivered"}
    missing = [c for c in (redact_channel(url) for url in channels) if c not in accepted]
    delivered_at = message.delivered_at
    if result.first_delivered_at is not None and delivered_at is None:
        delivered_at = result.first_delivered_at
    if channels and not missing:
        run.delivered.append(message.id)
        return "delivered", delivered_at
    since = message.due_at
    failed = {
        c: sum(
            1
            for a in history
            if a.channel == c and a.outcome == "failed" and _aware(a.attempted_at) >= since
        )
        for c in missing
    }
    exhausted = all(n >= policy.unreachable_after_attempts for n in failed.values())
    if accepted and exhausted:
        log.warning(
            "message %s reached the unit, but %s keep failing: giving up on them",
            message.id,
            ", ".join(missing),
        )
        run.delivered.append(message.id)
        return "delivered", delivered_at
    if accepted:
        run.partial.append(message.id)
        return "partial", delivered_at
    if exhausted:
        run.undeliverable.append(message.id)
        if message.audience == OFFICE:
            log.error("office message %s could not be delivered", message.id)
        return "undeliverable", delivered_at
    run.failed.append(message.id)
    return "failed", delivered_at


def requeue_message(session: Session, message_id: int, now: datetime) -> Message:
    """Queue an undeliverable (or failed) message again, e.g. after its channel was fixed.

    It is due at `now` and its failures count afresh; a new alert is raised if it
    becomes undeliverable again.
    """
    message = session.get(Message, message_id)
    if message is None:
        raise ValueError(f"no message {message_id}")
    if message.status not in ("undeliverable", "failed", "partial"):
        raise ValueError(f"message {message_id} is {message.status}: nothing to requeue")
    message.status = "partial" if message.delivered_at is not None else "pending"
    message.due_at = now
    session.add(message)
    session.flush()
    return message


# ----------------------------------------------------------------------- office view


@dataclass(frozen=True)
class OutboxRow:
    """One message as the office sees it (no body)."""

    message_id: int
    audience: str
    unit_code: str | None
    unit_name: str | None
    kind: str
    period: str
    subject: str
    status: str
    correction: bool
    due_at: datetime
    delivered_at: datetime | None
    attempts: int
    failed_attempts: int
    channels: tuple[str, ...]
    last_error: str
    """The latest error of each channel still failing ("channel: error；...")."""

    @property
    def group(self) -> str:
        """pending | delivered | failed (failed includes partly delivered and given up)."""
        if self.status == "pending":
            return "pending"
        if self.status == "delivered":
            return "delivered"
        return "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "audience": self.audience,
            "unit_code": self.unit_code,
            "unit_name": self.unit_name,
            "kind": self.kind,
            "period": self.period,
            "subject": self.subject,
            "status": self.status,
            "group": self.group,
            "correction": self.correction,
            "due_at": self.due_at.isoformat(),
            "delivered_at": None if self.delivered_at is None else self.delivered_at.isoformat(),
            "attempts": self.attempts,
            "failed_attempts": self.failed_attempts,
            "channels": list(self.channels),
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class OutboxSnapshot:
    """The outbox for one day (Asia/Shanghai): what goes out, what went out, what failed."""

    day: date
    rows: tuple[OutboxRow, ...]

    def counts_by_kind(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for row in self.rows:
            counts = out.setdefault(row.kind, {"pending": 0, "delivered": 0, "failed": 0})
            counts[row.group] += 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "counts": self.counts_by_kind(),
            "messages": [row.to_dict() for row in self.rows],
        }


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def outbox_snapshot(session: Session, day: date) -> OutboxSnapshot:
    """Messages waiting to go out by the end of `day`, delivered on it, or tried on it."""
    start, end = _day_bounds(day)
    m, da = columns_of(Message), columns_of(DeliveryAttempt)
    tried = core_select(da.message_id).where(da.attempted_at >= start, da.attempted_at < end)
    chosen = session.execute(
        core_select(
            m.id,
            m.audience,
            m.unit_id,
            m.kind,
            m.period,
            m.subject,
            m.status,
            m.supersedes_id,
            m.due_at,
            m.delivered_at,
        )
        .where(
            or_(
                and_(m.status.in_(WAITING_STATUSES), m.due_at < end),
                and_(m.delivered_at >= start, m.delivered_at < end),
                m.id.in_(tried),
            )
        )
        .order_by(m.id)
    ).all()
    attempts = _attempts_by_message(session, [row.id for row in chosen])
    units = _load_units(session, {row.unit_id for row in chosen if row.unit_id is not None})
    rows = []
    for row in chosen:
        history = attempts.get(row.id, [])
        unit = units.get(row.unit_id) if row.unit_id is not None else None
        shown = tuple(dict.fromkeys(a.channel for a in history))
        if not shown and unit is not None:
            shown = tuple(redact_channel(c) for c in unit.channels)
        failures = [a for a in history if a.outcome == "failed"]
        rows.append(
            OutboxRow(
                message_id=row.id,
                audience=row.audience,
                unit_code=unit.code if unit else None,
                unit_name=unit.name if unit else None,
                kind=row.kind,
                period=row.period,
                subject=row.subject,
                status=row.status,
                correction=row.supersedes_id is not None and "更正" in row.subject,
                due_at=_aware(row.due_at),
                delivered_at=None if row.delivered_at is None else _aware(row.delivered_at),
                attempts=len(history),
                failed_attempts=len(failures),
                channels=shown,
                last_error=_latest_errors(history),
            )
        )
    return OutboxSnapshot(day=day, rows=tuple(rows))


def _latest_errors(history: Sequence[_AttemptLike]) -> str:
    """The latest error of each channel that has not accepted the message."""
    delivered = {a.channel for a in history if a.outcome == "delivered"}
    latest: dict[str, str] = {}
    for attempt in history:
        if attempt.outcome == "failed" and attempt.channel not in delivered:
            latest[attempt.channel] = attempt.error
    return "；".join(f"{channel}: {error}" for channel, error in latest.items())
