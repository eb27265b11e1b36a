"""Whether a paused run's resume form is there yet.

Prefect 3.9's `pause_flow_run` and `suspend_flow_run` (prefect/flow_runs.py), and our
`wait_at_form` (tasks/waiting.py) that does as they do, set the run Paused first and only then
save its form as flow-run inputs: the JSON schema, then the Markdown description (every form of
ours has one). Until the schema is saved the server refuses a resume ("Run input schema not
found.", `resume_flow_run` in prefect/server/api/flow_runs.py), and a read of the description
gives None (CI on 8833f15 hit that once). A test that reads or answers a form as soon as the run
shows Paused waits for the description, the last of the two.
"""

from __future__ import annotations

import httpx
from prefect.client.orchestration import PrefectClient, SyncPrefectClient
from prefect.client.schemas.objects import FlowRun


def _description_key(run: FlowRun) -> str | None:
    """The input key of the form's description; None for a pause without a form."""
    if run.state is None or run.state.state_details.run_input_keyset is None:
        return None
    return run.state.state_details.run_input_keyset["description"]


def _missing(exc: httpx.HTTPStatusError) -> bool:
    return exc.response.status_code == 404


async def form_saved(client: PrefectClient, run: FlowRun) -> bool:
    key = _description_key(run)
    if key is None:
        return True
    try:
        await client.read_flow_run_input(run.id, key)
    except httpx.HTTPStatusError as exc:
        if _missing(exc):
            return False
        raise
    return True


def form_saved_sync(client: SyncPrefectClient, run: FlowRun) -> bool:
    key = _description_key(run)
    if key is None:
        return True
    try:
        client.read_flow_run_input(run.id, key)
    except httpx.HTTPStatusError as exc:
        if _missing(exc):
            return False
        raise
    return True
