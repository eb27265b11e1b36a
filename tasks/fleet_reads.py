"""Reads of the whole fleet from Fly.io, one task per kind of read (not per app): the SQLite
Prefect server records about 35 task runs a second, and a monitor tick may cover hundreds of
apps. Inside a task the apps are read concurrently with a bounded number of connections.

Reads are idempotent: the clients retry them with backoff (429, 5xx, timeouts). A read that
still fails is returned as an error string for that app, so it is reported as unknown,
never as healthy.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

from hotdash_ops.errors import FlyError
from hotdash_ops.fly.logs import LogWindow
from hotdash_ops.models import App, LogEntry, Machine
from hotdash_ops.monitor.log_review import error_lines
from hotdash_ops.monitor.metrics import FleetMetrics, fetch_fleet_metrics
from hotdash_ops.monitor.overnight import ErrorReview, step_seconds
from tasks import fly_access

T = TypeVar("T")
MAX_CONNECTIONS = 20
PEAK_RATE_MINUTES = 5  # the rate window of each sample when a long range is read for peaks


async def for_each_app(
    apps: Sequence[str], read: Callable[[str], Awaitable[T]], limit: int = MAX_CONNECTIONS
) -> dict[str, T | str]:
    """Run `read` for every app, at most `limit` at once; a FlyError becomes its message."""
    gate = asyncio.Semaphore(limit)

    async def one(app: str) -> T | str:
        async with gate:
            try:
                return await read(app)
            except FlyError as exc:
                return f"{type(exc).__name__}: {exc}"

    results = await asyncio.gather(*(one(app) for app in apps))
    return dict(zip(apps, results, strict=True))


@task(name="read-machines", cache_policy=NO_CACHE)
async def read_machines(apps: list[str]) -> dict[str, list[Machine] | str]:
    """Runbook: `fly status --app <app>` for every app, through the Machines API."""
    async with fly_access.machines_client() as client:
        return await for_each_app(apps, client.list_machines)


@task(name="read-metrics", cache_policy=NO_CACHE)
async def read_metrics(apps: list[str], window_minutes: int = 15) -> FleetMetrics:
    """Runbook: the metrics dashboard: CPU, memory, p95 latency, 5xx ratio over the window."""
    async with fly_access.prometheus_client() as prom:
        return await fetch_fleet_metrics(prom, apps, window_minutes=window_minutes)


@task(name="read-error-logs", cache_policy=NO_CACHE)
async def read_error_logs(apps: list[str], limit: int = 50) -> dict[str, list[LogEntry] | str]:
    """Runbook: `fly logs --app <app> | grep -i error | tail -50`, through the logs API."""
    async with fly_access.logs_client() as client:

        async def errors_of(app: str) -> list[LogEntry]:
            return error_lines(await client.recent(app, limit=500), limit=limit)

        return await for_each_app(apps, errors_of)


@task(name="read-metric-peaks", cache_policy=NO_CACHE)
async def read_metric_peaks(apps: list[str], start: datetime, end: datetime) -> FleetMetrics:
    """Runbook: the metrics dashboard over a long range (the night): each figure's mean and
    peak of 5-minute rates, one range query per figure for every app."""
    minutes = max(1, math.ceil((end - start).total_seconds() / 60))
    async with fly_access.prometheus_client() as prom:
        return await fetch_fleet_metrics(
            prom,
            apps,
            window_minutes=minutes,
            step_seconds=step_seconds(start, end),
            now=end,
            rate_minutes=min(PEAK_RATE_MINUTES, minutes),
        )


@task(name="read-error-lines-between", cache_policy=NO_CACHE)
async def read_error_lines_between(
    apps: list[str], start: datetime, end: datetime, *, max_pages: int, shown: int
) -> dict[str, ErrorReview | str]:
    """Runbook: `fly logs --app <app> | grep -i error` over a time range (the night), paged
    through the logs API up to `max_pages` pages per app; the last `shown` error lines kept."""
    async with fly_access.logs_client() as client:

        async def review(app: str) -> ErrorReview:
            window = await client.between(app, start, end, max_pages=max_pages)
            return ErrorReview.of(
                window.entries, pages=window.pages, complete=window.complete, cap=shown
            )

        return await for_each_app(apps, review)


@task(name="read-logs-between", cache_policy=NO_CACHE)
async def read_logs_between(
    app: str,
    start: datetime,
    end: datetime,
    *,
    max_pages: int,
    region: str | None = None,
    instance: str | None = None,
) -> LogWindow:
    """Runbook Quick Reference: `fly logs --app <app> [--region R] [--machine ID]` over a time
    range, paged through the logs API (at most `max_pages` pages)."""
    async with fly_access.logs_client() as client:
        return await client.between(
            app, start, end, max_pages=max_pages, region=region, instance=instance
        )


@task(name="read-org-apps", cache_policy=NO_CACHE)
async def read_org_apps(org: str) -> list[App]:
    """Runbook Quick Reference: `fly apps list` (Machines API `GET /v1/apps?org_slug=`)."""
    async with fly_access.machines_client() as client:
        return await client.list_apps(org)
