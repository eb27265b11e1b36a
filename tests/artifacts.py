"""A flow run's artifacts, read back through the Prefect API as the UI shows them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import Artifact
from prefect.client.schemas.sorting import ArtifactSort


async def _newest_first(state_or_flow_run_id: Any) -> list[Artifact]:
    if isinstance(state_or_flow_run_id, UUID):
        flow_run_id = state_or_flow_run_id
    else:
        flow_run_id = state_or_flow_run_id.state_details.flow_run_id
    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])),
            sort=ArtifactSort.CREATED_DESC,
        )


async def artifacts_of(state_or_flow_run_id: Any) -> dict[str, Artifact]:
    """The keyed artifacts of a flow run (the state it ended in, or its id), by key.

    A key the run published more than once (e.g. an approval form per gate) maps to the
    newest, as the UI shows it; the server's default order (by random id) would be chance."""
    by_key: dict[str, Artifact] = {}
    for a in await _newest_first(state_or_flow_run_id):
        if a.key:
            by_key.setdefault(a.key, a)
    return by_key


async def artifact_of(state: Any, key: str) -> Artifact:
    """The one artifact with `key` of the flow run that ended in `state`."""
    [found] = [a for a in await _newest_first(state) if a.key == key]
    return found


async def artifact_versions(state: Any, key: str) -> list[Artifact]:
    """Every version the run published under `key`, newest first."""
    return [a for a in await _newest_first(state) if a.key == key]
