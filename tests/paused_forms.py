"""A paused run: the gate it waits at, and whether its resume form is there yet.

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
from prefect.client.schemas.objects import FlowRun, StateType


def is_paused(run: FlowRun) -> bool:
    return run.state is not None and run.state.type == StateType.PAUSED


def pause_key(run: FlowRun) -> str | None:
    """The key of the gate a paused run waits at (e.g. `manager-approval`)."""
    if run.state is None or run.state.state_details is None:
        return None
    return run.state.state_details.pause_key


async def waits_at(client: PrefectClient, run: FlowRun, key: str | None = None) -> bool:
    """The run waits at gate `key` (at any gate: None) and its form is there to answer
    (tests/e2e/prefect_api.py's `waiting_at` is the same for a stack's sync client)."""
    at_key = key is None or pause_key(run) == key
    return is_paused(run) and at_key and await form_saved(client, run)


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
