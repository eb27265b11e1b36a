"""A critical alert starts incident-response, once per app, through the deployment trigger.

The session's `make demo` stack (tests/e2e/demo_stack.py: `prefect server start`, the process
work pool, every deployment of prefect.yaml registered with `prefect deploy`, so the
incident-response trigger exactly as shipped, and a worker with the flysim environment). The
monitor's own emitter (`tasks.alerting.emit_alert_event`) sends two critical alerts for one app,
as one monitor run does when two rules fire; exactly one incident-response run must be created,
with the app from the event, and it must get as far as asking a person.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.demo_stack import E2EStack

pytestmark = pytest.mark.e2e

APP = "hotdash-staging"
EMIT = """
from hotdash_ops.monitor.alert_state import AlertEvent
from prefect.events.worker import EventsWorker
from tasks.alerting import emit_alert_event

for rule in ("health", "error_rate"):
    emit_alert_event(AlertEvent(name="hotdash.alert.fired", app="{app}", rule=rule,
                                severity="critical", condition="failing", detail="drill"))
EventsWorker.drain_all()
"""


def flow_runs(stack: E2EStack, since: str) -> list[dict]:
    """incident-response runs created since `since` (ISO time)."""
    body = {
        "flows": {"name": {"any_": ["incident-response"]}},
        "flow_runs": {"expected_start_time": {"after_": since}},
    }
    return stack_api(stack, "POST", "/flow_runs/filter", body)


def fired_events(stack: E2EStack, since: str) -> int:
    body = {
        "filter": {"event": {"name": ["hotdash.alert.fired"]}, "occurred": {"since": since}},
        "limit": 50,
    }
    return len(stack_api(stack, "POST", "/events/filter", body)["events"])


def stack_api(stack: E2EStack, method: str, path: str, body: object) -> Any:
    auth = tuple(stack.auth_string.split(":", 1))
    response = httpx.request(method, stack.api_url + path, json=body, auth=auth, timeout=10)
    return response.raise_for_status().json()


def test_critical_alert_starts_exactly_one_incident_response(
    e2e: tuple[E2EStack, Path],
) -> None:
    stack, state = e2e
    since = datetime.now(UTC).isoformat()
    started = time.monotonic()
    automations = [a["name"] for a in stack_api(stack, "POST", "/automations/filter", {})]
    assert [n for n in automations if n.startswith("incident-response__")] == [
        "incident-response__automation_1"
    ]

    # The monitor emits one event per critical rule; two rules fire for one app.
    subprocess.run(
        [sys.executable, "-c", EMIT.format(app=APP)],
        cwd=ROOT,
        env=stack.stack.env,
        check=True,
        timeout=60,
    )
    deadline = time.monotonic() + 90
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = flow_runs(stack, since)
        if runs and runs[0]["state_type"] == "PAUSED":
            break
        time.sleep(0.5)
    try:
        assert fired_events(stack, since) == 2  # both alerts reached the server...
        runs = flow_runs(stack, since)
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
        assert run["state_type"] == "PAUSED", (run["state_type"], stack.worker_log()[-3000:])
        audit = (state / "audit.jsonl").read_text()
        assert '"action": "incident.opened"' in audit
    finally:
        for run in runs:  # nobody will decide: leave nothing waiting on the shared stack
            stack_api(
                stack,
                "POST",
                f"/flow_runs/{run['id']}/set_state",
                {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True},
            )
    print(f"alert -> paused incident run: {time.monotonic() - started:.1f} s")
