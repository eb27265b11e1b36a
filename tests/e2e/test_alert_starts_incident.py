"""An alert starts incident-response, once per app and severity, with the severity the inventory
maps it to; the decision waits suspended (no process), escalates at its response target, and
survives a worker killed and a Prefect server restarted while it waits.

The session's `make demo` stack (tests/e2e/demo_stack.py: `prefect server start`, the process
work pool, every deployment of prefect.yaml registered with `prefect deploy`, so the
incident-response trigger and the incident-response-deadline timer exactly as shipped) with a
worker of this test's own: the flysim environment, an inventory whose P1 response target is
seconds, and notification blocks of its own behind real webhook receivers (alerts and
escalation). The monitor's own emitter (`tasks.alerting.emit_alert_event`) sends two critical
alerts for one app, as one monitor run does when two rules fire: exactly one incident-response
run must be created.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tests.conftest import ROOT
from tests.e2e.demo_stack import E2EStack
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

APP = "hotdash-staging"
ESCALATE_AFTER_MINUTES = 0.75  # P1's response target: 30 min in the shipped inventory
# This test's own notification blocks: the shared stack's alerts block is left as it is.
ALERTS_BLOCK = "e2e-incident-alerts"
ESCALATION_BLOCK = "e2e-incident-escalation"
EMIT = """
from hotdash_ops.monitor.alert_state import AlertEvent
from prefect.events.worker import EventsWorker
from tasks import fly_access
from tasks.alerting import emit_alert_event

for rule in ("health", "error_rate"):
    emit_alert_event(AlertEvent(name="hotdash.alert.fired", app="{app}", rule=rule,
                                severity="critical", condition="failing", detail="drill"),
                     fly_access.inventory())
EventsWorker.drain_all()
"""
BLOCKS = """
from tasks.notify import save_webhook_block
save_webhook_block("{alerts}", name="{alerts_block}")
save_webhook_block("{escalation}", name="{escalation_block}")
"""

T = TypeVar("T")


def stack_api(stack: E2EStack, method: str, path: str, body: object = None) -> Any:
    auth = tuple(stack.auth_string.split(":", 1))
    response = httpx.request(method, stack.api_url + path, json=body, auth=auth, timeout=10)
    return response.raise_for_status().json() if response.content else None


def flow_runs(stack: E2EStack, flow: str, since: str) -> list[dict]:
    """`flow`'s runs created since `since` (ISO time)."""
    body = {
        "flows": {"name": {"any_": [flow]}},
        "flow_runs": {"expected_start_time": {"after_": since}},
    }
    return stack_api(stack, "POST", "/flow_runs/filter", body)


def fired_events(stack: E2EStack, since: str) -> int:
    body = {
        "filter": {"event": {"name": ["hotdash.alert.fired"]}, "occurred": {"since": since}},
        "limit": 50,
    }
    return len(stack_api(stack, "POST", "/events/filter", body)["events"])


def python(stack: E2EStack, code: str) -> None:
    subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=stack.stack.env, check=True, timeout=60
    )


def wait_for(what: str, check: Callable[[], T], timeout: float = 90) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.HTTPError:  # the server is restarting
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


