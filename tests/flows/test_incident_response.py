"""incident-response against flysim (real HTTP, flysim-fly as a subprocess) and a real Prefect
server: the pause form is answered through the API, as the UI's Resume dialog does."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.input.actions import read_flow_run_input

from flows.incident_response import incident_response
from hotdash_ops.fly.machines import MachinesClient
from hotdash_ops.incidents.response import Severity
from hotdash_ops.models import MachineConfig
from tests.artifacts import artifact_of
from tests.conftest import ROOT
from tests.paused_forms import form_saved
from tests.webhook_receiver import Receiver, delete_block

pytestmark = pytest.mark.usefixtures("prefect_server")

APP = "hotdash-staging"
BAD_IMAGE = "registry.fly.io/hotdash-staging:bad"
GOOD_IMAGE = "registry.fly.io/hotdash-staging:deployment-01J9FJ0E00H4QX4FR84G98PBSK"  # v3
STEPS = ["detected", "assessed", "decided", "acted", "recovered"]


@pytest.fixture(autouse=True)
def fast_pause(monkeypatch) -> None:
    monkeypatch.setenv("HOTDASH_PAUSE_POLL_SECONDS", "1")


@pytest.fixture
def started_at() -> datetime:
    """When the test began: wait_for_paused finds only the runs it started (the session's
    server also holds other modules' runs, some of them left waiting)."""
    return datetime.now(UTC)


@pytest.fixture
def status_page(monkeypatch) -> Iterator[list[dict]]:
    """A real local HTTP receiver as the status page webhook; yields the bodies it got."""
    with Receiver() as rx:
        monkeypatch.setenv("STATUS_PAGE_WEBHOOK_URL", rx.url)
        yield rx.messages


@contextmanager
def escalation_block(rx: Receiver) -> Iterator[Receiver]:
    """The `hotdash-escalation` notification block posting to `rx`."""
    from tasks.notify import ESCALATION_BLOCK, save_webhook_block

    save_webhook_block(rx.url, name=ESCALATION_BLOCK)
    try:
        yield rx
    finally:
        delete_block(ESCALATION_BLOCK)


def inventory_with(tmp_path: Path, monkeypatch, **sections) -> None:
    data = yaml.safe_load((ROOT / "deployments/inventory.yaml").read_text())
    data.update(sections)
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("HOTDASH_INVENTORY", str(path))


async def deployed_bad_release_ten_minutes_ago(flysim) -> None:
    """Release v4 (the bad image) created ten minutes ago, and the machines running it."""
    flysim.patch_app(
        APP,
        releases_add=[
            {"version": 4, "status": "complete", "image": BAD_IMAGE, "created_minutes_ago": 10}
        ],
    )
    async with MachinesClient(base_url=flysim.url, token=flysim.token) as client:
        for machine in await client.list_machines(APP):
            assert machine.config is not None
            data = machine.config.to_api()
            data["image"] = BAD_IMAGE
            data["metadata"]["fly_release_version"] = "4"
            await client.update_machine(APP, machine.id, MachineConfig.model_validate(data))
    assert flysim.state()["apps"][APP]["endpoints"]["/health"]["status"] == 503


async def wait_for_paused(since: datetime, app: str = APP, timeout: float = 60) -> FlowRun:
    """The paused incident-response run of `app` created since `since`."""
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while time.monotonic() < deadline:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["incident-response"])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                ),
            )
            runs = [
                r
                for r in runs
                if r.parameters.get("app") == app and r.created and r.created >= since
            ]
            if runs and await form_saved(client, runs[0]):
                return runs[0]
            await asyncio.sleep(0.2)
    raise TimeoutError("no paused incident-response run")


async def resume(run: FlowRun, run_input: dict) -> None:
    async with get_client() as client:
        result = await client.resume_flow_run(run.id, run_input=run_input)
    assert result.status.value == "ACCEPT", result.details


async def artifact(state, key: str) -> str:
    return str((await artifact_of(state, key)).data)


def timeline_rows(postmortem: str) -> list[tuple[datetime, str, str]]:
    section = postmortem.split("## Timeline", 1)[1].split("##", 1)[0]
    rows = []
    for line in section.splitlines():
        m = re.match(
            r"\| (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \| ([^|]+) \| (.*) \| (run|audit) \|$", line
        )
        if m:
            rows.append((datetime.fromisoformat(m[1]), m[2].strip(), m[4]))
    return rows


