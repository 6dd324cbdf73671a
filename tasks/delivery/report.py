"""The office's view of the outbox, rendered: what goes out on a day and what failed.

In Chinese, channels redacted, no message bodies. `render_outbox` renders an
`tasks.delivery.snapshot.OutboxSnapshot`; `outbox_report` is ``assess outbox``'s full
view; `artifact_markdown` the ``outbox-YYYY-MM-DD`` artifact of the `deliver_outbox`
flow, which lists at most `ARTIFACT_ROWS` messages per section and says how many
more there are (at province scale a full list would make it megabytes long).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from models.messages import KIND_LABELS, MessageStatus
from models.rules.periods import local_text, to_shanghai
from tasks.delivery.reads import UNIT_UNREACHABLE
from tasks.delivery.snapshot import OutboxRow, OutboxSnapshot, outbox_snapshot

__all__ = [
    "ARTIFACT_ROWS",
    "GROUP_LABELS",
    "OFFICE_KIND_LABELS",
    "artifact_markdown",
    "day_title",
    "outbox_report",
    "render_outbox",
]

OFFICE_KIND_LABELS = {UNIT_UNREACHABLE: "运维告警（单位无法送达）"}
GROUP_LABELS = (("pending", "待发送"), ("delivered", "已送达"), ("failed", "失败"))
ARTIFACT_ROWS = 50
"""Messages listed per section of the artifact (the counts cover them all)."""


def _kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind) or OFFICE_KIND_LABELS.get(kind) or kind


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "—"


def _who(row: OutboxRow) -> str:
    if row.audience == "office":
        return "考核办（运维）"
    return f"{row.unit_name}（{row.unit_code}）" if row.unit_code else "—"


def _local(at: datetime) -> str:
    return to_shanghai(at).strftime("%m-%d %H:%M")


def _counts_table(snapshot: OutboxSnapshot) -> list[str]:
    counts = snapshot.counts_by_kind()
    lines = ["| 类型 | 待发送 | 已送达 | 失败 |", "| --- | ---: | ---: | ---: |"]
    totals = dict.fromkeys((g for g, _ in GROUP_LABELS), 0)
    for kind, by_group in counts.items():
        lines.append(
            f"| {_kind_label(kind)} | "
            + " | ".join(str(by_group[g]) for g, _ in GROUP_LABELS)
            + " |"
        )
        for g, _ in GROUP_LABELS:
            totals[g] += by_group[g]
    lines.append("| **合计** | " + " | ".join(f"**{totals[g]}**" for g, _ in GROUP_LABELS) + " |")
    return lines


def _not_listed(shown: int, total: int, day: date) -> list[str]:
    if total <= shown:
        return []
    return [
        "",
        f"另有 {total - shown} 条未列出；完整清单请运行 `assess outbox --day {day.isoformat()}`。",
    ]


def render_outbox(
    snapshot: OutboxSnapshot, *, heading: str = "##", limit: int | None = None
) -> str:
    """The office's view of one day's outbox (markdown, Chinese; no message bodies).

    With ``limit``, each list shows at most that many messages (the first ones by id)
    and says how many more there are; the counts table always covers every message.
    """
    lines = [f"{heading} 统计（按类型）", "", *_counts_table(snapshot), ""]
    waiting = [r for r in snapshot.rows if r.group == "pending"]
    failed = [r for r in snapshot.rows if r.group == "failed"]
    delivered = [r for r in snapshot.rows if r.group == "delivered"]
    shown = len(snapshot.rows) if limit is None else max(0, limit)
    lines += [f"{heading} 今日待发送（{len(waiting)}）", ""]
    if waiting:
        lines += [
            "| 对象 | 类型 | 期间 | 计划发送 | 更正 | 渠道 |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in waiting[:shown]:
            lines.append(
                f"| {_cell(_who(r))} | {_kind_label(r.kind)} | {r.period} | {_local(r.due_at)} | "
                f"{'是' if r.correction else ''} | {_cell('；'.join(r.channels))} |"
            )
        lines += _not_listed(shown, len(waiting), snapshot.day)
    else:
        lines.append("无。")
    lines += ["", f"{heading} 发送失败（{len(failed)}）", ""]
    if failed:
        lines += [
            "| 对象 | 类型 | 期间 | 状态 | 尝试次数 | 渠道 | 最近错误 |",
            "| --- | --- | --- | --- | ---: | --- | --- |",
        ]
        for r in failed[:shown]:
            lines.append(
                f"| {_cell(_who(r))} | {_kind_label(r.kind)} | {r.period} | "
                f"{MessageStatus(r.status).label} | {r.attempts} | "
                f"{_cell('；'.join(r.channels))} | {_cell(r.last_error[:600])} |"
            )
        lines += _not_listed(shown, len(failed), snapshot.day)
    else:
        lines.append("无。")
    lines += ["", f"{heading} 今日已送达（{len(delivered)}）", ""]
    if delivered:
        lines += [
            "| 对象 | 类型 | 期间 | 送达时间 | 尝试次数 |",
            "| --- | --- | --- | --- | ---: |",
        ]
        for r in delivered[:shown]:
            when = _local(r.delivered_at) if r.delivered_at else "—"
            lines.append(
                f"| {_cell(_who(r))} | {_kind_label(r.kind)} | {r.period} | {when} | {r.attempts} |"
            )
        lines += _not_listed(shown, len(delivered), snapshot.day)
    else:
        lines.append("无。")
    return "\n".join(lines) + "\n"


def day_title(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def outbox_report(session: Session, day: date) -> str:
    """What goes out on `day` and what failed (``assess outbox``)."""
    snapshot = outbox_snapshot(session, day)
    return f"# 消息发送情况（{day_title(day)}）\n\n" + render_outbox(snapshot)


def artifact_markdown(
    before: OutboxSnapshot,
    after: OutboxSnapshot,
    at: datetime,
    counts: dict[str, int],
    *,
    limit: int = ARTIFACT_ROWS,
) -> str:
    """The artifact of one delivery run: its counts, and the day's outbox before and
    after it (at most ``limit`` messages per list)."""
    day = after.day
    state = (
        "开放，已发送到期消息" if counts.get("window_open") else "关闭，到期消息等待下一发送窗口"
    )
    return "\n".join(
        [
            f"# 消息发送情况（{day_title(day)}）",
            "",
            f"运行时间：{local_text(at)}（北京时间）；发送窗口：{state}。",
            "",
            f"本次：送达 {counts.get('delivered', 0)} 条，待重试 "
            f"{counts.get('failed', 0) + counts.get('partial', 0)} 条，无法送达 "
            f"{counts.get('undeliverable', 0)} 条，运维告警 {counts.get('alerts', 0)} 条，"
            f"发送尝试 {counts.get('attempts', 0)} 次"
            + (
                f"；另有 {counts['held_elsewhere']} 条正由另一发送任务处理，本次未发送。"
                if counts.get("held_elsewhere")
                else "。"
            ),
            "",
            "## 发送前",
            "",
            render_outbox(before, heading="###", limit=limit),
            "## 发送后",
            "",
            render_outbox(after, heading="###", limit=limit),
            "渠道地址已脱敏；本页不含消息正文。",
        ]
    )
