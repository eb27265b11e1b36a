"""HTTP checks of the apps' own endpoints and of external dependencies (curl in the runbook).

A dependency is asked with the headers the inventory names (Supabase's `apikey`, Shopify's
`X-Shopify-Access-Token`), their values from the environment or a Prefect Secret block
(`tasks.fly_access.secret`); a dependency whose key is not configured is not asked at all and
is "no data" (asking without the key would only be refused), never healthy."""

from __future__ import annotations

import asyncio
import os

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from hotdash_ops.inventory import AppSpec, Dependency
from hotdash_ops.models import Machine
from hotdash_ops.monitor.alert_rules import RuleVerdict, evaluate_dependency
from hotdash_ops.monitor.probe import ProbeResult, not_woken, probe, skipped
from hotdash_ops.tls import tls_context
from tasks import fly_access
from tasks.checks import verdict

MAX_CONNECTIONS = 20
HEALTH_POLL_SECONDS = 5.0


# Fly Proxy sends a request with this header to that machine only (docs
# networking/dynamic-request-routing, "The fly-force-instance-id Header").
FORCE_INSTANCE = "fly-force-instance-id"


async def probe_many(
    targets: list[tuple[str, int, float | None]],
    *,
    timeout: float = 10.0,
    instances: list[str | None] | None = None,
) -> list[ProbeResult]:
    """Probe (url, expected status, latency budget ms) targets concurrently, bounded; with
    `instances`, target i is sent to machine `instances[i]` only (`fly-force-instance-id`)."""
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    gate = asyncio.Semaphore(MAX_CONNECTIONS)
    machines = instances or [None] * len(targets)
    async with httpx.AsyncClient(
        limits=limits, follow_redirects=False, verify=tls_context()
    ) as client:

        async def one(target: tuple[str, int, float | None], machine: str | None) -> ProbeResult:
            url, expected, budget = target
            async with gate:
                return await probe(
                    client,
                    url,
                    expected_status=expected,
                    budget_ms=budget,
                    timeout=timeout,
                    headers={FORCE_INSTANCE: machine} if machine else None,
                )

        return list(
            await asyncio.gather(*(one(t, m) for t, m in zip(targets, machines, strict=True)))
        )


@task(name="check-health-endpoints", cache_policy=NO_CACHE)
async def check_health_endpoints(
    apps: list[AppSpec], machines: dict[str, list[Machine] | str] | None = None
) -> dict[str, ProbeResult]:
    """Runbook: `curl https://<app>.fly.dev/health` for every service, except auto-stopped
    apps that a request would wake (`probe_when_stopped: false`; their `machines` say so)."""
    cfg = fly_access.settings()
    asleep = {a.name: not_woken(a, (machines or {}).get(a.name)) for a in apps}
    awake = [a for a in apps if not asleep[a.name]]
    targets = [(cfg.app_url(a.name, a.health_path), 200, a.thresholds.response_ms) for a in awake]
    results = dict(zip([a.name for a in awake], await probe_many(targets), strict=True))
    return {
        a.name: results.get(a.name)
        or skipped(
            cfg.app_url(a.name, a.health_path),
            str(asleep[a.name]),
            budget_ms=a.thresholds.response_ms,
        )  # fmt: skip
        for a in apps
    }


async def watch_health(spec: AppSpec, timeout_seconds: float) -> tuple[bool, str]:
    """After a change (a restart, a mitigation): `curl /health` until it answers as expected
    or `timeout_seconds` pass; (recovered, what it answered last)."""
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while True:
        health = (await check_health_endpoints([spec]))[spec.name]
        if health.status_ok:
            return True, health.describe()
        if asyncio.get_running_loop().time() >= deadline:
            return False, health.describe()
        await asyncio.sleep(HEALTH_POLL_SECONDS)


def dependency_headers(dep: Dependency) -> dict[str, str] | str:
    """The headers `dep` is asked with, or why they cannot be made (a key not configured)."""
    headers: dict[str, str] = {}
    for name, source in dep.headers.items():
        value = fly_access.secret(source.env, source.secret_block)
        if value is None:
            block = f" nor a Secret block {source.secret_block}" if source.secret_block else ""
            return f"header {name}: neither {source.env} is set{block}"
        headers[name] = source.prefix + value
    return headers


@task(name="check-dependencies", cache_policy=NO_CACHE)
async def check_dependencies(deps: list[Dependency]) -> list[RuleVerdict] | State:
    """Runbook "Verify dependencies (Supabase, Shopify)" and "Database": `curl
    https://<project>.supabase.co/rest/v1/` (with its `apikey`), judged by the `dependency`
    rule (hotdash_ops.monitor.alert_rules). One failing or unknown ends the task run Failed
    with the verdicts (tasks.checks: read them with `checked`)."""
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS)
    async with httpx.AsyncClient(
        limits=limits, follow_redirects=False, verify=tls_context()
    ) as client:

        async def one(dep: Dependency) -> RuleVerdict:
            headers = dependency_headers(dep)
            if isinstance(headers, str):
                return evaluate_dependency(dep, None, not_checked=headers)
            answer = await probe(
                client,
                dep.resolved_url(dict(os.environ)),
                expected_status=dep.expected_status[0],
                headers=headers,
            )
            return evaluate_dependency(dep, answer)

        verdicts = list(await asyncio.gather(*(one(d) for d in deps)))
    bad = [v.detail for v in verdicts if v.outcome.alerting]
    return verdict(verdicts, "; ".join(bad) if bad else None)
