"""infrastructure-monitor against flysim (real HTTP), a real Prefect server, and a real local
webhook receiver behind the `hotdash-alerts` notification block."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter
from prefect.flow_engine import run_flow_async
from prefect.states import Scheduled

from flows.infrastructure_monitor import infrastructure_monitor
from flows.manual_health_check import manual_health_check
from tasks.app_lock import app_lock
from tests.artifacts import artifact_of
from tests.task_runs import task_states
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("prefect_server")

STAGING = "hotdash-staging"


async def monitor(**params: Any):
    state = await infrastructure_monitor(return_state=True, **params)
    return state


async def artifact_rows(state, key: str = "infrastructure-monitor") -> dict[str, dict[str, Any]]:
    table = await artifact_of(state, key)
    assert table.type == "table"
    data = json.loads(table.data) if isinstance(table.data, str) else table.data
    return {row["app"]: row for row in data}


async def markdown_of(state, key: str) -> str:
    return str((await artifact_of(state, key)).data)


def alert_state(flysim_env_dir: Path) -> dict[str, Any]:
    return json.loads((flysim_env_dir / "alerts.json").read_text())["alerts"]


@pytest.fixture
def state_dir(flysim, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    return Path(os.environ["HOTDASH_STATE_DIR"])


async def test_cpu_alert_fires_on_second_run_once_and_resolves_once(
    flysim,
    receiver: Receiver,
    state_dir: Path,
) -> None:
    flysim.patch_app(STAGING, metrics={"cpu_pct": 93.5})

    first = await monitor()
    assert first.is_completed(), first.message
    assert receiver.messages == []
    row = (await artifact_rows(first))[STAGING]
    assert row["cpu %"] == 93.5 and row["cpu"] == "FAIL"
    assert row["alerts"] == "cpu pending"
    assert alert_state(state_dir)[f"{STAGING}/cpu"]["status"] == "pending"

    second = await monitor()
    assert second.is_completed(), second.message
    assert receiver.subjects() == [
        "[FIRING warning] hotdash-staging: CPU high (cpu: 93.5 % > 80 %)"
    ]
    body = receiver.messages[0]["body"]
    assert "Scale up if sustained" in body and "Flows: scale-app, incident-response" in body
    assert (await artifact_rows(second))[STAGING]["alerts"] == "cpu firing (warning)"

    third = await monitor()
    assert third.is_completed()
    assert len(receiver.messages) == 1

    flysim.patch_app(STAGING, metrics={"cpu_pct": 22.0})
    fourth = await monitor()
    assert fourth.is_completed()
    assert len(receiver.messages) == 2
    assert receiver.subjects()[1] == "[RESOLVED] hotdash-staging: CPU high"
    assert "Now: cpu: 22.0 % <= 80 %" in receiver.messages[1]["body"]
    assert alert_state(state_dir) == {}
    assert (await artifact_rows(fourth))[STAGING]["cpu"] == "pass"
    await monitor()
    assert len(receiver.messages) == 2


async def test_metrics_unavailable_is_a_no_data_alert_never_a_pass(
    flysim,
    receiver: Receiver,
) -> None:
    # Its machine runs and it has traffic, yet no CPU, memory or latency series: no data.
    flysim.patch_app(STAGING, metrics={"cpu_pct": None, "mem_pct": None, "p95_ms": None})
    first = await monitor()
    rows = await artifact_rows(first)
    for rule in ("cpu", "memory", "response_time"):
        assert rows[STAGING][rule] == "NO DATA", rule
    assert rows[STAGING]["cpu %"] is None
    assert rows[STAGING]["error_rate"] == "pass"  # requests and 5xx are counted
    assert rows["hotdash-production"]["cpu"] == "pass"
    assert receiver.messages == []

    await monitor()
    [message] = receiver.messages
    assert message["subject"].startswith("[NO DATA] hotdash-staging: 3 alerts")
    assert "NOT known to be healthy" in message["body"]
    assert "Prometheus returned no series" in message["body"]

    manual = await manual_health_check(app=STAGING, return_state=True)
    assert manual.is_failed()
    assert "no data" in manual.message
    assert len(receiver.messages) == 1  # a manual check never notifies


async def test_alerts_of_an_app_being_deployed_are_held_then_sent_after_release(
    flysim,
    receiver: Receiver,
    state_dir: Path,
) -> None:
    flysim.patch_app(STAGING, metrics={"mem_pct": 97.0})
    async with app_lock(STAGING, wait_seconds=10):
        first = await monitor()
        assert "held back" not in first.message  # pending: nothing due, nothing held back
        held = await monitor()
        assert held.is_completed(), held.message
        assert receiver.messages == []
        entry = alert_state(state_dir)[f"{STAGING}/memory"]
        assert (entry["status"], entry["held"], entry["announced_rank"]) == ("firing", True, None)
        assert (await artifact_rows(held))[STAGING]["alerts"] == "memory firing (warning) held"
        assert "held back for hotdash-staging" in held.message
    released = await monitor()
    assert released.is_completed()
    assert receiver.subjects() == [
        "[FIRING warning] hotdash-staging: Memory high (memory: 97.0 % > 85 %)"
    ]


async def test_critical_alert_emits_fired_event_and_resolved_event(
    flysim,
    receiver: Receiver,
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    flysim.patch_app(STAGING, endpoints={"/health": {"status": 503}})
    await monitor()
    await monitor()
    assert any("[FIRING critical] hotdash-staging: " in s for s in receiver.subjects())
    assert any("Health check failure" in s for s in receiver.subjects())
    fired = await wait_for_events("hotdash.alert.fired", started, rule="health")
    health = [e for e in fired if e.payload["rule"] == "health"]
    assert len(health) == 1
    event = health[0]
    assert event.resource.id == f"fly.app.{STAGING}"
    assert event.resource.name == STAGING
    assert event.payload["app"] == STAGING and event.payload["severity"] == "critical"
    # What the incident's severity is mapped from, and the result (staging down: P1).
    assert event.payload["environment"] == "staging"
    assert event.payload["incident_severity"] == "P1"
    assert event.resource["hotdash.incident-severity"] == "P1"

    flysim.patch_app(STAGING, endpoints={"/health": {"status": 200}})
    await monitor()
    resolved = await wait_for_events("hotdash.alert.resolved", started, rule="health")
    assert [e.payload["rule"] for e in resolved if e.payload["rule"] == "health"] == ["health"]


async def wait_for_events(
    name: str, since: datetime, timeout: float = 20.0, rule: str | None = None
) -> list[Any]:
    """The events `name` since `since`, once there is one (of `rule`, when given): events
    reach the server in batches."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with get_client() as client:
        while True:
            page = await client.read_events(
                filter=EventFilter(
                    occurred=EventOccurredFilter(since=since),
                    event=EventNameFilter(name=[name]),
                ),
                limit=50,
            )
            found = [e for e in page.events if rule is None or e.payload.get("rule") == rule]
            if found or asyncio.get_running_loop().time() > deadline:
                return list(page.events)
            await asyncio.sleep(0.5)


