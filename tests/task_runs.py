"""A flow run's task runs, read back through the Prefect API, as the run's graph shows them.

Prefect 3.9 records a task run from the events its engine emits (`emit_task_run_state_change_event`
in prefect/task_engine.py), sent by a background worker and written by the server's
task-run recorder. So a flow run that just ended may not have its last task runs, or their
final states, stored yet: wait (bounded) until the tasks the test expects are there and every
task run read is final, instead of reading once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import TaskRunSort


async def task_states(
    state: Any, *, expect: Sequence[str] = (), timeout: float = 20.0
) -> list[tuple[str, str, str, str]]:
    """(task name, state type, state name, state message) of each task run of the flow run
    that ended in `state`, oldest first; waits up to `timeout` s until each name in `expect`
    is there (as often as it is listed) and every task run is final."""
    wanted = Counter(expect)
    deadline = asyncio.get_running_loop().time() + timeout
    async with get_client() as client:
        while True:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
                ),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            )
            rows = [
                (
                    r.name.rsplit("-", 1)[0],  # "smoke-test-6e5": the task's name and a suffix
                    r.state.type.value if r.state else "?",
                    r.state.name or "" if r.state else "?",
                    r.state.message or "" if r.state else "",
                )
                for r in runs
            ]
            stored = Counter(name for name, *_ in rows)
            settled = all(r.state is not None and r.state.is_final() for r in runs)
            if settled and all(stored[n] >= k for n, k in wanted.items()):
                return rows
            if asyncio.get_running_loop().time() > deadline:
                return rows
            await asyncio.sleep(0.2)
