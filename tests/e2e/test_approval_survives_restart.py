"""A production deploy waiting for approval survives a worker restart and a Prefect server
restart, and its approval deadline is enforced with nobody watching.

Real parts only: `prefect server start` (SQLite in a temporary PREFECT_HOME), a process work
pool, the two deployments registered with `prefect deploy` from a prefect.yaml shaped like
the project's, `prefect worker start` subprocesses running against flysim. Approvers answer
through the API (`resume_flow_run` with run_input), as the UI's resume form does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import yaml
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterDeploymentId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.deployments import arun_deployment
from prefect.flow_runs import aresume_flow_run
from prefect.settings import PREFECT_API_URL, temporary_settings

from hotdash_ops.deploys.window import WEEKDAYS
from tests.conftest import BIN, ROOT, Flysim, free_port, wait_http

pytestmark = pytest.mark.e2e

POOL = "hotdash-e2e"
PROD = "hotdash-production"
STAGING = "hotdash-staging"
PROD_V4 = "registry.fly.io/hotdash-production:deployment-01J9SVKA0027H6P3AMKDQG6STT"

# The deploy-production blocks of prefect.yaml, with this checkout as the working directory.
PREFECT_YAML = """
name: hotdash-ops
prefect-version: 3.9.1
pull:
  - prefect.deployments.steps.set_working_directory:
      directory: "{root}"
definitions:
  work_pool: &work_pool
    name: {pool}
    work_queue_name: default
deployments:
  - name: deploy-production
    entrypoint: flows/deploy_production.py:deploy_production
    tags: [deploy, production]
    work_pool: *work_pool
  - name: deploy-production-approval-deadline
    entrypoint: flows/deploy_production.py:approval_deadline
    tags: [deploy, production]
    work_pool: *work_pool
"""


def _clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FLY", "HOTDASH_"))
    }


@dataclass
class Stack:
    """A Prefect server on its own port and home, and the workers started against it."""

    home: Path
    port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **_clean_env(),
            "PREFECT_HOME": str(self.home / "prefect"),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            **extra,
        }

    def start_server(self) -> None:
        log = open(self.home / "server.log", "ab")  # lives as long as the process
        self.server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--no-ui"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(f"{self.api_url}/health", self.server, timeout=90)

    def stop_server(self) -> None:
        assert self.server is not None
        self.server.send_signal(signal.SIGTERM)
        self.server.wait(30)
        self.server = None

    def cli(self, *args: str) -> None:
        done = subprocess.run(
            [str(BIN / "prefect"), "--no-prompt", *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def start_worker(self, worker_env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        log = open(self.home / f"{name}.log", "ab")
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", name],
            env=self.env(**worker_env),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed as a whole
        )
        self.workers.append(worker)
        return worker

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)

    def stop_workers(self) -> None:
        for worker in self.workers:
            self.kill(worker)
        self.workers.clear()

    def close(self) -> None:
        self.stop_workers()
        if self.server is not None:
            self.kill(self.server)


async def create_pool(api_url: str) -> None:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        async with get_client() as client:
            await client.create_work_pool(
                WorkPoolCreate(
                    name=POOL,
                    type="process",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Server, work pool and both deployments; shared by the tests of this module."""
    home = tmp_path_factory.mktemp("approval-e2e")
    s = Stack(home=home)
    try:
        s.start_server()
        asyncio.run(create_pool(s.api_url))
        (home / "prefect.yaml").write_text(PREFECT_YAML.format(root=ROOT, pool=POOL))
        s.cli("deploy", "--all", "--prefect-file", str(home / "prefect.yaml"))
        yield s
    finally:
        s.close()


@pytest.fixture(autouse=True)
def own_workers(stack: Stack) -> Iterator[None]:
    """Each test's workers stop with it: a worker left over would take the next test's run
    (with this test's environment)."""
    yield
    stack.stop_workers()


@pytest.fixture
def sim(flysim_server: Flysim, tmp_path: Path) -> Iterator[tuple[Flysim, dict[str, str]]]:
    """flysim in its scenario's state, and the environment a worker needs to use it."""
    flysim_server.reset()
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data["deploy"] = {"window": {"days": list(WEEKDAYS)}}  # any day is a deploy day here
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(data))
    env = {
        **flysim_server.env(),
        "HOTDASH_INVENTORY": str(inventory),
        "HOTDASH_STATE_DIR": str(tmp_path / "state"),
    }
    yield flysim_server, env
    flysim_server.reset()


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[None]:
    """This test process talks to the e2e server (not the session's test harness)."""
    with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
        yield


