"""The Prefect automations of the stack: the monitor watches itself.

`create_automations()` makes (or replaces, by name) the automation that tells people when no
`infrastructure-monitor` run has COMPLETED for 35 minutes: two 15-minute ticks missed plus
five minutes of grace. It is a proactive event trigger on `prefect.flow-run.Completed` of
that flow's deployment, so it fires on the *absence* of the heartbeat, whatever the cause:
worker down, server restarted without the worker, schedule paused, every run crashing or
cancelled. Only runs that checked count: a run of the `infrastructure-monitor` deployment (a
`manual-health-check`, or the monitor's flow run by hand outside the deployment, is not the
heartbeat) that completed with the state `Completed`. A run that skipped itself as stale
ends in a Completed state named `Skipped` (flows/infrastructure_monitor.py), whose event is
`prefect.flow-run.Skipped` (the server names state events after the state's name,
`prefect.server.models.events.flow_run_state_change_event`), so it keeps nobody quiet. With
`after` equal to `expect`, every completion opens a new 35-minute window, so the alarm comes
35 minutes (plus the server's ~5 s evaluation tick) after the LAST completed run; it repeats
every 35 minutes until a run completes again, and it also fires when no run ever completes
after the automation was created.

The action is a notification through the `hotdash-alerts` block (custom webhook or Slack,
the same block the monitor's alerts use) when that block exists; otherwise the automation
still exists and fires (visible in the UI's event feed) with nothing to send.

Prefect's server evaluates proactive triggers itself (every few seconds), so this works even
when the worker that runs the monitor is the thing that died.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.events.actions import DoNothing, SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.exceptions import ObjectNotFound

MONITOR_FLOW = "infrastructure-monitor"
MONITOR_DEPLOYMENT = "infrastructure-monitor"  # prefect.yaml's deployment of the flow
MONITOR_SILENT = "infrastructure-monitor-silent"
ALERT_BLOCK = "hotdash-alerts"
BLOCK_TYPES = ("custom-webhook", "slack-webhook")  # the kinds tasks/notify.py sends through


def notification_block_id(client: SyncPrefectClient, name: str = ALERT_BLOCK) -> UUID | None:
    """The id of the notification block called `name`, or None when there is none."""
    for slug in BLOCK_TYPES:
        try:
            return client.read_block_document_by_name(name, block_type_slug=slug).id
        except ObjectNotFound:
            continue
    return None


def _span(within: timedelta) -> str:
    seconds = within.total_seconds()
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def monitor_silent_automation(
    *, within: timedelta = timedelta(minutes=35), block_id: UUID | None = None
) -> AutomationCore:
    """The automation: no `infrastructure-monitor` run Completed within `within`."""
    span = _span(within)
    subject = f"hotdash-ops: the infrastructure monitor has been silent for {span}"
    body = (
        f"No {MONITOR_FLOW} run has completed in the last {span}, so nobody is "
        "watching the Fly.io apps. Check that the Prefect worker is running "
        "(`prefect worker start --pool hotdash`), that the deployment's schedule is active, "
        f"and the latest {MONITOR_FLOW} runs in the Prefect UI (failed, crashed, cancelled?)."
    )
    actions: list[SendNotification | DoNothing] = (
        [SendNotification(block_document_id=block_id, subject=subject, body=body)]
        if block_id
        else [DoNothing()]
    )
    return AutomationCore(
        name=MONITOR_SILENT,
        description=(
            f"Tell people when no {MONITOR_FLOW} run has completed for {span} "
            "(the monitor runs every 15 minutes)."
        ),
        enabled=True,
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            # Every spec must match one related resource: the flow and its deployment.
            match_related=[
                {"prefect.resource.role": "flow", "prefect.resource.name": MONITOR_FLOW},
                {
                    "prefect.resource.role": "deployment",
                    "prefect.resource.name": MONITOR_DEPLOYMENT,
                },
            ],
            # `after` = `expect`: each completion starts a fresh window, so the alarm goes
            # off `within` after the LAST completion (not at the end of a fixed window).
            after={"prefect.flow-run.Completed"},
            expect={"prefect.flow-run.Completed"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=actions,  # type: ignore[arg-type]
    )


def create_automations(
    *, within: timedelta = timedelta(minutes=35), block_name: str = ALERT_BLOCK
) -> dict[str, UUID]:
    """Create the stack's automations, replacing any of the same name; name -> id.

    `within` is a parameter only so a test can prove the automation fires in seconds.
    """
    with get_client(sync_client=True) as client:
        block_id = notification_block_id(client, block_name)
        automation = monitor_silent_automation(within=within, block_id=block_id)
        for old in client.read_automations_by_name(automation.name):
            client.delete_automation(old.id)
        return {automation.name: client.create_automation(automation)}


if __name__ == "__main__":
    for name, automation_id in create_automations().items():
        print(f"automation {name}: {automation_id}")
