"""The monitor's reads of a whole fleet and their verdicts: machines and `/health` (sharded),
the metrics, judged by the rules of each app's role (`evaluate_apps`, shared by the
infrastructure monitor and the manual health check).

The same reads as `tasks.fleet_reads.read_machines` and `tasks.http_checks.check_health_endpoints`,
cut into shards of `SHARD_SIZE` apps, each shard with its own small connection pool, at most
`PARALLEL_SHARDS` at once (so at most 100 connections per kind of read). Every 15 minutes over
hundreds of apps, one big pool costs more CPU than the requests themselves (see
hotdash_ops.fly.sharding); the pools share one TLS context, because building one (loading the CA
bundle) costs ~0.1 s of CPU each. One task per kind of read, never one per app.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.utilities.annotations import quote

from hotdash_ops.fly.sharding import run_sharded
from hotdash_ops.inventory import AppSpec
from hotdash_ops.models import Machine
from hotdash_ops.monitor.alert_rules import AppEvaluation, evaluate_fleet
from hotdash_ops.monitor.probe import ProbeResult, not_woken, probe, skipped
from hotdash_ops.tls import tls_context
from tasks import fly_access
from tasks.checks import checked, verdict
from tasks.fleet_reads import for_each_app, read_metrics

SHARD_SIZE = 10
PARALLEL_SHARDS = 10
PROBE_TIMEOUT_SECONDS = 10.0


def _transport() -> httpx.AsyncHTTPTransport:
    limits = httpx.Limits(max_connections=SHARD_SIZE, max_keepalive_connections=SHARD_SIZE)
    return httpx.AsyncHTTPTransport(verify=tls_context(), limits=limits)


@task(name="read-fleet-machines", cache_policy=NO_CACHE)
async def read_fleet_machines(apps: list[str]) -> dict[str, list[Machine] | str]:
    """Runbook: `fly status --app <app>` for every app (Machines API); an unreadable app's
    entry is the error text (reported as no data, never as healthy)."""
    cfg = fly_access.settings()

    async def shard(chunk: list[str]) -> list[list[Machine] | str]:
        async with fly_access.machines_client(cfg, transport=_transport()) as client:
            got = await for_each_app(chunk, client.list_machines, limit=SHARD_SIZE)
        return [got[app] for app in chunk]

    results = await run_sharded(apps, shard, size=SHARD_SIZE, parallel=PARALLEL_SHARDS)
    return dict(zip(apps, results, strict=True))


@task(name="check-fleet-health", cache_policy=NO_CACHE)
async def check_fleet_health(
    apps: list[AppSpec], machines: dict[str, list[Machine] | str] | None = None
) -> dict[str, ProbeResult]:
    """Runbook: `curl https://<app>.fly.dev/health` for every app (status and latency), except
    auto-stopped apps a request would wake (`probe_when_stopped: false`, from `machines`)."""
    cfg = fly_access.settings()

    async def check(client: httpx.AsyncClient, spec: AppSpec) -> ProbeResult:
        url = cfg.app_url(spec.name, spec.health_path)
        budget = spec.thresholds.response_ms
        reason = not_woken(spec, (machines or {}).get(spec.name))
        if reason:
            return skipped(url, reason, budget_ms=budget)
        return await probe(client, url, budget_ms=budget, timeout=PROBE_TIMEOUT_SECONDS)

    async def shard(chunk: list[AppSpec]) -> list[ProbeResult]:
        async with httpx.AsyncClient(transport=_transport(), follow_redirects=False) as client:
            return list(await asyncio.gather(*(check(client, a) for a in chunk)))

    results = await run_sharded(apps, shard, size=SHARD_SIZE, parallel=PARALLEL_SHARDS)
    return {a.name: r for a, r in zip(apps, results, strict=True)}


async def evaluate_apps(apps: list[AppSpec], window_minutes: int) -> list[AppEvaluation]:
    """Runbook `fly-metrics-dashboard.sh` / `fly status` / `curl /health` for `apps`: the
    machines, then metrics and `/health` at once (three task runs whatever the fleet's size),
    every rule of each app's role judged (hotdash_ops.monitor.alert_rules). `quote`: Prefect
    need not walk hundreds of items looking for futures."""
    names = [a.name for a in apps]
    # Machines first: an auto-stopped app is not woken by a /health request.
    machines = await read_fleet_machines(quote(names))
    metrics, health = await asyncio.gather(
        read_metrics(quote(names), window_minutes),
        check_fleet_health(quote(apps), quote(machines)),
    )
    evaluations: list[AppEvaluation] = await checked(
        judge_apps, quote(apps), quote(machines), quote(health), quote(metrics)
    )
    return evaluations


@task(name="judge-apps", cache_policy=NO_CACHE)
async def judge_apps(
    apps: list[AppSpec],
    machines: dict[str, list[Machine] | str],
    health: dict[str, ProbeResult],
    metrics: Any,
) -> list[AppEvaluation] | State:
    """Runbook Automated Monitoring, "Creates alerts on failures": every rule of each app's
    role judged on what was read. An app failing or unknown ends this task run Failed, named
    `Failed check`, saying which (the run's graph shows where it broke); the evaluations are
    its result either way (tasks.checks)."""
    evaluations = evaluate_fleet(apps, machines=machines, health=health, metrics=metrics)
    bad = [f"{v.app}: {v.detail}" for e in evaluations for v in e.verdicts if v.outcome.alerting]
    more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
    return verdict(evaluations, "; ".join(bad[:10]) + more if bad else None)
