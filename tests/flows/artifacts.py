"""A flow run's artifacts, read back through the Prefect API as the UI shows them."""

from __future__ import annotations

from typing import Any

from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import Artifact


async def artifact_of(state: Any, key: str) -> Artifact:
    """The one artifact with `key` of the flow run that ended in `state`."""
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    [found] = [a for a in artifacts if a.key == key]
    return found
