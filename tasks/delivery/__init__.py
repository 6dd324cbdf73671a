"""Delivery: the outbox in the database, and its messages sent to the units' channels.

A message for a unit is queued into the outbox once, waits for the send window, and
is sent to every channel of its unit (Apprise URLs: robots, email, webhooks) by a
delivery run that retries, keeps the books of every try, never sends a message twice
and alerts the office when a unit cannot be reached.

One module per concern (each imports only those above it; no cycle)::

    channels.py     a channel URL: its schema and body format, shown redacted,
                    its secrets, text scrubbed of them
    log_guard.py    while sending: the logs of Apprise and the HTTP libraries
                    scrubbed, Apprise's reasons for a failure collected
    robots.py       the Apprise plugin per channel (`make_notifier`); DingTalk, WeCom
                    and Feishu robots checked for an error code in an HTTP 200
    rate_limits.py  per-channel rate limits (robots: 20 a minute)
    lease.py        claiming a message before it is sent, its answers committed as
                    they come, its status written and the message released
    sending.py      one message over its channels: per-channel tries and backoff
                    (`DeliveryPolicy`, on the one retry policy `tasks.retry`)
    reads.py        Core reads shared by the run and the office's view: due
                    messages, outgoing messages, attempts, units
    queueing.py     into the outbox: digests planned and saved once, the send
                    window, requeueing
    settling.py     after a round: a message's status, the office alert for an
                    unreachable unit
    outbox.py       the delivery run `deliver_due`: due messages on a thread pool
    snapshot.py     the office's view of one day's outbox (data)
    report.py       that view rendered in Chinese (``assess outbox``, the artifact)
    tasks.py        the Prefect tasks of the `deliver_outbox` flow

Message statuses: pending (waiting for its window), partial (reached the unit
through some channels, others retried), failed (no channel yet, retried),
delivered, undeliverable (given up, office alerted), superseded (replaced
before it was delivered), withdrawn (nothing left to act on).

The names below are the package's public API (the Prefect tasks are imported from
`tasks.delivery.tasks`).
"""

from tasks.delivery.channels import (
    body_format_for,
    channel_schema,
    channel_secrets,
    redact_channel,
    scrub,
)
from tasks.delivery.outbox import DEFAULT_CONCURRENCY, DeliveryRun, deliver_due, load_due_messages
from tasks.delivery.queueing import (
    load_existing,
    queue_digests,
    requeue_message,
    save_outbox,
    send_window,
)
from tasks.delivery.rate_limits import DEFAULT_RATE_LIMITS, RateLimit, RateLimiter
from tasks.delivery.reads import OutgoingMessage
from tasks.delivery.report import outbox_report, render_outbox
from tasks.delivery.robots import (
    ChannelError,
    CheckedDingTalk,
    CheckedFeishu,
    CheckedWeComBot,
    Notifier,
    NotifierFactory,
    make_notifier,
    robot_response_error,
)
from tasks.delivery.sending import (
    DEFAULT_POLICY,
    ChannelResult,
    DeliveryPolicy,
    Sendable,
    SendResult,
    send_message,
)
from tasks.delivery.snapshot import OutboxRow, OutboxSnapshot, outbox_snapshot

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_POLICY",
    "DEFAULT_RATE_LIMITS",
    "ChannelError",
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
    "outbox_report",
    "outbox_snapshot",
    "queue_digests",
    "redact_channel",
    "render_outbox",
    "requeue_message",
    "robot_response_error",
    "save_outbox",
    "scrub",
    "send_message",
    "send_window",
]
