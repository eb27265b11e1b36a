"""A flow run's log lines, read back through the Prefect API as the UI shows them.

Logs travel to the server in batches from a background worker, so a run that just ended may
not have all of them stored yet: flush this process's batch first, then wait (bounded) for the
lines the test expects instead of reading once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler


async def run_log_text(
    flow_run_id: UUID, *, expect: Sequence[str] = (), timeout: float = 20.0
) -> str:
    """Every log message of the run, one per line; waits up to `timeout` s for `expect`."""
    await APILogHandler.aflush()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with get_client() as client:
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
        text = "\n".join(log.message for log in logs)
        if all(e in text for e in expect) or asyncio.get_running_loop().time() > deadline:
            return text
        await asyncio.sleep(0.5)
