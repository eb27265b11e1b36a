"""Cost Management / Enable Auto-Stop: auto-stop, auto-start and min running on the app's
services (Fly's replacement for the runbook's `fly autoscale set min=0 max=1`).

A release carrying the app config with the settings (`fly config show`, changed,
`fly deploy -c ... --image <running image> --strategy rolling --max-unavailable 1`), so the
next deploy, rollback included, keeps them; flyctl rolls it out one machine at a time, each
waited for until started with its checks passing, stopped machines left stopped
(tasks.fly_deploys.release_service_settings). Runs under the app's lock; the machines are read
again inside it, so the plan is made on what is there now; an app whose config and machines
already carry the settings is left alone, so a re-run changes nothing. Audited; not retried.
"""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from hotdash_ops.cost import autostop
from hotdash_ops.models import Machine
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.fly_deploys import release_service_settings


class AutoStopResult(BaseModel):
    """What applying did to one app."""

    app: str
    release: int | None = None  # the release that carries the settings (None: none needed)
    updated: list[str] = Field(default_factory=list)  # machines whose services changed
    already: list[str] = Field(default_factory=list)
    skipped: dict[str, str] = Field(default_factory=dict)
    verified: bool = False


def _changes(app: str, machines: list[Machine], min_running: int) -> list[autostop.MachineChange]:
    return [autostop.machine_change(app, m, min_running) for m in machines]


@task(name="apply-auto-stop", retries=0, cache_policy=NO_CACHE)
async def apply_autostop(
    app: str, min_machines_running: int, *, actor: str, reason: str | None = None
) -> AutoStopResult:
    """Runbook: Enable Auto-Stop for one app (`fly config show`, then `fly deploy -c` with the
    settings on every service), under its lock."""
    result = AutoStopResult(app=app)
    async with app_lock(app), fly_access.machines_client() as client:
        before = _changes(app, await client.list_machines(app), min_machines_running)
        for change in before:
            if change.skipped:
                result.skipped[change.machine_id] = change.skipped
            elif change.configured:
                result.already.append(change.machine_id)
        outcome = await asyncio.to_thread(
            release_service_settings,
            app,
            autostop.target(min_machines_running),
            actor=actor,
            action="autostop.enable",
            reason=reason or "enable auto-stop",
            machines_match=lambda: all(c.configured or c.skipped for c in before),
        )
        result.release = outcome.version
        # Read back: every machine that has services now carries the target settings.
        after = _changes(app, await client.list_machines(app), min_machines_running)
    result.updated = [c.machine_id for c in before if c.changes]
    result.verified = all(c.configured or c.skipped for c in after)
    if outcome.version is not None:
        get_run_logger().info(
            "%s: auto-stop set by release v%s (%d machine(s) changed)",
            app, outcome.version, len(result.updated),
        )  # fmt: skip
    return result
