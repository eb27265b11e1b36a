"""Environment parity, staging against production (runbook:
`bash scripts/deploy/verify-environment-parity.sh`)."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from hotdash_ops.deploys.parity import EnvironmentFacts, ParityReport, compare_environments
from hotdash_ops.deploys.parity import environment_facts as build_facts
from tasks import fly_access
from tasks.checks import verdict
from tasks.http_checks import probe_many
from tasks.reports import publish_markdown


async def read_environment(environment: str, app: str) -> EnvironmentFacts:
    """Machines and secret names (Machines API, like `fly status` / `fly secrets list`) and a
    `curl /health` of one environment. A read that fails raises: parity is then unknown."""
    cfg = fly_access.settings()
    spec = fly_access.inventory(cfg).app(app)
    async with fly_access.machines_client(cfg) as client:
        machines, secrets = await asyncio.gather(
            client.list_machines(app), client.list_secrets(app)
        )
    [health] = await probe_many(
        [(cfg.app_url(app, spec.health_path), 200, spec.thresholds.response_ms)]
    )
    return build_facts(
        environment, app, machines=machines, secrets=[s.name for s in secrets], health=health
    )


@task(name="check-parity", cache_policy=NO_CACHE)
async def check_parity(
    staging_app: str, production_app: str, required_secrets: list[str]
) -> ParityReport | State:
    """Runbook Verify environment parity (`verify-environment-parity.sh`): compare staging with
    production and publish the report (key `parity-<staging app>`). A blocking difference ends
    the task run Failed with its report (tasks.checks: callers read it with `checked`)."""
    staging, production = await asyncio.gather(
        read_environment("staging", staging_app), read_environment("production", production_app)
    )
    report = compare_environments(staging, production, required_secrets=required_secrets)
    await publish_markdown(f"parity-{staging_app}", report.markdown(), description=report.summary())
    logger = get_run_logger()
    for item in report.blocking:
        logger.error("parity blocking: %s: %s", item.check, item.note)
    for item in report.info:
        logger.info("parity info: %s: %s", item.check, item.note)
    if report.unhealthy:
        # A deploy may be the fix (a hotfix for production, a repair of staging).
        logger.warning("parity: %s (shown, never blocking)", report.unhealthy)
    return verdict(report, report.summary() if report.blocking else None)
