"""Cost Management / Enable Auto-Stop: set autostop/autostart/min_machines_running on every
machine's services (Fly's replacement for the runbook's `fly autoscale set min=0 max=1`).

Through the Machines API (`POST /v1/apps/{app}/machines/{id}` with the machine's config,
services changed), as `fly machine update` would. Runs under the app's lock; the machines are
read again inside it, so the change is computed on what is there now; machines already set
as asked are skipped, so a re-run changes nothing. Each update is a mutation: sent once,
never retried, and audited.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from hotdash_ops.cost import autostop
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.audit import audited


class AutoStopResult(BaseModel):
    """What applying did to one app."""

    app: str
    updated: list[str] = Field(default_factory=list)
    already: list[str] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict)
    verified: bool = False


@task(name="apply-auto-stop", retries=0, cache_policy=NO_CACHE)
async def apply_autostop(
    app: str, min_machines_running: int, *, actor: str, reason: str | None = None
) -> AutoStopResult:
    """Runbook: Enable Auto-Stop for one app (every machine's services), under its lock."""
    logger = get_run_logger()
    result = AutoStopResult(app=app)
    async with app_lock(app), fly_access.machines_client() as client:
        for machine in await client.list_machines(app):
            change = autostop.machine_change(app, machine, min_machines_running)
            if change.skipped:
                result.skipped[machine.id] = change.skipped
                continue
            if change.configured:
                result.already.append(machine.id)
                continue
            assert machine.config is not None  # machine_change skips machines without one
            config = autostop.configured_copy(machine.config, min_machines_running)
            detail = {
                "machine_id": machine.id,
                "services": [c.model_dump() for c in change.changes],
            }
            with audited(
                actor=actor, action="autostop.enable", target=app, detail=detail, reason=reason
            ):
                await client.update_machine(
                    app, machine.id, config, current_version=machine.version
                )
                result.updated.append(machine.id)
            logger.info("%s: machine %s auto-stop set", app, machine.id)
        # Read back: every machine that has services now carries the target settings.
        after = [
            autostop.machine_change(app, m, min_machines_running)
            for m in await client.list_machines(app)
        ]
    result.verified = all(c.configured or c.skipped for c in after)
    return result