def audit_records(tmp_path: Path) -> list[dict]:
    path = tmp_path / "state" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_recent_deploy_with_failing_health_is_rolled_back_when_chosen(
    flysim, tmp_path, status_page, started_at
) -> None:
    await deployed_bad_release_ten_minutes_ago(flysim)
    run = asyncio.create_task(
        incident_response(
            app=APP,
            severity=Severity.P1,
            summary="staging answers 503 since the last deploy",
            reported_by="alice@hotdash.test",
            return_state=True,
        )
    )
    paused = await wait_for_paused(started_at)
    # The form offers the actions with the recommendation preselected, and who decides.
    schema = await read_flow_run_input("paused-incident-decision-schema", flow_run_id=paused.id)
    props = schema["properties"]
    assert props["decided_by"]["description"] == "Who decides (name or e-mail)"
    assert "decided_by" in schema["required"]
    action = props["action"]
    enum = action.get("enum") or schema["definitions"]["Action"]["enum"]
    assert sorted(enum) == ["none", "restart", "rollback", "scale_up"]
    assert action["default"] == "rollback"
    form_text = await read_flow_run_input(
        "paused-incident-decision-description", flow_run_id=paused.id
    )
    assert "deploy in the last hours" in form_text and "release v4" in form_text
    assert "10 min ago" in form_text
    assert "health failing" in form_text and "Recommended: `rollback`" in form_text
    assert flysim.state()["apps"][APP]["current_image"] == BAD_IMAGE  # nothing done yet

    await resume(paused, {"action": "rollback", "decided_by": "bob@hotdash.test"})
    state = await asyncio.wait_for(run, 90)
    assert state.is_completed(), state.message
    assert "rollback by bob@hotdash.test" in state.message and "recovered" in state.message

    app_state = flysim.state()["apps"][APP]
    assert app_state["current_image"] == GOOD_IMAGE
    assert app_state["releases"][-1] == {**app_state["releases"][-1], "version": 5,
                                         "image": GOOD_IMAGE, "status": "complete"}  # fmt: skip
    assert app_state["endpoints"]["/health"]["status"] == 200

    postmortem = await artifact(state, f"postmortem-{APP}")
    rows = timeline_rows(postmortem)
    run_steps = [(at, step) for at, step, source in rows if source == "run"]
    assert [step for _, step in run_steps] == STEPS
    times = [at for at, _ in run_steps]
    assert times == sorted(times)
    assert [at for at, _, _ in rows] == sorted(at for at, _, _ in rows)
    audit_steps = [step for _, step, source in rows if source == "audit"]
    assert audit_steps.index("rollback") > audit_steps.index("incident.decided")
    assert "## Root cause" in postmortem and "## Follow-ups" in postmortem
    assert "| 5xx ratio | 27.0% | 0.2% |" in postmortem  # metrics before and after

    log = (tmp_path / "state" / "incident-log.md").read_text()
    assert log.startswith("# Incident log")
    assert f"P1 {APP}: staging answers 503 since the last deploy" in log
    assert "decided by bob@hotdash.test" in log and "- **Recovered**: yes" in log

    actions = [(r["action"], r["actor"]) for r in audit_records(tmp_path)]
    assert ("incident.opened", "alice@hotdash.test") in actions
    assert ("rollback", "bob@hotdash.test") in actions
    notes = (tmp_path / "state" / "notifications.jsonl").read_text().splitlines()
    subjects = [json.loads(n)["subject"] for n in notes]
    assert subjects[0].startswith(f"[P1] {APP}: incident opened (")
    assert f"[P1] {APP}: mitigated, the app has recovered" in subjects
    assert [(b["component"], b["status"], b["severity"]) for b in status_page] == [
        (APP, "investigating", "P1"),
        (APP, "monitoring", "P1"),
    ]
    assert (
        status_page[0]["message"]
        == "We are investigating: staging answers 503 since the last deploy"
    )


