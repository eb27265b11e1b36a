"""HTTP checks of the apps' own endpoints and of external dependencies (curl in the runbook)."""

from __future__ import annotations

import asyncio
import os

import httpx
from prefect import task

from hotdash_ops.inventory import AppSpec, Dependency
from hotdash_ops.models import Machine
from hotdash_ops.monitor.health import Finding, assess_dependency
from hotdash_ops.monitor.probe import ProbeResult, not_woken, probe, skipped
from tasks import fly_access

MAX_CONNECTIONS = 20


async def probe_many(
    targets: list[tuple[str, int, float | None]], *, timeout: float = 10.0
) -> list[ProbeResult]:
    """Probe (url, expected status, latency budget ms) targets concurrently, bounded."""
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    gate = asyncio.Semaphore(MAX_CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:

        async def one(url: str, expected: int, budget: float | None) -> ProbeResult:
            async with gate:
                return await probe(
                    client, url, expected_status=expected, budget_ms=budget, timeout=timeout
                )

        return list(await asyncio.gather(*(one(*t) for t in targets)))


@task(name="check-health-endpoints")
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


@task(name="check-dependencies")
async def check_dependencies(deps: list[Dependency]) -> list[Finding]:
    """Runbook: Database: `curl https://<project>.supabase.co/rest/v1/`."""
    results = await probe_many(
        [(d.resolved_url(dict(os.environ)), d.expected_status[0], None) for d in deps]
    )
    findings = []
    for dep, result in zip(deps, results, strict=True):
        # Any status the inventory lists as healthy counts, not only the first.
        if result.status in dep.expected_status:
            result = result.model_copy(update={"expected_status": result.status})
        findings.append(assess_dependency(dep, result))
    return findings
