"""A production deploy waiting for approval survives a worker killed while it waits and a
Prefect server restart while it waits, and its approval deadline is enforced with nobody
watching.

Real parts only: the session's `make demo` stack (tests/e2e/demo_stack.py: `prefect server
start` on SQLite, the process work pool, prefect.yaml's deployments registered with `prefect
deploy`), `prefect worker start` subprocesses running against flysim. Approvers answer through
the API (`resume_flow_run` with run_input), as the UI's resume form does.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import arun_deployment
from prefect.flow_runs import aresume_flow_run
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

from tests.conftest import Flysim
from tests.e2e.demo_stack import E2EStack
from tests.paused_forms import form_saved

PROD = "hotdash-production"
STAGING = "hotdash-staging"


@pytest.fixture
async def api(e2e: tuple[E2EStack, Path]) -> AsyncIterator[None]:
    """This test process talks to the e2e stack's server (not the session's test harness)."""
    stack, _ = e2e
    with temporary_settings(
        updates={PREFECT_API_URL: stack.api_url, PREFECT_API_AUTH_STRING: stack.auth_string}
    ):
        yield


async def start_deploy(**params: Any) -> UUID:
    run = await arun_deployment(
        "deploy-production/deploy-production",
        parameters={
            "requested_by": "Alice",
            "reason": "Ship the October dashboard",
            "checklist_url": "https://example.com/go-live/2025-10-14",
            "untested_image_reason": "the scenario's staging image, not built by deploy-staging",
            "watch_minutes": 0.05,
            "watch_interval_seconds": 1,
            "strategy": "rolling",  # not what this test is about (the canary's: test_deploy_production.py)
            **params,
        },
        timeout=0,
    )
    return run.id


async def read_run(run_id: UUID) -> FlowRun:
    async with get_client() as client:
        return await client.read_flow_run(run_id)


async def suspended_at(run_id: UUID, key: str, timeout: float = 60) -> FlowRun:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            async with get_client() as client:
                run = await client.read_flow_run(run_id)
                shown = await form_saved(client, run)
        except httpx.HTTPError:  # the server is restarting
            await asyncio.sleep(0.5)
            continue
        if run.state is not None and run.state.is_final():
            raise AssertionError(f"run ended before {key}: {run.state.name} {run.state.message}")
        if run.state is not None and run.state.is_paused():
            if run.state.state_details.pause_key == key and shown:
                return run
        await asyncio.sleep(0.3)
    raise AssertionError(f"the run never waited at {key}")


async def finished(run_id: UUID, timeout: float = 90) -> FlowRun:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        run = await read_run(run_id)
        if run.state is not None and run.state.is_final():
            return run
        await asyncio.sleep(0.3)
    raise AssertionError("the run did not finish")


async def completed_states(run_id: UUID) -> list[str]:
    async with get_client() as client:
        states = await client.read_flow_run_states(run_id)
    return [s.name or "" for s in states if s.type == StateType.COMPLETED]


def approve(approver: str) -> dict[str, Any]:
    return {"approver": approver, "approve": True, "comment": "looks good"}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def staging_digest_ref(flysim: Flysim) -> str:
    [machine] = flysim.state()["apps"][STAGING]["machines"]
    ref = machine["image_ref"]
    return f"{ref['registry']}/{ref['repository']}@{ref['digest']}"


def prod_deploys(flysim: Flysim) -> list[dict[str, Any]]:
    return [m for m in flysim.state()["mutations"] if m["app"] == PROD and m["kind"] == "deploy"]


def assert_deployed_once(flysim: Flysim, state_dir: Path) -> None:
    promoted = staging_digest_ref(flysim)
    assert flysim.state()["apps"][PROD]["current_image"] == promoted
    assert [d["detail"]["image"] for d in prod_deploys(flysim)] == [promoted]
    actions = [r["action"] for r in lines(state_dir / "audit.jsonl")]
    # Replays after each resume repeated none of the side effects before the gates.
    assert actions.count("approval.requested") == 1
    assert actions.count("approval.approved") == 2
    assert actions.count("deploy.started") == 1
    subjects = [n["subject"] for n in lines(state_dir / "notifications.jsonl")]
    assert len([s for s in subjects if "awaiting manager approval" in s]) == 1
    assert len([s for s in subjects if "awaiting reliability approval" in s]) == 1
    assert subjects[-1].startswith("deploy-production: v") and "deployed to" in subjects[-1]


async def timer_states(run_id: UUID) -> list[str]:
    """States of the approval-deadline timer runs scheduled for `run_id`."""
    async with get_client() as client:
        timer = await client.read_deployment_by_name(
            "deploy-production-approval-deadline/deploy-production-approval-deadline"
        )
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[timer.id]))
        )
    return [
        r.state.name
        for r in runs
        if r.state is not None and str(r.parameters.get("flow_run_id")) == str(run_id)
    ]


async def test_approval_survives_a_killed_worker_and_a_server_restart_while_waiting(
    e2e: tuple[E2EStack, Path], api: None
) -> None:
    """One run, two outages: the worker (and its whole process group) is SIGKILLed while the
    run waits at the first gate, the server is restarted while it waits at the second."""
    stack, state = e2e
    run_id = await start_deploy()
    run = await suspended_at(run_id, "manager-approval")
    assert run.state is not None and run.state.name == "Suspended"  # no process holds it

    stack.stop_worker(signal.SIGKILL)
    stack.use_worker(HOTDASH_STATE_DIR=str(state))  # another worker, the same state folder
    await aresume_flow_run(run_id, run_input=approve("Bob"))
    await suspended_at(run_id, "reliability-approval")

    stack.restart_server()
    await aresume_flow_run(run_id, run_input=approve("Carol"))
    run = await finished(run_id)

    assert run.state is not None and run.state.is_completed(), run.state
    assert await completed_states(run_id) == ["Completed"]
    assert_deployed_once(stack.flysim, state)
    assert "Cancelled" in await timer_states(run_id)  # the deadline timer is not left behind


async def test_a_suspended_request_times_out_with_nobody_watching(
    e2e: tuple[E2EStack, Path], api: None
) -> None:
    stack, state_dir = e2e
    flysim = stack.flysim
    run_id = await start_deploy(approval_timeout_hours=12 / 3600)  # twelve seconds
    await suspended_at(run_id, "manager-approval")
    run = await finished(run_id, timeout=90)

    assert run.state is not None and run.state.is_failed()
    assert (run.state.message or "").startswith(
        "rejected: approval timed out: no decision at manager-approval before the deadline"
    )
    assert prod_deploys(flysim) == []
    actions = [r["action"] for r in lines(state_dir / "audit.jsonl")]
    assert actions == ["approval.requested", "approval.timed_out"]
    subjects = [n["subject"] for n in lines(state_dir / "notifications.jsonl")]
    assert subjects[-1] == f"deploy-production of {PROD} rejected"
    assert await timer_states(run_id) == ["Completed"]