async def test_undelivered_alert_fails_the_run_and_is_sent_next_run(
    flysim,
    receiver: Receiver,
    state_dir: Path,
) -> None:
    flysim.patch_app(STAGING, metrics={"cpu_pct": 99.0})
    await monitor()
    receiver.fail = True
    failed = await monitor()
    assert failed.is_failed()
    assert "1 NOT delivered (retried next run)" in failed.message
    assert receiver.refused >= 1 and receiver.messages == []
    assert alert_state(state_dir)[f"{STAGING}/cpu"]["announced_rank"] is None
    receiver.fail = False
    retried = await monitor()
    assert retried.is_completed()
    assert receiver.subjects() == [
        "[FIRING warning] hotdash-staging: CPU high (cpu: 99.0 % > 80 %)"
    ]


async def test_stale_scheduled_run_is_skipped_without_checking(
    flysim,
    receiver: Receiver,
    state_dir: Path,
) -> None:
    flysim.patch_app(STAGING, metrics={"cpu_pct": 99.0})
    async with get_client() as client:
        late = await client.create_flow_run(
            infrastructure_monitor,
            state=Scheduled(scheduled_time=datetime.now(UTC) - timedelta(minutes=40)),
        )
    state = await run_flow_async(infrastructure_monitor, flow_run=late, return_type="state")
    assert state.is_completed()
    assert state.message.startswith("skipped: stale")
    assert "min late > 10 min" in state.message
    assert not (state_dir / "alerts.json").exists()

    async with get_client() as client:
        recent = await client.create_flow_run(
            infrastructure_monitor,
            state=Scheduled(scheduled_time=datetime.now(UTC) - timedelta(minutes=2)),
        )
    ran = await run_flow_async(infrastructure_monitor, flow_run=recent, return_type="state")
    assert ran.is_completed() and not ran.message.startswith("skipped")
    assert "hotdash-staging: cpu" in ran.message
    # Task runs are stored from the events this process sends, as they arrive (tests/task_runs.py):
    # once the later run's checks are stored, any task run of the skipped one, sent seconds
    # earlier, would be too.
    assert await task_states(ran, expect=["check-fleet-health"])
    assert await task_states(state) == []


async def test_unknown_app_is_refused_before_any_check(flysim) -> None:
    state = await monitor(app="hotdash-nope")
    assert state.is_failed()
    assert "app 'hotdash-nope' is not in the inventory" in state.message
    async with get_client() as client:
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    assert task_runs == []


async def test_bad_app_name_is_refused_by_the_parameter_schema(flysim) -> None:
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match="not a Fly app name"):
        await infrastructure_monitor(app="Hotdash_Staging")
    with pytest.raises(ParameterTypeError, match="must not start with '-'"):
        await infrastructure_monitor(app="--config=/etc/passwd")
    with pytest.raises(ParameterTypeError, match="window_minutes"):
        await infrastructure_monitor(window_minutes=0)