async def test_memory_high_recommends_restart_and_the_default_is_taken(
    flysim, tmp_path, started_at
) -> None:
    flysim.patch_app("hotdash-chatwoot", metrics={"mem_pct": 96})
    run = asyncio.create_task(
        incident_response(
            app="hotdash-chatwoot",
            severity=Severity.P2,
            summary="chatwoot slow",
            reported_by="alice",
            return_state=True,
        )
    )
    paused = await wait_for_paused(started_at, "hotdash-chatwoot")
    # Only who decides: the preselected recommendation is what runs.
    await resume(paused, {"decided_by": "carol"})
    state = await asyncio.wait_for(run, 60)
    assert state.is_completed(), state.message
    assert state.message.startswith("hotdash-chatwoot: restart by carol")
    kinds = [m["kind"] for m in flysim.state()["mutations"]]
    assert kinds == ["machine_restart"]  # `fly apps restart`: each started machine, leased


async def test_p0_acts_without_waiting_then_guardrail_asks_a_person(
    flysim, tmp_path, monkeypatch, started_at
) -> None:
    inventory_with(
        tmp_path,
        monkeypatch,
        incident={"p0_auto_act": [APP], "cooldown_minutes": 30, "max_auto_actions_per_hour": 1},
    )
    await deployed_bad_release_ten_minutes_ago(flysim)
    first = await asyncio.wait_for(
        incident_response(
            app=APP,
            severity=Severity.P0,
            summary="staging down",
            reported_by="monitor",
            return_state=True,
        ),
        90,
    )
    assert first.is_completed(), first.message
    assert "rollback by incident-response (automatic, P0)" in first.message
    decided = [r for r in audit_records(tmp_path) if r["action"] == "incident.decided"]
    assert decided[-1]["detail"]["automatic"] is True

    # Straight after: the cool-down (and the hourly limit) hand the next P0 to a person.
    flysim.patch_app(APP, endpoints={"/health": {"status": 503}})
    second = asyncio.create_task(
        incident_response(
            app=APP,
            severity=Severity.P0,
            summary="staging down again",
            reported_by="monitor",
            return_state=True,
        )
    )
    paused = await wait_for_paused(started_at)
    form_text = await read_flow_run_input(
        "paused-incident-decision-description", flow_run_id=paused.id
    )
    assert "automatic action(s) on hotdash-staging in the last hour (limit 1" in form_text
    before = flysim.state()["mutations"]
    await resume(paused, {"action": "none", "decided_by": "dave"})
    state = await asyncio.wait_for(second, 60)
    assert state.is_completed(), state.message
    assert flysim.state()["mutations"] == before  # "none" changes nothing


async def test_a_second_incident_for_the_same_app_ends_at_once(
    flysim, tmp_path, started_at
) -> None:
    first = asyncio.create_task(
        incident_response(
            app=APP, severity=Severity.P2, summary="first", reported_by="a", return_state=True
        )
    )
    paused = await wait_for_paused(started_at)
    second = await incident_response(
        app=APP, severity=Severity.P2, summary="again", reported_by="b", return_state=True
    )
    assert second.is_completed()
    assert second.message == (
        f"{APP}: an incident is already open in run {paused.name}; nothing done here"
    )
    # A more severe report on the same app joins it too, and escalates it now.
    with Receiver() as escalations, escalation_block(escalations):
        worse = await incident_response(
            app=APP, severity=Severity.P0, summary="now down", reported_by="monitor",
            return_state=True,
        )  # fmt: skip
    assert worse.message.endswith("nothing done here; escalated as P0 (it was P2)")
    [escalated] = escalations.messages
    assert escalated["subject"] == f"[P0] ESCALATED {APP}: now down"
    assert f"while incident {paused.name} (P2) is open: it is now P0" in escalated["body"]
    await resume(paused, {"action": "none", "decided_by": "a"})
    state = await asyncio.wait_for(first, 60)
    assert state.is_completed(), state.message
    log = (tmp_path / "state" / "incident-log.md").read_text()
    assert log.count("\n## ") == 1  # one incident, one entry


async def test_unknown_app_is_refused_before_anything_happens(flysim, tmp_path) -> None:
    before = flysim.state()
    state = await incident_response(
        app="hotdash-nope", severity=Severity.P1, summary="x", reported_by="a", return_state=True
    )
    assert state.is_failed()  # by the form's rule, before the flow's body (no traceback)
    assert "app: app 'hotdash-nope' is not in the inventory (known: hotdash-staging" in (
        state.message
    )
    assert flysim.state() == before
    assert not (tmp_path / "state" / "audit.jsonl").exists()


