"""A critical alert starts incident-response, once per app, through the deployment trigger.

A real stack in miniature: `prefect server start` (own PREFECT_HOME, free port), a process work
pool, the incident-response deployment registered with `prefect deploy` from a copy of
prefect.yaml, `prefect worker start` with the flysim environment. The monitor's own emitter
(`tasks.alerting.emit_alert_event`) sends two critical alerts for one app, as one monitor run
does when two rules fire; exactly one incident-response run must be created, with the app from
the event, and it must get as far as asking a person.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import BIN, ROOT, Flysim, free_port, wait_http

pytestmark = pytest.mark.e2e

APP = "hotdash-staging"
POOL = "hotdash-e2e"

# The block proposed for prefect.yaml; the test uses prefect.yaml's own when it has one.
INCIDENT_DEPLOYMENT = {
    "name": "incident-response",
    "entrypoint": "flows/incident_response.py:incident_response",
    "tags": ["incident"],
    "triggers": [
        {
            "type": "event",
            "enabled": True,
            "posture": "Reactive",
            "expect": ["hotdash.alert.fired"],
            "match": {"prefect.resource.id": "fly.app.*"},
            "for_each": ["prefect.resource.id"],
            "threshold": 1,
            "within": 3600,
            "parameters": {
                "app": "{{ event.resource.name }}",
                "severity": "P1",
                "summary": "critical {{ event.payload.rule }} alert on {{ event.resource.name }}",
                "reported_by": "infrastructure-monitor",
            },
        }
    ],
}

EMIT = """
from hotdash_ops.monitor.alert_state import AlertEvent
from prefect.events.worker import EventsWorker
from tasks.alerting import emit_alert_event

for rule in ("health", "error_rate"):
    emit_alert_event(AlertEvent(name="hotdash.alert.fired", app="{app}", rule=rule,
                                severity="critical", condition="failing", detail="drill"))
EventsWorker.drain_all()
"""


def incident_deployment() -> dict:
    project = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for deployment in project.get("deployments") or []:
        if deployment.get("name") == "incident-response":
            return dict(deployment)
    return dict(INCIDENT_DEPLOYMENT)


class Stack:
    """Processes started for the test, stopped as a group each."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        out = open(self.logs / f"{name}.log", "wb")  # closed with the process
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def prefect(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [str(BIN / "prefect"), "--no-prompt", *args], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture
def stack(tmp_path: Path, flysim_server: Flysim) -> Iterator[tuple[Stack, str]]:
    flysim_server.reset()
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FLY", "HOTDASH_"))}
    env.update(flysim_server.env())
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
        HOTDASH_HOME=str(ROOT),
        HOTDASH_INVENTORY=str(ROOT / "deployments/inventory.yaml"),
        HOTDASH_STATE_DIR=str(tmp_path / "state"),
        HOTDASH_PAUSE_POLL_SECONDS="1",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    s = Stack(env, logs)
    try:
        server = s.spawn(
            "server",
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port),
             "--no-ui"],
        )  # fmt: skip
        wait_http(f"{api}/health", server, timeout=120)
        yield s, api
    finally:
        s.stop()
        flysim_server.reset()


def flow_runs(api: str) -> list[dict]:
    body = {"flows": {"name": {"any_": ["incident-response"]}}}
    return httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).raise_for_status().json()


def fired_events(api: str) -> int:
    body = {"filter": {"event": {"name": ["hotdash.alert.fired"]}}, "limit": 50}
    page = httpx.post(f"{api}/events/filter", json=body, timeout=10).raise_for_status().json()
    return len(page["events"])


def test_critical_alert_starts_exactly_one_incident_response(stack, tmp_path: Path) -> None:
    s, api = stack
    started = time.monotonic()
    s.prefect("work-pool", "create", POOL, "--type", "process", "--overwrite")
    project = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployment = {**incident_deployment(), "work_pool": {"name": POOL}}
    project["deployments"] = [deployment]
    project.pop("definitions", None)
    config = tmp_path / "prefect.yaml"
    config.write_text(yaml.safe_dump(project, sort_keys=False))
    s.prefect("deploy", "--prefect-file", str(config), "--all")
    automations = httpx.post(f"{api}/automations/filter", json={}, timeout=10).json()
    assert [a["name"] for a in automations] == ["incident-response__automation_1"]
    s.spawn("worker", [str(BIN / "prefect"), "worker", "start", "--pool", POOL])

    # The monitor emits one event per critical rule; two rules fire for one app.
    subprocess.run(
        [sys.executable, "-c", EMIT.format(app=APP)], cwd=ROOT, env=s.env, check=True, timeout=60
    )
    deadline = time.monotonic() + 90
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = flow_runs(api)
        if runs and runs[0]["state_type"] == "PAUSED":
            break
        time.sleep(0.5)
    assert fired_events(api) == 2  # both alerts reached the server...
    runs = flow_runs(api)
    assert len(runs) == 1, [(r["name"], r["state_type"]) for r in runs]  # ...one incident
    [run] = runs
    # Whichever of the two events the trigger saw first named the rule.
    assert run["parameters"] in [
        {
            "app": APP,
            "severity": "P1",
            "summary": f"critical {rule} alert on {APP}",
            "reported_by": "infrastructure-monitor",
        }
        for rule in ("health", "error_rate")
    ]
    # It ran on the worker against flysim and now waits for a person's decision.
    assert run["state_type"] == "PAUSED", (run["state_type"], (s.logs / "worker.log").read_text())
    audit = (tmp_path / "state" / "audit.jsonl").read_text()
    assert '"action": "incident.opened"' in audit
    print(
        f"alert -> paused incident run: {time.monotonic() - started:.1f} s after the server was up"
    )
