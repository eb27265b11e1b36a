"""Scaling Operations as tasks: read how an app is scaled, change vm size, machine count and
min running / auto-stop. Used by `scale-app` and by `incident-response` (scale up).

The caller holds the app's lock (`tasks.app_lock.app_lock`). Mutations are never retried (a
failed `fly scale` may have half applied; a person looks at the before/after first). Each
mutation is audited, also when it fails.
"""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from hotdash_ops.fly.app_config import ServiceSettings
from hotdash_ops.models import Machine
from hotdash_ops.scaling import AppScale, ScalePlan, VmSize, describe_app, scaled_machines
from tasks import fly_access
from tasks.audit import audited
from tasks.fly_deploys import release_service_settings


@task(name="read-app-scale", cache_policy=NO_CACHE)
async def read_app_scale(app: str) -> AppScale:
    """Runbook: Check current size (`fly status --app <app>`, `fly scale show`), read through the
    Machines API (`GET /v1/apps/{app}/machines`; the client retries the read)."""
    async with fly_access.machines_client() as client:
        machines = await client.list_machines(app)
    return describe_app(app, machines)


@task(name="scale-vm", cache_policy=NO_CACHE)
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


@task(name="scale-count", cache_policy=NO_CACHE)
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


def _services_set(machines: list[Machine], want: ServiceSettings) -> bool:
    """Every scaled machine's services already carry `want`'s given settings."""
    for machine in scaled_machines(machines):
        for service in machine.config.services if machine.config else []:
            for key in ("autostop", "autostart", "min_machines_running"):
                value = getattr(want, key)
                if value is not None and getattr(service, key) != value:
                    return False
    return True


@task(name="set-min-running", cache_policy=NO_CACHE)
async def set_min_running(
    app: str, want: ServiceSettings, *, actor: str, reason: str
) -> int | None:
    """Runbook: Auto-scaling "set min/max machines" (`fly autoscale`, removed from flyctl):
    `auto_stop_machines` / `auto_start_machines` / `min_machines_running` on the app's
    services, as a release carrying the app config (`fly config show`, changed, `fly deploy
    -c ... --image <running image> --strategy rolling --max-unavailable 1`) that the next
    deploy keeps. Returns the new release's version, None when nothing had to change."""
    async with fly_access.machines_client() as client:
        machines = await client.list_machines(app)
    outcome = await asyncio.to_thread(
        release_service_settings,
        app,
        want,
        actor=actor,
        action="scale.services",
        reason=reason,
        machines_match=lambda: _services_set(machines, want),
    )
    get_run_logger().info(
        "%s: %s", app, f"release v{outcome.version} carries {want.text()}"
        if outcome.version else f"services already {want.text()}",
    )  # fmt: skip
    return outcome.version


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
        await set_min_running(plan.app, plan.service_settings(), actor=actor, reason=reason)
        done.append("services")
    return done
