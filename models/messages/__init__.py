"""Messages to units and to the office, as pure functions over plain data.

- `digest`: the items a unit is told about (`MissingUpload`, `LevelItem`,
  `DeductionChange`, `Rectification`, `AppealDecision`, `ResultItem`), `UnitDigest`, the
  content hash and `message_key`.
- `outbox`: `plan_outbox` (new / skip / correction / replace / withdraw) over the
  messages already in the outbox.
- `merging`: catch-up without flooding: `merge_digests`, `MERGEABLE_KINDS`.
- `deadlines`: appeal deadlines filled in at delivery (`fill_appeal_deadline`).
- `render`: `build_unit_message`, THE one place a message to a unit is built
  (refuses on-site check plan content), and `build_office_alert`.

No database, HTTP, Prefect or clock here.
"""

from .deadlines import appeal_placeholder, delivery_day, fill_appeal_deadline
from .digest import (
    ALLOWED_ITEM_TYPES,
    KIND_LABELS,
    AppealDecision,
    AppealWindow,
    ConfidentialContentError,
    DeductionChange,
    DigestItem,
    LevelItem,
    MessageFooter,
    MessageKind,
    MissingUpload,
    Rectification,
    ResultItem,
    UnitDigest,
    canonical_digest,
    content_hash,
    message_key,
    ordered_items,
)
from .merging import MERGEABLE_KINDS, digest_from_canonical, merge_digests
from .outbox import (
    DELIVERED_STATUSES,
    MESSAGE_STATUS_LABELS,
    WAITING_STATUSES,
    AttemptOutcome,
    ExistingMessage,
    ExistingMessages,
    MessagePlan,
    MessageStatus,
    PlanAction,
    WaitingMessage,
    plan_outbox,
)
from .render import (
    ON_SITE_CHECK_MARKERS,
    RenderedMessage,
    build_office_alert,
    build_unit_message,
    find_confidential_marker,
)

__all__ = [
    "ALLOWED_ITEM_TYPES",
    "DELIVERED_STATUSES",
    "KIND_LABELS",
    "MERGEABLE_KINDS",
    "MESSAGE_STATUS_LABELS",
    "ON_SITE_CHECK_MARKERS",
    "WAITING_STATUSES",
    "AppealDecision",
    "AppealWindow",
    "AttemptOutcome",
    "ConfidentialContentError",
    "DeductionChange",
    "DigestItem",
    "ExistingMessage",
    "ExistingMessages",
    "LevelItem",
    "MessageFooter",
    "MessageKind",
    "MessagePlan",
    "MessageStatus",
    "MissingUpload",
    "PlanAction",
    "Rectification",
    "RenderedMessage",
    "ResultItem",
    "UnitDigest",
    "WaitingMessage",
    "appeal_placeholder",
    "build_office_alert",
    "build_unit_message",
    "canonical_digest",
    "content_hash",
    "delivery_day",
    "digest_from_canonical",
    "fill_appeal_deadline",
    "find_confidential_marker",
    "merge_digests",
    "message_key",
    "ordered_items",
    "plan_outbox",
]
