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
    related = related[0] if isinstance(related, list) else related
    assert related.model_dump() == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": "infrastructure-monitor",
    }
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


async def test_completed_monitor_runs_keep_it_quiet_and_silence_fires_it(
    flysim,
    receiver: Receiver,
    clean_automation: None,
) -> None:
    # 35 minutes is too long for a test: the same automation with a 15 s window. Monitor runs
    # for 25 s (longer than the window) must keep it quiet; then silence must fire it.
    from flows.infrastructure_monitor import infrastructure_monitor

    create_automations(within=timedelta(seconds=15))
    loop = asyncio.get_running_loop()
    started = loop.time()
    last_completed = started
    while loop.time() - started < 25:
        state = await infrastructure_monitor(app="hotdash-production", return_state=True)
        assert state.is_completed(), state.message
        last_completed = loop.time()
        await asyncio.sleep(2)
    while loop.time() - last_completed < 8:
        await asyncio.sleep(0.5)
    assert receiver.messages == [], "fired although monitor runs kept completing"
    while loop.time() - last_completed < 45 and not receiver.messages:
        await asyncio.sleep(0.5)
    assert receiver.messages, "the automation did not notify 45 s after the last completed run"
    message = receiver.messages[0]
    assert message["subject"] == "hotdash-ops: the infrastructure monitor has been silent for 15 s"
    assert "No infrastructure-monitor run has completed in the last 15 s" in message["body"]


def test_monitor_that_never_ran_fires_too(receiver: Receiver, clean_automation: None) -> None:
    create_automations(within=timedelta(seconds=10))
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not receiver.messages:
        time.sleep(0.5)
    assert receiver.messages, "the automation did not notify within 40 s"