# Real waits, each already cut short: an incident run's process, P1's response target (45 s),
# the timer run that escalates, a server restart; plus the session stack when it comes first.
@pytest.mark.timeout(600)
def test_alert_starts_one_suspended_incident_that_escalates_and_survives_restarts(
    e2e: tuple[E2EStack, Path], tmp_path: Path
) -> None:
    stack, state = e2e
    since = datetime.now(UTC).isoformat()
    started = time.monotonic()
    automations = [a["name"] for a in stack_api(stack, "POST", "/automations/filter", {})]
    assert [n for n in automations if n.startswith("incident-response__")] == [
        "incident-response__automation_1"
    ]
    inventory = yaml.safe_load(stack.inventory.read_text())
    inventory["incident"]["escalate_after_minutes"]["P1"] = ESCALATE_AFTER_MINUTES
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    worker_env = {
        "HOTDASH_STATE_DIR": str(state),
        "HOTDASH_INVENTORY": str(tmp_path / "inventory.yaml"),
        "HOTDASH_NOTIFY_BLOCK": ALERTS_BLOCK,
        "HOTDASH_ESCALATION_BLOCK": ESCALATION_BLOCK,
    }
    stack.use_worker(**worker_env)

    with Receiver() as alerts, Receiver() as escalations:
        python(
            stack,
            BLOCKS.format(
                alerts=alerts.url,
                escalation=escalations.url,
                alerts_block=ALERTS_BLOCK,
                escalation_block=ESCALATION_BLOCK,
            ),
        )
        try:
            # The monitor emits one event per critical rule; two rules fire for one app.
            python(stack, EMIT.format(app=APP))
            [run] = wait_for(
                "a suspended incident run",
                lambda: [
                    r
                    for r in flow_runs(stack, "incident-response", since)
                    if r["state_name"] == "Suspended"
                ],
            )
            # Both alerts reached the server (its event persister stores them in batches, every
            # 5 s: wait for both, then no more)...
            wait_for("both alert events stored", lambda: fired_events(stack, since) >= 2)
            assert fired_events(stack, since) == 2
            runs = flow_runs(stack, "incident-response", since)
            assert len(runs) == 1, [(r["name"], r["state_type"]) for r in runs]  # ...one incident
            # Whichever of the two events the trigger saw first named the rule; the severity
            # is the one the inventory maps a critical staging alert to: P1 (staging down).
            assert run["parameters"] in [
                {
                    "app": APP,
                    "severity": "P1",
                    "summary": f"critical {rule} alert on {APP}: drill",
                    "reported_by": "infrastructure-monitor",
                }
                for rule in ("health", "error_rate")
            ]
            waited = time.monotonic()
            print(f"alert -> suspended incident run: {waited - started:.1f} s")
            # Undecided past P1's response target: the timer run escalates it; it keeps waiting.
            [escalated] = wait_for("the escalation", lambda: escalations.messages, timeout=120)
            assert escalated["subject"].startswith(f"[P1] ESCALATED {APP}: critical ")
            assert f"/runs/flow-run/{run['id']}" in escalated["body"]
            assert escalated["body"].startswith("No decision at the P1 response target")
            print(f"escalated {time.monotonic() - waited:.1f} s after the run suspended")
            # The timer run that escalated finishes before the worker is killed: a kill while it
            # reports its end would crash it, which is the kill's doing, not the timer's.
            wait_for(
                "the escalating timer run to complete",
                lambda: [
                    t
                    for t in flow_runs(stack, "incident-response-deadline", since)
                    if t["parameters"].get("flow_run_id") == run["id"]
                    and t["state_type"] == "COMPLETED"
                ],
            )

            # Nothing holds the wait: kill the worker, restart the server; the run still waits.
            stack.stop_worker(signal.SIGKILL)
            stack.restart_server()
            stack.use_worker(**worker_env)
            [still] = flow_runs(stack, "incident-response", since)
            assert still["state_name"] == "Suspended", still["state_name"]

            decision = {"run_input": {"action": "none", "decided_by": "dana"}}
            stack_api(stack, "POST", f"/flow_runs/{run['id']}/resume", decision)
            [done] = wait_for(
                "the incident to end",
                lambda: [
                    r
                    for r in flow_runs(stack, "incident-response", since)
                    if r["state_type"] == "COMPLETED"
                ],
            )
            assert done["id"] == run["id"]
            # The replay after the resume did not repeat what came before the decision.
            audit = [json.loads(line) for line in
                     (state / "audit.jsonl").read_text().splitlines()]  # fmt: skip
            actions = [r["action"] for r in audit if r["action"].startswith("incident.")]
            assert actions == ["incident.opened", "incident.decided", "incident.closed"]
            opened = [m for m in alerts.subjects() if "incident opened" in m]
            assert len(opened) == 1, alerts.subjects()
            # Decided: the decision deadline's timer run is cancelled.
            timers = [
                t
                for t in flow_runs(stack, "incident-response-deadline", since)
                if t["parameters"].get("flow_run_id") == run["id"]
            ]
            assert sorted(t["state_type"] for t in timers) == ["CANCELLED", "COMPLETED"]
        finally:  # leave nothing waiting on the shared stack
            for r in flow_runs(stack, "incident-response", since):
                if r["state_type"] not in ("COMPLETED", "CANCELLED", "FAILED", "CRASHED"):
                    stack_api(
                        stack,
                        "POST",
                        f"/flow_runs/{r['id']}/set_state",
                        {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True},
                    )
    print(f"alert -> escalated, restarted, decided: {time.monotonic() - started:.1f} s")
