"""Talking to a stack's Prefect server from a test: a client for its URL and auth string
(not the session's test harness), and waits on flow-run states."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun, StateType

from tests.paused_forms import form_saved_sync, is_paused, pause_key

TERMINAL = {
    StateType.COMPLETED,
    StateType.FAILED,
    StateType.CRASHED,
    StateType.CANCELLED,
}


@contextmanager
def stack_client(api_url: str, auth_string: str) -> Iterator[SyncPrefectClient]:
    with SyncPrefectClient(api_url, auth_string=auth_string) as client:
        yield client


def run_deployment(
    client: SyncPrefectClient, name: str, parameters: dict[str, Any], **kwargs: Any
) -> FlowRun:
    """Create a run of deployment `flow/deployment` (as the UI's Run button does)."""
    deployment = client.read_deployment_by_name(name)
    return client.create_flow_run_from_deployment(deployment.id, parameters=parameters, **kwargs)


def wait_until(
    client: SyncPrefectClient,
    run_ids: Iterable[UUID],
    done: Callable[[FlowRun], bool],
    *,
    timeout: float,
    what: str = "",
    check: Callable[[], None] | None = None,
) -> list[FlowRun]:
    """Poll the runs until `done` holds for each; TimeoutError naming the stragglers."""
    ids = list(run_ids)
    deadline = time.monotonic() + timeout
    while True:
        runs = [client.read_flow_run(i) for i in ids]
        if all(done(r) for r in runs):
            return runs
        if check is not None:
            check()
        if time.monotonic() > deadline:
            late = [f"{r.name} {r.state.name if r.state else '?'}" for r in runs if not done(r)]
            raise TimeoutError(f"{what or 'runs'} not done within {timeout:.0f} s: {late}")
        time.sleep(0.5)


def is_terminal(run: FlowRun) -> bool:
    return run.state is not None and run.state.type in TERMINAL


def waiting_at(client: SyncPrefectClient, key: str) -> Callable[[FlowRun], bool]:
    """The run waits at gate `key` and its form is there to answer."""
    return lambda run: is_paused(run) and pause_key(run) == key and form_saved_sync(client, run)
