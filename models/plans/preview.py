"""预览: a cycle's figures shown without booking anything. Pure.

A preview run computes what the cycle would publish for its period now and shows it
as an artifact of its own (key ``<key>-preview``, title marked 预览), with a banner
saying that nothing was booked or sent; it may run before the period is due.
"""

from __future__ import annotations

from dataclasses import replace

from models.plans.cycle_reports import Publication

PREVIEW_SUFFIX = "-preview"
PREVIEW_BANNER = (
    "> **预览**：以下为按目前已有数据计算的临时结果，仅供参考。"
    "本次未记账（无扣分、预警、负面清单、结果记录）、未抽取核查对象、未发送任何消息，"
    "正式结果以到期后的正式运行为准。\n\n"
)


def preview_key(key: str) -> str:
    """The artifact key of a preview: never the key of the cycle's real report."""
    return f"{key}{PREVIEW_SUFFIX}"


def preview_title(title: str) -> str:
    return f"{title}（预览）"


def preview_publication(pub: Publication) -> Publication:
    """``pub`` as a preview: its own key, its title marked 预览, the banner on top."""
    return replace(
        pub,
        key=preview_key(pub.key),
        title=preview_title(pub.title),
        markdown=PREVIEW_BANNER + pub.markdown,
    )