async def start_deploy(**params: Any) -> UUID:
    run = await arun_deployment(
        "deploy-production/deploy-production",
        parameters={
            "requested_by": "Alice",
            "reason": "Ship the October dashboard",
            "checklist_url": "https://example.com/go-live/2025-10-14",
            "watch_minutes": 0.05,
            "watch_interval_seconds": 1,
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
            run = await read_run(run_id)
        except httpx.HTTPError:  # the server is restarting
            await asyncio.sleep(0.5)
            continue
        if run.state is not None and run.state.is_final():
            raise AssertionError(f"run ended before {key}: {run.state.name} {run.state.message}")
        if run.state is not None and run.state.is_paused():
            if run.state.state_details.pause_key == key:
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


async def timer_states(stack: Stack) -> list[str]:
    async with get_client() as client:
        timer = await client.read_deployment_by_name(
            "deploy-production-approval-deadline/deploy-production-approval-deadline"
        )
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(any_=[timer.id]))
        )
    return [r.state.name for r in runs if r.state is not None]


async def test_approval_survives_a_worker_killed_while_waiting(
    stack: Stack, sim: tuple[Flysim, dict[str, str]], api: None, tmp_path: Path
) -> None:
    flysim, env = sim
    worker = stack.start_worker(env, "worker-1")
    run_id = await start_deploy()
    run = await suspended_at(run_id, "manager-approval")
    assert run.state is not None and run.state.name == "Suspended"  # no process holds it

    stack.kill(worker)  # SIGKILL, the whole process group
    stack.start_worker(env, "worker-2")
    await aresume_flow_run(run_id, run_input=approve("Bob"))
    await suspended_at(run_id, "reliability-approval")
    await aresume_flow_run(run_id, run_input=approve("Carol"))
    run = await finished(run_id)

    assert run.state is not None and run.state.is_completed(), run.state
    assert await completed_states(run_id) == ["Completed"]
    assert_deployed_once(flysim, tmp_path / "state")
    assert "Cancelled" in await timer_states(stack)  # the deadline timer is not left behind


async def test_approval_survives_a_server_restart_while_waiting(
    stack: Stack, sim: tuple[Flysim, dict[str, str]], api: None, tmp_path: Path
) -> None:
    flysim, env = sim
    stack.start_worker(env, "worker-3")
    run_id = await start_deploy()
    await suspended_at(run_id, "manager-approval")

    stack.stop_server()
    stack.start_server()
    await aresume_flow_run(run_id, run_input=approve("Bob"))
    await suspended_at(run_id, "reliability-approval")
    await aresume_flow_run(run_id, run_input=approve("Carol"))
    run = await finished(run_id)

    assert run.state is not None and run.state.is_completed(), run.state
    assert await completed_states(run_id) == ["Completed"]
    assert_deployed_once(flysim, tmp_path / "state")


async def test_a_suspended_request_times_out_with_nobody_watching(
    stack: Stack, sim: tuple[Flysim, dict[str, str]], api: None, tmp_path: Path
) -> None:
    flysim, env = sim
    stack.start_worker(env, "worker-4")
    run_id = await start_deploy(approval_timeout_hours=12 / 3600)  # twelve seconds
    await suspended_at(run_id, "manager-approval")
    run = await finished(run_id, timeout=90)

    assert run.state is not None and run.state.is_failed()
    assert (run.state.message or "").startswith(
        "rejected: approval timed out: no decision at manager-approval before the deadline"
    )
    assert prod_deploys(flysim) == []
    state_dir = tmp_path / "state"
    actions = [r["action"] for r in lines(state_dir / "audit.jsonl")]
    assert actions == ["approval.requested", "approval.timed_out"]
    subjects = [n["subject"] for n in lines(state_dir / "notifications.jsonl")]
    assert subjects[-1] == f"deploy-production of {PROD} rejected"
    assert "Completed" in await timer_states(stack)
