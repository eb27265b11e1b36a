"""What the deploy and rollback flows share (runbook: Deployment Procedures, Rollback): the
verified rollback, and how a run ends with its record.

* `roll_back_and_verify`: the Rollback procedure and its check, for the `rollback` flow and for
  the automatic rollbacks of `deploy-staging` and `deploy-production`;
* `finish_run`: the run's record (hotdash_ops.deploys.record) becomes its summary artifact, the
  outcome is logged, and people are told.
"""

from __future__ import annotations

from prefect import get_run_logger
from prefect.states import State
from pydantic import BaseModel

from hotdash_ops.deploys.record import DeployRecord
from hotdash_ops.deploys.release_choice import RollbackOutcome
from hotdash_ops.deploys.smoke import SmokeReport
from hotdash_ops.errors import FlyctlError
from tasks.announce import tell
from tasks.audit import audit
from tasks.checks import checked
from tasks.fly_deploys import failure_text, rollback_app
from tasks.reports import publish_markdown
from tasks.smoke_test import smoke_test


class RollbackNotDone(Exception):
    """Nothing was redeployed: no target could be chosen (`refused`: nothing changed), or
    flyctl failed the redeploy (machines may have moved). The message says why."""

    def __init__(self, text: str, *, refused: bool) -> None:
        super().__init__(text)
        self.refused = refused


class VerifiedRollback(BaseModel):
    """A rollback that was redeployed, and its smoke test."""

    outcome: RollbackOutcome
    smoke: SmokeReport

    @property
    def verified(self) -> bool:
        return self.smoke.passed


async def roll_back_and_verify(
    app: str,
    *,
    actor: str,
    reason: str,
    target_version: int | None,
    smoke_key: str,
    record: DeployRecord,
) -> VerifiedRollback:
    """Runbook Rollback, then verify: redeploy the last good release's image (`rollback_app`:
    `fly deploy --image <image> --strategy immediate`), smoke-test the app (artifact
    `smoke_key`), audit `rollback.verified` or `rollback.verification_failed`, and add each step
    to the run's record. Raises RollbackNotDone when nothing was redeployed. The caller holds
    the app's lock."""
    try:
        outcome = rollback_app(app, actor=actor, reason=reason, target_version=target_version)
    except ValueError as exc:
        record.add("rollback", "failed", str(exc))
        raise RollbackNotDone(str(exc), refused=True) from None
    except FlyctlError as exc:
        record.add("rollback", "failed", failure_text(exc))
        raise RollbackNotDone(failure_text(exc), refused=False) from None
    record.add("rollback", "ok", outcome.describe())
    smoke = await checked(smoke_test, app, artifact_key=smoke_key, image=outcome.image)
    record.add("rollback smoke test", "ok" if smoke.passed else "failed", smoke.summary())
    audit(
        actor=actor,
        action="rollback.verified" if smoke.passed else "rollback.verification_failed",
        target=app,
        detail={"to_version": outcome.to_version, "image": outcome.image, "smoke": smoke.summary()},
        reason=reason,
    )
    return VerifiedRollback(outcome=outcome, smoke=smoke)


async def finish_run(
    record: DeployRecord,
    state: State,
    *,
    key: str,
    subject: str | None = None,
    footer: str = "",
) -> State:
    """End a run: the state's message is the record's outcome, the record is published as the
    markdown artifact `key`, the outcome is logged, and, given a `subject`, people are told
    (the outcome, then `footer`). Returns `state`."""
    record.outcome = state.message or state.name or ""
    await publish_markdown(key, record.markdown(), description=record.outcome)
    if subject is not None:
        await tell(subject, f"{record.outcome}\n{footer}" if footer else record.outcome)
    logger = get_run_logger()
    (logger.info if state.is_completed() else logger.error)("%s", record.outcome)
    return state
