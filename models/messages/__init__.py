"""Messages to units and to the office, as pure functions over plain data.

- `digest`: the items a unit is told about (`MissingUpload`, `LevelItem`,
  `DeductionChange`, `Rectification`, `AppealDecision`, `ResultItem`), `UnitDigest`, the
  content hash and `message_key`.
- `outbox`: `plan_outbox` (new / skip / correction / replace / withdraw) over the
  messages already in the outbox.
- `render`: `build_unit_message`, THE one place a message to a unit is built
  (refuses on-site check plan content), and `build_office_alert`.

No database, HTTP, Prefect or clock here.
"""

from .digest import (
    ALLOWED_ITEM_TYPES,
    KIND_LABELS,
    AppealDecision,
    AppealWindow,
    ConfidentialContentError,
    DeductionChange,
    DigestItem,
    LevelItem,
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
    "MessageKind",
    "MessagePlan",
    "MessageStatus",
    "MissingUpload",
    "PlanAction",
    "Rectification",
    "RenderedMessage",
    "ResultItem",
    "UnitDigest",
    "build_office_alert",
    "build_unit_message",
    "canonical_digest",
    "content_hash",
    "find_confidential_marker",
    "message_key",
    "ordered_items",
    "plan_outbox",
]
