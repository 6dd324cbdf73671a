"""The Apprise plugins a channel is sent with, and the checked DingTalk/WeCom/Feishu robots.

DingTalk, WeCom and Feishu robots may answer HTTP 200 with an error code in the
body. Apprise 2.0.1's plugins look only at the HTTP status and call that a success,
so those schemas are sent by small subclasses of the Apprise plugins
(`CheckedDingTalk`, `CheckedWeComBot`, `CheckedFeishu`) that post the payload
themselves and fail on a non-zero ``errcode`` / ``code`` (`robot_response_error`).
`make_notifier` builds the plugin for one channel URL (a `Notifier`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, ClassVar, Protocol
from urllib.parse import unquote

import apprise
import httpx
from apprise.plugins import N_MGR, url_to_dict
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.wecombot import NotifyWeComBot

from tasks.delivery.channels import channel_schema

__all__ = [
    "CHECKED_ROBOTS",
    "WECOM_MARKDOWN_MAX_BYTES",
    "ChannelError",
    "CheckedDingTalk",
    "CheckedFeishu",
    "CheckedWeComBot",
    "Notifier",
    "NotifierFactory",
    "load_plugins",
    "make_notifier",
    "robot_response_error",
]


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


def load_plugins() -> None:
    """Have Apprise load its plugins (it does so on first use): a delivery run calls
    this before it starts its worker threads."""
    _ = "json" in N_MGR