async def test_undecided_p2_escalates_at_its_response_target_then_a_person_decides(
    flysim, tmp_path, monkeypatch, receiver: Receiver, started_at
) -> None:
    from flows.incident_response import incident_deadline

    # The response target from the inventory: seconds here, 2 hours in the shipped one.
    inventory_with(tmp_path, monkeypatch, incident={"escalate_after_minutes": {"P2": 1}})
    with Receiver() as escalations, escalation_block(escalations):
        run = asyncio.create_task(
            incident_response(
                app="hotdash-chatwoot",
                severity=Severity.P2,
                summary="chatwoot slow",
                reported_by="monitor",
                return_state=True,
            )  # fmt: skip
        )
        paused = await wait_for_paused(started_at, "hotdash-chatwoot")
        assert escalations.messages == []  # P2: not at once
        # The timer run incident-response schedules (run here directly, as the worker would).
        at = datetime.now(UTC)
        timer = await incident_deadline(
            flow_run_id=paused.id, at=at, kind="escalate", return_state=True
        )
        assert timer.is_completed(), timer.message
        assert (await timer.result()).startswith(f"escalated incident {paused.name} (P2")
        [escalated] = escalations.messages
        assert escalated["subject"] == "[P2] ESCALATED hotdash-chatwoot: chatwoot slow"
        assert "No decision at the P2 response target" in escalated["body"]
        assert f"/runs/flow-run/{paused.id}" in escalated["body"]
        # The incident channel is reminded too; the run still waits for a person.
        assert receiver.subjects()[-1] == (
            f"[P2] hotdash-chatwoot: still no decision on incident {paused.name}"
        )
        await resume(paused, {"action": "none", "decided_by": "carol"})
        state = await asyncio.wait_for(run, 60)
    assert state.is_completed(), state.message
    # Decided: a later timer finds nothing to do.
    late = await incident_deadline(flow_run_id=paused.id, at=at, kind="escalate",
                                   return_state=True)  # fmt: skip
    assert await late.result() == "nothing to do: the run is Completed"


async def test_p0_escalates_at_once_and_no_decision_in_time_ends_with_nothing_done(
    flysim, tmp_path, monkeypatch, receiver: Receiver
) -> None:
    # The decision deadline from the inventory: seconds here, 4 hours in the shipped one.
    inventory_with(tmp_path, monkeypatch, incident={"decision_timeout_hours": 0.003})
    flysim.patch_app("hotdash-production", endpoints={"/health": {"status": 503}})
    with Receiver() as escalations, escalation_block(escalations):
        state = await asyncio.wait_for(
            incident_response(app="hotdash-production", severity=Severity.P0,
                              summary="production down", reported_by="monitor",
                              return_state=True),
            60,
        )  # fmt: skip
    [escalated] = escalations.messages  # P0: at once, before anyone is asked
    assert escalated["subject"] == "[P0] ESCALATED hotdash-production: production down"
    assert escalated["body"].startswith("P0: the response is immediate.")
    assert state.is_failed()
    assert state.message == (
        "hotdash-production: none by nobody (no decision in time); no change made, still "
        "investigating: no decision in time"
    )
    assert flysim.state()["mutations"] == []  # nothing was done to production
    name = state.state_details.flow_run_id
    assert any(s.startswith("[P0] hotdash-production: no decision on incident") for s in
               receiver.subjects()), name  # fmt: skip


async def test_the_deadline_timer_only_acts_on_incident_runs_and_never_early(flysim) -> None:
    from prefect import flow

    from flows.incident_response import incident_deadline

    @flow(name="not-an-incident")
    async def other() -> None:
        return None

    stranger = await other(return_state=True)
    wrong = await incident_deadline(flow_run_id=stranger.state_details.flow_run_id,
                                    at=datetime.now(UTC), kind="expire",
                                    return_state=True)  # fmt: skip
    assert wrong.is_failed() and "is a not-an-incident run, not incident-response" in wrong.message
    early = await incident_deadline(flow_run_id=stranger.state_details.flow_run_id,
                                    at=datetime.now(UTC) + timedelta(hours=1),
                                    kind="escalate", return_state=True)  # fmt: skip
    assert early.is_failed() and "at: " in early.message and "s away" in early.message
