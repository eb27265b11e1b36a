"""Deployment Procedures / Rollback, staging or production (runbook: rollback-staging.sh,
rollback-production.sh, the "rollback-deployment" workflow: environment + reason).

Fly.io has no rollback command: the newest release whose status is complete and whose
version is lower than the running one is redeployed by image (`fly deploy --image`), never a
failed release and never "the second row" (hotdash_ops.deploys.release_choice). The rollback is
verified with the smoke test, audited, and people are told.
"""

from __future__ import annotations

from enum import StrEnum
from functools import partial
from typing import Annotated

from prefect import flow
from prefect.states import Completed, Failed, State
from pydantic import Field

from hotdash_ops.deploys.record import DeployRecord
from hotdash_ops.operator_input import Reason, Requester
from hotdash_ops.run_forms import DIGITS, optional
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.deploy_runs import RollbackNotDone, finish_run, roll_back_and_verify


class Environment(StrEnum):
    """Where to roll back."""

    staging = "staging"
    production = "production"


@flow(name="rollback", log_prints=False)
async def rollback(
    environment: Environment,
    reason: Reason,
    requested_by: Requester,
    target_version: optional(Annotated[int, Field(ge=1, le=2**31 - 1)], pattern=DIGITS) = "",
) -> State:
    """Roll an environment back to its previous good release and verify it.

    Args:
        environment: staging or production
        reason: what is wrong (required; audit log and notifications)
        requested_by: who asks for the rollback
        target_version: leave empty for the newest complete release older than the running
            one; or a release number to go back to (complete and older)
    """
    app = fly_access.inventory().environment_app(Environment(environment).value).name
    record = DeployRecord(
        title=f"Rollback of {environment} ({app})",
        facts={"app": app, "requested by": requested_by, "reason": reason},
    )
    finish = partial(
        finish_run, record, key=f"rollback-{app}", footer=f"requested by {requested_by}: {reason}"
    )

    async with app_lock(app):
        try:
            # Find the last good release, redeploy its image, verify with the smoke test.
            done = await roll_back_and_verify(
                app,
                actor=requested_by,
                reason=reason,
                target_version=target_version,
                smoke_key=f"smoke-{app}-rollback",
                record=record,
            )
        except RollbackNotDone as exc:
            if exc.refused:
                return await finish(
                    Failed(message=f"rollback of {app} refused: {exc}; nothing was deployed"),
                    subject=f"{app}: rollback refused",
                )
            return await finish(
                Failed(message=f"rollback of {app} failed: {exc}"),
                subject=f"{app}: rollback FAILED",
            )
    message = f"{done.outcome.describe()}; {done.smoke.summary()}"
    if done.verified:
        return await finish(Completed(message=message), subject=f"{app}: rolled back")
    return await finish(Failed(message=message), subject=f"{app}: rolled back, smoke test FAILED")


if __name__ == "__main__":
    import asyncio
    import os
    import sys

    asyncio.run(
        rollback(
            environment=Environment(sys.argv[1]),
            reason=" ".join(sys.argv[2:]) or "manual rollback",
            requested_by=os.environ.get("USER", "cli"),
        )
    )
