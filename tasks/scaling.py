"""Scaling Operations as tasks: read how an app is scaled, change vm size, machine count and
min running / auto-stop. Used by `scale-app` and by `incident-response` (scale up).

The caller holds the app's lock (`tasks.app_lock.app_lock`). Mutations are never retried (a
failed `fly scale` may have half applied; a person looks at the before/after first). Each
mutation is audited, also when it fails.
"""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task

from hotdash_ops.scaling import (
    AppScale,
    AutoStop,
    ScalePlan,
    VmSize,
    apply_service_settings,
    describe_app,
    scaled_machines,
)
from tasks import fly_access
from tasks.audit import audited


@task(name="read-app-scale")
async def read_app_scale(app: str) -> AppScale:
    """Runbook: Check current size (`fly status --app <app>`, `fly scale show`), read through the
    Machines API (`GET /v1/apps/{app}/machines`; the client retries the read)."""
    async with fly_access.machines_client() as client:
        machines = await client.list_machines(app)
    return describe_app(app, machines)


@task(name="scale-vm")
async def scale_vm(
    app: str, size: VmSize, memory_mb: int | None, *, actor: str, reason: str
) -> str:
    """Runbook: Vertical Scaling: `fly scale vm SIZE -a APP [--vm-memory MB]`."""
    detail = {"size": size.value, "memory_mb": memory_mb}
    with audited(actor=actor, action="scale.vm", target=app, detail=detail, reason=reason):
        result = await asyncio.to_thread(
            fly_access.flyctl().scale_vm, app, size.value, memory_mb=memory_mb
        )
    get_run_logger().info("%s: scaled vm to %s (%s MB)", app, size.value, memory_mb or "default")
    return result.stdout.strip()


@task(name="scale-count")
async def scale_count(
    app: str, count: int, max_per_region: int | None, *, actor: str, reason: str
) -> str:
    """Runbook: Horizontal Scaling: `fly scale count N -a APP [--max-per-region M] --yes`."""
    detail = {"count": count, "max_per_region": max_per_region}
    with audited(actor=actor, action="scale.count", target=app, detail=detail, reason=reason):
        result = await asyncio.to_thread(
            fly_access.flyctl().scale_count, app, count, max_per_region=max_per_region
        )
    get_run_logger().info("%s: scaled to %d machine(s)", app, count)
    return result.stdout.strip()


@task(name="set-min-running")
async def set_min_running(
    app: str, min_running: int | None, auto_stop: AutoStop | None, *, actor: str, reason: str
) -> int:
    """Runbook: Auto-scaling "set min/max machines" (`fly autoscale`, removed from flyctl):
    `autostop` / `autostart` / `min_machines_running` on every machine's services, through the
    Machines API (`POST /v1/apps/{app}/machines/{id}` with the whole config). Returns how many
    machines were updated; machines already set as asked are left alone."""
    updated: list[str] = []
    detail = {
        "min_running": min_running,
        "auto_stop": auto_stop.value if auto_stop else None,
        "machines": updated,  # the ones done so far, also when one fails
    }
    with audited(actor=actor, action="scale.services", target=app, detail=detail, reason=reason):
        async with fly_access.machines_client() as client:
            for machine in scaled_machines(await client.list_machines(app)):
                if machine.config is None:
                    # Without the full config an update would replace it with a partial one.
                    raise RuntimeError(
                        f"machine {machine.id}: config unknown (host unreachable); not updated"
                    )
                config = apply_service_settings(
                    machine.config, min_running=min_running, auto_stop=auto_stop
                )
                if config == machine.config:
                    continue
                await client.update_machine(
                    app, machine.id, config, current_version=machine.version
                )
                updated.append(machine.id)
    get_run_logger().info("%s: service settings updated on %d machine(s)", app, len(updated))
    return len(updated)


async def apply_scale_plan(plan: ScalePlan, *, actor: str, reason: str) -> list[str]:
    """Run the plan's steps in order (vm, count, services); only the given ones run."""
    done: list[str] = []
    if plan.vm_size is not None:
        await scale_vm(plan.app, plan.vm_size, plan.memory_mb, actor=actor, reason=reason)
        done.append("vm")
    if plan.count is not None:
        await scale_count(plan.app, plan.count, plan.max_per_region, actor=actor, reason=reason)
        done.append("count")
    if plan.changes_services:
        await set_min_running(
            plan.app, plan.min_running, plan.auto_stop, actor=actor, reason=reason
        )
        done.append("services")
    return done
