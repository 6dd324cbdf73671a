"""Publishing what a run shows the office in the Prefect UI: one task for every flow."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish_artifacts_task(
    key: str, title: str, markdown: str, table: list[dict[str, Any]] | None = None
) -> None:
    """The run's report as the markdown artifact ``key``; with ``table``, the table takes
    ``key`` and the report ``<key>-report`` (keys: lowercase letters, digits, dashes)."""
    if table is not None:
        create_table_artifact(key=key, table=table, description=title)
        key = f"{key}-report"
    create_markdown_artifact(key=key, markdown=markdown, description=title)