async def test_traffic_without_5xx_is_a_0_ratio_and_no_traffic_is_never_an_alert(
    flysim, receiver: Receiver
) -> None:
    # hotdash-agent-service has requests and never answered a 5xx: Fly's Prometheus has no 5xx
    # series for it (a PromQL ratio would have no value). hotdash-llamaindex-mcp gets no
    # requests any more: its counters stay, at rate 0.
    flysim.patch_app("hotdash-llamaindex-mcp", metrics={"rps": 0})
    await monitor()
    second = await monitor()
    assert second.is_completed(), second.message
    rows = await artifact_rows(second)
    agent = rows["hotdash-agent-service"]
    assert (agent["error_rate"], agent["5xx %"]) == ("pass", 0.0)
    quiet = rows["hotdash-llamaindex-mcp"]
    assert quiet["error_rate"] == "no traffic" and quiet["response_time"] == "pass"
    assert "1 with no traffic (hotdash-llamaindex-mcp)" in (second.message or "")
    assert receiver.messages == []  # two runs: nothing fired


async def test_an_auto_stopped_background_app_is_judged_from_its_machines_not_woken(
    flysim, receiver: Receiver
) -> None:
    # A /health request would make Fly Proxy start the machine (and undo auto-stop); the
    # inventory says hotdash-agent-service is not probed while stopped.
    flysim.stop_machines("hotdash-agent-service")
    state = await monitor()

    assert state.is_completed(), state.message
    row = (await artifact_rows(state))["hotdash-agent-service"]
    assert (row["machines"], row["health"], row["cpu"], row["memory"]) == ("pass",) * 4
    assert row["health status"] == "not requested"
    woken = [m for m in flysim.state()["mutations"] if m["kind"] == "machine_start"]
    assert woken == []
    assert flysim.state()["apps"]["hotdash-agent-service"]["machines"][0]["state"] == "stopped"


async def test_severity_of_the_incident_follows_what_fired_and_where(
    flysim, receiver: Receiver
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    production = "hotdash-production"
    flysim.patch_app(production, endpoints={"/health": {"status": 503}})  # production down
    flysim.patch_app(STAGING, metrics={"mem_pct": 97.0})  # staging degraded
    flysim.patch_app("hotdash-chatwoot", metrics={"p95_ms": 4000.0})  # latency, no environment
    flysim.patch_app(production, metrics={"cpu_pct": 95.0})  # and production degraded
    await monitor()
    await monitor()
    wanted = {(production, "health"), (production, "cpu"), (STAGING, "memory"),
              ("hotdash-chatwoot", "response_time")}  # fmt: skip
    got: dict[tuple[str, str], str] = {}
    for _ in range(40):  # events reach the server in batches
        fired = await wait_for_events("hotdash.alert.fired", started)
        got = {(e.payload["app"], e.payload["rule"]): e.payload["incident_severity"]
               for e in fired}  # fmt: skip
        if wanted <= set(got):
            break
        await asyncio.sleep(0.5)
    assert got[(production, "health")] == "P0"
    assert got[(production, "cpu")] == "P1"
    assert got[(STAGING, "memory")] == "P2"
    assert got[("hotdash-chatwoot", "response_time")] == "P2"


async def test_a_dependency_is_checked_every_tick_and_alerts_like_an_app(
    flysim, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, state_dir: Path
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    first = await monitor()
    rows = await artifact_rows(first)
    assert rows["supabase"]["role"] == "dependency" and rows["supabase"]["health"] == "pass"
    assert rows["shopify"]["health status"] == "200"
    assert first.message.endswith(
        "2 dependencies ok. alerts: 0 firing, 0 pending, 0 message(s) sent"
    )

    monkeypatch.setenv("SUPABASE_ANON_KEY", "revoked-key")  # Supabase refuses it: 401
    pending = await monitor()
    assert receiver.messages == []  # one bad sample is not an incident
    assert (await artifact_rows(pending))["supabase"]["alerts"] == "dependency pending"
    fired = await monitor()
    assert "dependencies: supabase: answered 401 (expected 200)" in fired.message
    [message] = receiver.messages
    assert message["subject"] == (
        "[FIRING critical] supabase: Dependency down (supabase: answered 401 (expected 200))"
    )
    assert "A 401 or 403 means its key was refused" in message["body"]
    assert "revoked-key" not in json.dumps(receiver.messages)  # a key is never shown
    # Not one app's incident: no hotdash.alert.fired for it.
    events = await wait_for_events("hotdash.alert.fired", started, timeout=2)
    assert [e for e in events if e.payload["app"] == "supabase"] == []

    monkeypatch.setenv("SUPABASE_ANON_KEY", "flysim-supabase-anon-key")
    await monitor()
    assert receiver.subjects()[-1] == "[RESOLVED] supabase: Dependency down"
    assert alert_state(state_dir) == {}
