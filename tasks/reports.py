"""Artifacts a person reads instead of the logs. Every text passes the redactor first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from hotdash_ops.redaction import default_redactor
from tasks import fly_access


def reports_dir() -> Path:
    """Where charts and report files go: `<state>/reports/`."""
    return fly_access.settings().hotdash_state_dir / "reports"


def _clean(description: str | None) -> str | None:
    return default_redactor().redact(description) if description else description


@task(name="publish-markdown", cache_policy=NO_CACHE)
async def publish_markdown(key: str, markdown: str, description: str | None = None) -> None:
    """A markdown artifact under a stable key (each run adds a version)."""
    await acreate_markdown_artifact(
        markdown=default_redactor().redact(markdown), key=key, description=_clean(description)
    )


@task(name="publish-table", cache_policy=NO_CACHE)
async def publish_table(
    key: str, rows: list[dict[str, Any]], description: str | None = None
) -> None:
    """A table artifact under a stable key; cells are redacted like any text."""
    redactor = default_redactor()
    clean = [
        {k: redactor.redact(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows
    ]
    await acreate_table_artifact(table=clean, key=key, description=_clean(description))
