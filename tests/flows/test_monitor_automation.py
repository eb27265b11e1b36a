"""The monitor watches itself: the "no infrastructure-monitor run completed for 35 minutes"
automation, created on the real Prefect server and fired for real with a short window."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prefect import get_client
from prefect.events.actions import DoNothing, SendNotification
from prefect.events.schemas.automations import EventTrigger, Posture

from deployments.automations import MONITOR_SILENT, create_automations
from tasks.notify import DEFAULT_BLOCK
from tests.webhook_receiver import Receiver, delete_block

pytestmark = pytest.mark.usefixtures("prefect_server")


def automations_named(name: str) -> list:
    with get_client(sync_client=True) as client:
        return client.read_automations_by_name(name)


@pytest.fixture
def clean_automation(prefect_server: str) -> Iterator[None]:
    yield
    with get_client(sync_client=True) as client:
        for automation in client.read_automations_by_name(MONITOR_SILENT):
            client.delete_automation(automation.id)


def test_automation_watches_for_completed_monitor_runs_and_is_replaced_by_name(
    receiver: Receiver, clean_automation: None
) -> None:
    first = create_automations()
    second = create_automations()
    [automation] = automations_named(MONITOR_SILENT)
    assert automation.id == second[MONITOR_SILENT] != first[MONITOR_SILENT]
    trigger = automation.trigger
    assert isinstance(trigger, EventTrigger)
    assert trigger.posture == Posture.Proactive
    assert trigger.expect == {"prefect.flow-run.Completed"}
    assert trigger.after == {"prefect.flow-run.Completed"}
    assert trigger.within == timedelta(minutes=35)
    assert trigger.threshold == 1
    assert trigger.match.model_dump()["prefect.resource.id"] == "prefect.flow-run.*"
    related = trigger.match_related
    assert isinstance(related, list)
    assert [r.model_dump() for r in related] == [
        {"prefect.resource.role": "flow", "prefect.resource.name": "infrastructure-monitor"},
        {"prefect.resource.role": "deployment", "prefect.resource.name": "infrastructure-monitor"},
    ]
    [action] = automation.actions
    assert isinstance(action, SendNotification)
    with get_client(sync_client=True) as client:
        block = client.read_block_document_by_name(DEFAULT_BLOCK, block_type_slug="custom-webhook")
    assert action.block_document_id == block.id
    assert "35 min" in action.subject
    assert automation.enabled


def test_without_the_alert_block_the_automation_exists_and_does_nothing(
    clean_automation: None,
) -> None:
    delete_block(DEFAULT_BLOCK)
    create_automations()
    [automation] = automations_named(MONITOR_SILENT)
    assert [type(a) for a in automation.actions] == [DoNothing]


async def deployment_run(**params):
    """A run of the infrastructure-monitor deployment, executed in this process (what a
    worker does with it), scheduled `late` minutes ago."""
    from datetime import UTC, datetime

    from prefect.flow_engine import run_flow_async
    from prefect.states import Scheduled

    from flows.infrastructure_monitor import infrastructure_monitor

    late = params.pop("late", 0)
    deployment = await infrastructure_monitor.ato_deployment(name="infrastructure-monitor")
    deployment_id = await deployment.apply()
    async with get_client() as client:
        run = await client.create_flow_run_from_deployment(
            deployment_id,
            parameters={"app": "hotdash-production", **params},
            state=Scheduled(scheduled_time=datetime.now(UTC) - timedelta(minutes=late)),
        )
    return await run_flow_async(
        infrastructure_monitor, flow_run=run, parameters=run.parameters, return_type="state"
    )


async def test_only_completed_unskipped_runs_of_the_deployment_keep_it_quiet(
    flysim,
    receiver: Receiver,
    clean_automation: None,
) -> None:
    # 35 minutes is too long for a test: the same automation with a 12 s window.
    from flows.infrastructure_monitor import infrastructure_monitor
    from flows.manual_health_check import manual_health_check

    create_automations(within=timedelta(seconds=12))
    loop = asyncio.get_running_loop()
    # Runs of the deployment that check and complete, for longer than the window: quiet.
    started = loop.time()
    last_completed = started
    while loop.time() - started < 16:
        state = await deployment_run()
        assert state.is_completed() and state.name == "Completed", state.message
        last_completed = loop.time()
        await asyncio.sleep(1)
    assert receiver.messages == [], "fired although the deployment's runs kept completing"
    # Then only runs that are not the heartbeat: stale-skipped runs of the deployment, the
    # monitor's flow run outside the deployment, manual health checks. The alarm still comes.
    while not receiver.messages and loop.time() - last_completed < 40:
        skipped = await deployment_run(late=40)
        assert skipped.is_completed() and skipped.name == "Skipped", skipped.message
        direct = await infrastructure_monitor(app="hotdash-production", return_state=True)
        assert direct.is_completed()
        await manual_health_check(app="hotdash-production", return_state=True)
        await asyncio.sleep(0.5)
    silent_for = loop.time() - last_completed
    assert receiver.messages, "the automation did not notify 40 s after the last heartbeat"
    assert 12 <= silent_for < 40
    message = receiver.messages[0]
    assert message["subject"] == "hotdash-ops: the infrastructure monitor has been silent for 12 s"
    assert "No infrastructure-monitor run has completed in the last 12 s" in message["body"]


def test_monitor_that_never_ran_fires_too(receiver: Receiver, clean_automation: None) -> None:
    create_automations(within=timedelta(seconds=10))
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not receiver.messages:
        time.sleep(0.5)
    assert receiver.messages, "the automation did not notify within 40 s"
