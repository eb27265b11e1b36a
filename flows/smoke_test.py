"""Deployment Procedures, manual step 5: Verify deployment
(`bash scripts/deploy/automated-smoke-test.sh <environment>`), on demand, for any environment.

The same task the deploy flows verify with (`tasks.smoke_test.smoke_test`): every endpoint of
the app's inventory `smoke` list, status and latency budget, all of them even when one fails.
The table artifact is `smoke-<app>`; the run ends Failed when any endpoint fails (and the
smoke-test task run with it, tasks/checks.py).
"""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, Failed, State

from hotdash_ops.inventory import EnvironmentName
from tasks import fly_access
from tasks.checks import checked
from tasks.smoke_test import smoke_test


@flow(name="smoke-test", log_prints=False)
async def run_smoke_test(environment: EnvironmentName = "staging") -> State:
    """The automated smoke test of one environment's app.

    Args:
        environment: staging or production (an environment of the inventory)
    """
    spec = fly_access.inventory().environment_app_or_refuse(environment)
    if not spec.smoke:
        raise ValueError(f"environment: {spec.name} has no smoke endpoints in the inventory")
    report = await checked(smoke_test, spec.name, artifact_key=f"smoke-{spec.name}")
    message = f"{spec.name} ({environment}): {report.summary()}"
    return Completed(message=message) if report.passed else Failed(message=message)


if __name__ == "__main__":
    import asyncio
    import sys

    asyncio.run(run_smoke_test(sys.argv[1] if len(sys.argv) > 1 else "staging"))
