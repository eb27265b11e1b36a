"""Scaling Operations (runbook): vertical (vm size), horizontal (machine count) and min/max
running (auto-stop, Fly's replacement for the removed `fly autoscale`), on demand.

Only the settings given are changed. A request Fly would refuse (an unknown size, memory
outside the per-CPU rules, a count above the configured maximum, machines that do not fit
`--max-per-region`) is refused with the reason before any fly command and before the lock;
nothing is changed. The change runs under the app's lock, is audited, and the run's artifact
shows every setting before and after.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, State
from pydantic import Field

from hotdash_ops.inventory import Inventory
from hotdash_ops.scaling import (
    ABSOLUTE_MAX_COUNT,
    AutoStop,
    ScaleError,
    ScaleRequest,
    VmSize,
    check_request,
    diff,
    plan_scale,
    render_diff,
    scaling_policy,
)
from hotdash_ops.validation import AppName
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.reports import publish_markdown
from tasks.scaling import apply_scale_plan, read_app_scale


def known_app(inventory: Inventory, app: str) -> None:
    """Refuse an app that is not in the inventory (its limits and owners are unknown)."""
    if app not in {a.name for a in inventory.apps}:
        known = ", ".join(a.name for a in inventory.apps)
        raise ScaleError([f"app: {app!r} is not in the inventory (known: {known})"])


def artifact_key(app: str) -> str:
    return f"scale-{app}"


@flow(name="scale-app")
async def scale_app(
    app: AppName,
    vm_size: VmSize | None = None,
    memory_mb: Annotated[int, Field(ge=256, le=131072)] | None = None,
    count: Annotated[int, Field(ge=0, le=ABSOLUTE_MAX_COUNT)] | None = None,
    max_per_region: Annotated[int, Field(ge=1, le=ABSOLUTE_MAX_COUNT)] | None = None,
    min_running: Annotated[int, Field(ge=0, le=ABSOLUTE_MAX_COUNT)] | None = None,
    auto_stop: AutoStop | None = None,
) -> State:
    """Scale a Fly app; only the settings given change.

    Args:
        app: the Fly app (must be in the inventory)
        vm_size: a Fly VM preset (`fly scale vm SIZE`)
        memory_mb: memory per machine in MB; shared: 256-2048 per CPU in steps of 256,
            performance: 2048-8192 per CPU in steps of 2048 (alone: keeps the current size)
        count: number of machines (`fly scale count N`), 0 to the inventory's maximum
        max_per_region: at most this many machines per region (only with count)
        min_running: machines Fly Proxy keeps running (`min_machines_running`)
        auto_stop: what Fly Proxy does with idle machines: off, stop or suspend
    """
    logger = get_run_logger()
    request = ScaleRequest(
        app=app,
        vm_size=vm_size,
        memory_mb=memory_mb,
        count=count,
        max_per_region=max_per_region,
        min_running=min_running,
        auto_stop=auto_stop,
    )
    try:
        # The rules that need no read of the app first: no HTTP call, no lock.
        inventory = fly_access.inventory()
        known_app(inventory, app)
        policy = scaling_policy(inventory.scaling)
        check_request(request, policy)
        # Check current size, then Fly's rules against the machines as they are.
        before = await read_app_scale(app)
        plan_scale(request, before, policy)
    except ScaleError as exc:
        await publish_markdown(
            artifact_key(app),
            f"# Scale {app}: refused\n\nNothing was changed.\n\n"
            + "\n".join(f"- {p}" for p in exc.problems)
            + "\n",
            description=f"refused: {exc}",
        )
        raise

    actor = f"scale-app/{flow_run.get_name() or 'local'}"
    reason = "scale-app: " + ", ".join(f"{k}={v}" for k, v in request.given().items())
    async with app_lock(app):
        # Read again under the lock: another change may have landed while we waited.
        before = await read_app_scale(app)
        plan = plan_scale(request, before, policy)
        logger.info("%s: %s", app, "; ".join(plan.commands()))
        await apply_scale_plan(plan, actor=actor, reason=reason)
        after = await read_app_scale(app)

    rows = diff(before, after)
    changed = [f"{r.setting} {r.before} -> {r.after}" for r in rows if r.changed]
    summary = f"{app}: " + ("; ".join(changed) if changed else "already as asked, nothing changed")
    await publish_markdown(artifact_key(app), render_diff(request, plan, rows), description=summary)
    logger.info(summary)
    return Completed(message=summary)


if __name__ == "__main__":
    import asyncio
    import sys

    asyncio.run(scale_app(app=sys.argv[1], count=int(sys.argv[2])))
