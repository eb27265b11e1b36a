"""Deployment Procedures / Rollback, staging or production (runbook: rollback-staging.sh,
rollback-production.sh, the "rollback-deployment" workflow: environment + reason).

Fly.io has no rollback command: the newest release whose status is complete and whose
version is lower than the running one is redeployed by image (`fly deploy --image`), never a
failed release and never "the second row" (hotdash_ops.deploys.release_choice). The rollback is
verified with the smoke test, audited, and people are told.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from pydantic import Field

from hotdash_ops.deploys.record import DeployRecord
from hotdash_ops.errors import FlyctlError
from hotdash_ops.operator_input import Reason, Requester
from tasks import fly_access
from tasks.announce import tell
from tasks.app_lock import app_lock
from tasks.audit import audit
from tasks.fly_deploys import failure_text, rollback_app
from tasks.reports import publish_markdown
from tasks.smoke_test import smoke_test


class Environment(StrEnum):
    """Where to roll back."""

    staging = "staging"
    production = "production"


@flow(name="rollback", log_prints=False)
async def rollback(
    environment: Environment,
    reason: Reason,
    requested_by: Requester,
    target_version: Annotated[
        int | None,
        Field(
            ge=1,
            le=2**31 - 1,
            description="Roll back to this release (default: the newest "
            "complete release older than the running one)",
        ),  # fmt: skip
    ] = None,
) -> State:
    """Roll an environment back to its previous good release and verify it.

    Args:
        environment: staging or production
        reason: what is wrong (required; audit log and notifications)
        requested_by: who asks for the rollback
        target_version: a specific release to go back to; it must be complete and older
    """
    logger = get_run_logger()
    app = fly_access.inventory().environment_app(Environment(environment).value).name
    record = DeployRecord(
        title=f"Rollback of {environment} ({app})",
        facts={"app": app, "requested by": requested_by, "reason": reason},
    )

    async def finish(state: State, subject: str) -> State:
        record.outcome = state.message or ""
        await publish_markdown(f"rollback-{app}", record.markdown(), description=record.outcome)
        await tell(subject, f"{record.outcome}\nrequested by {requested_by}: {reason}")
        (logger.info if state.is_completed() else logger.error)("%s", record.outcome)
        return state

    async with app_lock(app):
        # Find the last good release and redeploy its image.
        try:
            outcome = rollback_app(
                app, actor=requested_by, reason=reason, target_version=target_version
            )
        except ValueError as exc:
            record.add("choose target", "failed", str(exc))
            return await finish(
                Failed(message=f"rollback of {app} refused: {exc}; nothing was deployed"),
                f"{app}: rollback refused",
            )
        except FlyctlError as exc:
            record.add("redeploy", "failed", failure_text(exc))
            return await finish(
                Failed(message=f"rollback of {app} failed: {failure_text(exc)}"),
                f"{app}: rollback FAILED",
            )
        record.add("redeploy", "ok", outcome.describe())
        # Verify with the smoke test.
        smoke = await smoke_test(app, artifact_key=f"smoke-{app}-rollback", image=outcome.image)
    record.add("smoke test", "ok" if smoke.passed else "failed", smoke.summary())
    audit(
        actor=requested_by,
        action="rollback.verified" if smoke.passed else "rollback.verification_failed",
        target=app,
        detail={"to_version": outcome.to_version, "image": outcome.image, "smoke": smoke.summary()},
        reason=reason,
    )
    message = f"{outcome.describe()}; {smoke.summary()}"
    if smoke.passed:
        return await finish(Completed(message=message), f"{app}: rolled back")
    return await finish(Failed(message=message), f"{app}: rolled back, smoke test FAILED")


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
