"""A flow run's task runs, read back through the Prefect API, as the run's graph shows them."""

from __future__ import annotations

from typing import Any

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import TaskRunSort


async def task_states(state: Any) -> list[tuple[str, str, str, str]]:
    """(task name, state type, state name, state message) of each task run of the flow run
    that ended in `state`, oldest first."""
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            ),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        )
    return [
        (
            r.name.rsplit("-", 1)[0],  # "smoke-test-6e5": the task's name and a suffix
            r.state.type.value if r.state else "?",
            r.state.name or "" if r.state else "?",
            r.state.message or "" if r.state else "",
        )
        for r in runs
    ]
