"""Cost pulls: every app's machines and volumes, and the week's CPU and memory, read from
Fly.io for the cost flows. Reads only (the clients retry them); one task per kind of read,
the apps read concurrently inside it with a bounded number of connections.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from hotdash_ops.cost.findings import WeekUsage, week_usage
from hotdash_ops.errors import FlyError
from hotdash_ops.models import Machine, PromResult, Volume
from hotdash_ops.monitor.metrics import build_query
from tasks import fly_access
from tasks.fleet_reads import for_each_app

WEEK = timedelta(days=7)


class FleetResources(BaseModel):
    """Machines and volumes of every app that could be read; the others' errors."""

    machines: dict[str, list[Machine]] = Field(default_factory=dict)
    volumes: dict[str, list[Volume]] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)


@task(name="read-org-apps", cache_policy=NO_CACHE)
async def read_org_apps(org: str, known: list[str]) -> tuple[list[str], str | None]:
    """Runbook: `fly apps list`: every app of the org, then the inventory's apps not in it
    (so an inventory app missing on Fly shows up as unreadable rather than vanishing)."""
    try:
        async with fly_access.machines_client() as client:
            apps = [a.name for a in await client.list_apps(org)]
    except FlyError as exc:
        return list(known), f"could not list the org's apps ({exc}); inventory apps only"
    return sorted(set(apps)) + [a for a in known if a not in set(apps)], None


@task(name="read-machines-and-volumes", cache_policy=NO_CACHE)
async def read_resources(apps: list[str]) -> FleetResources:
    """Runbook: `fly machines list` and `fly volumes list` for every app (Machines API)."""
    async with fly_access.machines_client() as client:

        async def both(app: str) -> tuple[list[Machine], list[Volume]]:
            machines, volumes = await asyncio.gather(
                client.list_machines(app), client.list_volumes(app)
            )
            return machines, volumes

        results = await for_each_app(apps, both)
    out = FleetResources()
    for app, result in results.items():
        if isinstance(result, str):
            out.errors[app] = result
        else:
            out.machines[app], out.volumes[app] = result
    return out


@task(name="read-week-usage", cache_policy=NO_CACHE)
async def read_week_usage(
    apps: list[str], end: datetime, step_seconds: int = 3600
) -> tuple[dict[str, WeekUsage], list[str]]:
    """The week's CPU and memory per app: two range queries for the whole fleet (hourly
    rates), reduced to mean and peak. A failed query leaves that figure unknown."""
    logger = get_run_logger()
    results: dict[str, PromResult | None] = {}
    problems: list[str] = []
    async with fly_access.prometheus_client() as prom:
        for figure in ("cpu_pct", "mem_pct"):
            promql = build_query(figure, window_minutes=60, apps=apps)
            try:
                results[figure] = await prom.query_range(promql, end - WEEK, end, step_seconds)
            except FlyError as exc:
                results[figure] = None
                problems.append(f"{figure}: {exc}")
                logger.warning("week %s unknown: %s", figure, exc)
    return week_usage(results["cpu_pct"], results["mem_pct"], apps), problems
