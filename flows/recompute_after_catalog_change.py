"""目录修订后重新核算: after a catalog revision, recompute the months it changes.

``recompute_after_catalog_change(revision_id)`` plans again, in month order, every month
of the revision's year already analysed from its effective month on, under the catalog
as of that month (months before it keep the rules they were assessed under), and books
only the difference as correcting entries naming the revision, one batch of units of
one month per transaction under every category's lock. Then it restates the stored
half-year and annual results those months feed (cause ``catalog:<id>``; a rank or grade
change tells the office) and publishes the office's summary (artifact
``catalog-revision-<id>``). No monthly digest is sent again: each unit concerned got
one ``catalog_changed`` message when the revision was recorded. A second run books and
queues nothing; a run that failed half-way is completed by the next.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.common import run_clock
from models.plans.catalog_recompute import catalog_recompute_markdown
from tasks.artifacts import publish_artifacts_task
from tasks.catalog_recompute import (
    finish_catalog_recompute_task,
    recompute_month_task,
    restate_results_task,
    start_catalog_recompute_task,
)
from tasks.monthly_tasks import unit_batches_task
from tasks.runtime import current_runtime


@flow(
    name="recompute_after_catalog_change",
    flow_run_name="recompute-after-catalog-change-{revision_id}",
    description=(
        "目录修订后重新核算：自生效月份起逐月按新目录重算已分析的月份，只记更正分录，"
        "更正受影响的半年与年度结果，并生成修订情况汇总。"
    ),
)
def recompute_after_catalog_change(
    revision_id: int, batch_size: int = 1000, now: datetime | None = None
) -> State[dict[str, Any]]:
    """Recompute after catalog revision ``revision_id`` (see the module docstring)."""
    runtime = current_runtime()
    now = run_clock(runtime, now)
    start = start_catalog_recompute_task(runtime, revision_id)
    batches = unit_batches_task(runtime, batch_size)
    booked = [recompute_month_task(runtime, revision_id, month, batch, now)
              for month in start.months for batch in batches]  # fmt: skip
    settlements, restated = restate_results_task(runtime, revision_id, now)
    summary = finish_catalog_recompute_task(runtime, start, booked, settlements, restated)
    publish_artifacts_task(
        f"catalog-revision-{revision_id}",
        f"目录修订 #{revision_id}（{start.document_ref}）重新核算",
        catalog_recompute_markdown(summary),
    )
    message = f"catalog revision {revision_id}: {summary.booked} entries booked"
    return Completed(message=message, data=summary.as_dict())
