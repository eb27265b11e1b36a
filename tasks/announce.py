"""Notifications that must not decide anything: a message that cannot be delivered is logged
(and kept in notifications.jsonl by `tasks.notify`), and the caller carries on. Every flow
tells people through this, so a lost message never changes what happens to an app or how a
run ends. (The monitor's alerts are the exception: an undelivered alert is retried next run
and fails the run, `tasks.alerting`.)"""

from __future__ import annotations

from uuid import UUID

from prefect import get_run_logger
from prefect.runtime import flow_run
from prefect.utilities.urls import url_for

from tasks.notify import escalation_block_names, notify


def run_url(flow_run_id: UUID | str | None = None) -> str:
    """A flow run's page in the Prefect UI (PREFECT_UI_URL + /runs/flow-run/<id>); this run's
    when no id is given. Without PREFECT_UI_URL, the path alone."""
    run_id = flow_run_id or flow_run.get_id()
    return url_for("flow-run", obj_id=run_id) or f"/runs/flow-run/{run_id}"


async def tell(subject: str, body: str) -> bool:
    """`notify`, but a delivery failure is a warning in the run's log, not an error."""
    try:
        return await notify(subject, body)
    except Exception as exc:  # any delivery failure is only logged
        get_run_logger().warning("notification %r not delivered: %s", subject, exc)
        return False


async def escalate(subject: str, body: str) -> bool:
    """Tell the escalation block(s) (`hotdash-escalation`), never failing the caller; when no
    escalation block exists or it cannot be reached, the alert blocks get it marked
    `[ESCALATION]`, so an escalation is never lost."""
    names = escalation_block_names()
    try:
        if await notify(subject, body, blocks_named=names):
            return True
    except Exception as exc:  # any delivery failure: fall back to the alert blocks
        get_run_logger().warning("escalation %r not delivered to %s: %s", subject, names, exc)
    return await tell(f"[ESCALATION] {subject}", body)
