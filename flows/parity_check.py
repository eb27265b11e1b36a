"""Deployment Procedures, manual step 2: Verify environment parity
(`bash scripts/deploy/verify-environment-parity.sh`), on demand.

The same task deploy-staging runs before it deploys (`tasks.parity_check.check_parity`):
staging against production, machines, process groups, regions, sizes, the inventory's required
secrets and `/health`. The report is the `parity-<staging app>` artifact; the run ends Failed
when a blocking difference would stop a deploy, Completed otherwise (informational differences
are listed, not failed).
"""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, Failed, State

from hotdash_ops.deploys.config import parse_deploy_settings
from tasks import fly_access
from tasks.checks import checked
from tasks.parity_check import check_parity


@flow(name="parity-check", log_prints=False)
async def run_parity_check() -> State:
    """Staging against production, as deploy-staging checks it before a deploy."""
    inventory = fly_access.inventory()
    staging = inventory.environment_app("staging")
    production = inventory.environment_app("production")
    settings = parse_deploy_settings(inventory.deploy)
    report = await checked(check_parity, staging.name, production.name, settings.required_secrets)
    if report.blocking:
        return Failed(message=f"{report.summary()}; a deploy to staging would stop here")
    return Completed(message=report.summary())


if __name__ == "__main__":
    import asyncio

    asyncio.run(run_parity_check())
