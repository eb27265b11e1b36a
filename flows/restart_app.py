"""Quick Reference: restart an app (`fly apps restart <app>`), on demand.

A rolling restart: flyctl leases the app's machines, restarts the started ones one after the
other and waits for each one's health checks (flyctl `internal/command/apps/restart.go`); a
restarted machine answers nothing while it boots, and flyctl stops with an error at the first
machine whose checks do not pass in time, leaving the others as they were. It runs under the
app's lock (no deploy or scaling at the same time), is audited with who asked and why, and is
verified: `/health` must answer as expected within `verify_seconds`, else the run ends Failed
and says what `/health` answered. A restart flyctl reports as failed ends the run Failed too,
with flyctl's words and what `/health` answers then. Production asks for a reason (it lands in
the audit log).
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from pydantic import Field

from hotdash_ops.errors import FlyctlError
from hotdash_ops.operator_input import Reason, Requester
from hotdash_ops.redaction import default_redactor
from hotdash_ops.run_forms import InventoryApp, optional
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.fly_deploys import failure_text
from tasks.http_checks import watch_health
from tasks.reports import publish_markdown
from tasks.restart import restart_app as restart_task


@flow(name="restart-app", log_prints=False)
async def restart_app(
    app: InventoryApp,
    requested_by: Requester,
    reason: optional(Reason) = "",
    verify_seconds: Annotated[int, Field(ge=0, le=1800)] = 120,
) -> State:
    """Rolling restart of an app's machines, then `/health` verified.

    Args:
        app: the Fly app (must be in the inventory)
        requested_by: who asks (audit log)
        reason: why; required for production
        verify_seconds: (expert) how long `/health` may take to answer as expected afterwards
    """
    logger = get_run_logger()
    inventory = fly_access.inventory()
    spec = inventory.app_or_refuse(app)
    environment = inventory.environment_of(app)
    if environment == "production" and not reason:
        raise ValueError(f"reason: required to restart production ({app})")
    why = reason or "restart requested"

    failed: str | None = None
    async with app_lock(app):
        # Restart app: `fly apps restart <app>` (rolling).
        try:
            await restart_task(app, actor=requested_by, reason=why)
        except FlyctlError as exc:  # audited as failed; what /health says now is still told
            failed = failure_text(exc)
        # Verify: /health answers as expected again.
        healthy, health = await watch_health(spec, verify_seconds)

    if failed is not None:
        text = f"{app}: restart by {requested_by} ({why}) FAILED: {failed}; /health: {health}"
    else:
        text = f"{app} restarted by {requested_by} ({why}); " + (
            f"healthy: {health}" if healthy else f"NOT healthy after {verify_seconds} s: {health}"
        )
    summary = default_redactor().redact(text)
    await publish_markdown(f"restart-{app}", f"# Restart {app}\n\n{summary}\n", summary)
    logger.info(summary)
    return Completed(message=summary) if healthy and failed is None else Failed(message=summary)


if __name__ == "__main__":
    import asyncio
    import os
    import sys

    asyncio.run(restart_app(app=sys.argv[1], requested_by=os.environ.get("USER", "cli")))
