"""Channels: an outbox channel is an Apprise URL, shown only redacted.

- `channel_schema` and `body_format_for`: which plugin a URL goes to, and which of a
  message's bodies it gets (markdown for robots and JSON webhooks, html for email).
- `redact_channel`: a channel as it may be shown, stored and logged.
- `channel_secrets` and `scrub`: the parts of a URL that must never be shown, and a
  text with them masked (errors, log records; see `tasks.delivery.log_guard`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "HTML_SCHEMAS",
    "MARKDOWN_SCHEMAS",
    "SERVER_HOST_SCHEMAS",
    "body_format_for",
    "channel_schema",
    "channel_secrets",
    "redact_channel",
    "scrub",
]

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
