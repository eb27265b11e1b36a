"""Drill: the Prefect server restarts while an infrastructure-monitor run is in the middle of
its checks. Nothing is lost and nothing runs twice.

The stack is `make demo`'s (the session's, tests/e2e/demo_stack.py; SQLite server, a worker). hotdash-chatwoot's
/health answers in 8 s (under the 10 s probe timeout, over its 2 s budget), so its latency
rule fails on every run and a monitor run spends seconds in its health checks. Run 1 leaves
the alert pending (it fires after two failing runs). Run 2 is where the server is stopped
and started again: its flow-run process keeps checking Fly.io, and its calls to the API are
retried by Prefect's client until the server answers again.

Afterwards run 2 is Completed, entered Running once and was submitted by the worker once,
its metrics table is on the server, and the alert fired with exactly one notification.
(A waiting approval across a server restart: tests/e2e/test_approval_survives_restart.py.)

The same stack then has its SQLite database backed up while it runs, as the README says.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import FlowRun, StateType

from tests.e2e.demo_stack import E2EStack
from tests.e2e.prefect_api import is_terminal, run_deployment, wait_until

pytestmark = pytest.mark.e2e

MONITOR = "infrastructure-monitor/infrastructure-monitor"
SLOW_APP = "hotdash-chatwoot"
SLOW_MS = 8000


def run_monitor(client: SyncPrefectClient) -> FlowRun:
    return run_deployment(client, MONITOR, {"stale_after_minutes": 0})


def in_health_checks(client: SyncPrefectClient, run_id: UUID) -> bool:
    """The run is Running and has started its fleet health checks."""
    run = client.read_flow_run(run_id)
    if run.state is None or run.state.type != StateType.RUNNING:
        return False
    task_runs = client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
    )
    return any(t.name.startswith("check-fleet-health") for t in task_runs)


def notifications(state: Path) -> list[dict[str, Any]]:
    path = state / "notifications.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_server_restart_during_a_monitor_run_loses_nothing_and_repeats_nothing(
    e2e: tuple[E2EStack, Path],
) -> None:
    demo, state = e2e
    stack, config, receiver = demo.stack, demo.config, demo.receiver
    started = time.monotonic()
    endpoints = {"/health": {"status": 200, "latency_ms": SLOW_MS, "body": {"status": "ok"}}}
    httpx.patch(
        f"{config.flysim_url}/_sim/apps/{SLOW_APP}", json={"endpoints": endpoints}, timeout=10
    ).raise_for_status()
    with demo.client() as client:
        first = run_monitor(client)
        wait_until(client, [first.id], is_terminal, timeout=120, what="monitor run 1")
    assert [s for s in receiver.subjects() if SLOW_APP in s] == []  # pending, not sent

    with demo.client() as client:
        second = run_monitor(client)
        wait_until(
            client,
            [second.id],
            lambda r: in_health_checks(client, r.id),
            timeout=120,
            what="monitor run 2 in its health checks",
            check=stack.check_children,
        )
    away = demo.restart_server()

    with demo.client() as client:
        (done,) = wait_until(client, [second.id], is_terminal, timeout=150, what="run 2")
        assert done.state is not None and done.state.type == StateType.COMPLETED, (
            done.state.message if done.state else None
        )
        states = [s.type for s in client.read_flow_run_states(second.id)]
        assert states.count(StateType.RUNNING) == 1, states
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[second.id]))
        )
        [table] = [a for a in artifacts if a.key == "infrastructure-monitor"]
        rows = json.loads(table.data) if isinstance(table.data, str) else table.data
        assert any(SLOW_APP in json.dumps(row) for row in rows), rows
    worker_log = demo.worker_log()
    assert worker_log.count(f"submitting flow run '{second.id}'") == 1
    # The alert reached the receiver once, and the record says delivered.
    fired = [s for s in receiver.subjects() if SLOW_APP in s]
    assert len(fired) == 1 and fired[0].startswith("[FIRING"), receiver.subjects()
    [record] = [n for n in notifications(state) if SLOW_APP in n["subject"]]
    assert record["delivered"] and not record["failed"], record
    print(f"server away {away:.1f} s; drill took {time.monotonic() - started:.1f} s")


def test_sqlite_backup_while_the_server_runs_holds_every_run(
    e2e_stack: E2EStack, tmp_path: Path
) -> None:
    """The README's backup of the demo's SQLite database (`sqlite3 prefect.db ".backup ..."`),
    taken while the server runs: a consistent copy with every flow run."""
    with e2e_stack.client() as client:
        run_ids = {r.id for r in client.read_flow_runs(limit=200)}
    assert run_ids  # the monitor runs of the drill above, at least
    database = e2e_stack.config.state_dir / "prefect" / "prefect.db"
    backup = tmp_path / "prefect-backup.db"
    subprocess.run(["sqlite3", str(database), f".backup {backup}"], check=True)
    with closing(sqlite3.connect(backup)) as copy:
        assert copy.execute("pragma integrity_check").fetchone() == ("ok",)
        stored = {UUID(row[0]) for row in copy.execute("select id from flow_run")}
    assert run_ids <= stored, run_ids - stored
