"""Deployment Procedures / Standard Deployment (Staging): the one-command deploy (runbook).

It deploys one commit: `ref` (a branch, tag or commit of the HotDash repository,
`deploy.repository`; default `main`), fetched and checked to be on the main branch (the
prerequisite "Branch merged to main"), then

2. verify environment parity (staging against production). Only what no deploy can fix
   blocks (a required secret missing on staging, a process group only one side has, no
   region in common); `override_reason` passes it, recorded. The health of either side is
   shown, never blocking: a hotfix must ship while production fails (the incident it fixes)
   and while staging is down (what this deploy repairs);
3. run the tests (`deploy.test_commands`: `npm run test:unit`, `npm run test:e2e`) in a
   worktree at exactly that commit; a failure or a hang (`deploy.test_timeout_seconds`) stops
   the deploy with the output's last lines in the record (the prerequisite "All tests passing");
4. deploy: build that same worktree (`fly deploy --remote-only`, the image tagged
   `git-<commit>` and labelled with it) under the app's lock; the commit, the tests' result
   and the image's digest go into the audit log, where deploy-production finds them;
5. verify the deployment with the smoke test; a failed smoke test rolls staging back to the
   image it ran before, verifies that with the smoke test again, and the run ends Failed.

`image` deploys a prebuilt image instead (no tests, no build). Nothing ties such an image to
a tested commit, so it needs `untested_image_reason`, which follows it into the audit log and
into deploy-production's approval form.

Nothing is deployed when the input, the repository, the parity check or the tests fail.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from functools import partial
from pathlib import Path

from prefect import flow
from prefect.states import Completed, Failed, State

from hotdash_ops.deploys.config import parse_deploy_settings
from hotdash_ops.deploys.provenance import Build
from hotdash_ops.deploys.record import DeployRecord
from hotdash_ops.deploys.release_choice import running_release, running_version
from hotdash_ops.deploys.repository import Commit, GitError, RefRefused
from hotdash_ops.deploys.test_commands import summary as tests_summary
from hotdash_ops.errors import FlyctlError
from hotdash_ops.models import Release
from hotdash_ops.operator_input import Justification, Reason, Requester
from hotdash_ops.run_forms import optional
from hotdash_ops.validation import GitRef, ImageRef
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.audit import audit
from tasks.checks import checked
from tasks.deploy_runs import RollbackNotDone, finish_run, roll_back_and_verify
from tasks.fly_deploys import (
    app_status,
    deploy_image,
    deploy_source,
    failure_text,
    list_releases,
)
from tasks.parity_check import check_parity
from tasks.repository import checked_out, fetch_commit
from tasks.smoke_test import smoke_test
from tasks.test_commands import run_tests


@flow(name="deploy-staging", log_prints=False)
async def deploy_staging(
    requested_by: Requester,
    ref: GitRef = "main",
    reason: Reason = "staging deploy",
    image: optional(ImageRef) = "",
    untested_image_reason: optional(Justification) = "",
    override_reason: optional(Justification) = "",
) -> State:
    """One-command deploy to staging of one commit: parity, its tests, its build, smoke test,
    automatic rollback.

    Args:
        requested_by: who asks for the deploy (audit log, notifications)
        ref: the branch, tag or commit of the HotDash repository to deploy; it must be on
            the main branch
        reason: why (audit log)
        image: leave empty to build `ref`; or deploy this prebuilt image instead (needs
            untested_image_reason), e.g. registry.fly.io/hotdash-staging:deployment-01J...
        untested_image_reason: with image only: why an image nobody tested here must ship
            (audited, shown to production's approvers)
        override_reason: leave empty; to deploy although parity finds a blocking difference,
            say why (audited, in the record and the notification)
    """
    # Input and configuration first: nothing has happened yet if any of this is wrong.
    if image is not None and untested_image_reason is None:
        raise ValueError(
            "untested_image_reason: required with image (nothing ties a prebuilt image to a "
            "tested commit); say why it must ship untested, or deploy a ref"
        )
    if image is None and untested_image_reason is not None:
        raise ValueError("untested_image_reason: only with image (a ref is built and tested)")
    inventory = fly_access.inventory()
    app = inventory.environment_app("staging")
    production = inventory.environment_app("production")
    if not app.smoke:
        raise ValueError(f"inventory: app {app.name} has no smoke endpoints (smoke:)")
    config = parse_deploy_settings(inventory.deploy)
    if image is None and not config.test_commands:
        raise ValueError(
            "deploy.test_commands: none configured; a commit is deployed only after its tests "
            "pass (runbook prerequisite: all tests passing)"
        )
    record = DeployRecord(
        title=f"Deploy to staging: {app.name}",
        facts={"app": app.name, "requested by": requested_by, "reason": reason},
    )
    finish = partial(
        finish_run,
        record,
        key=f"deploy-staging-{app.name}",
        footer=f"requested by {requested_by}: {reason}",
    )

    # Prerequisite: branch merged to main (the commit to test, build and ship).
    commit: Commit | None = None
    if image is None:
        try:
            commit = fetch_commit(ref)
        except (RefRefused, GitError) as exc:
            record.add("commit", "failed", str(exc))
            return await finish(
                Failed(message=f"{exc}; nothing was deployed"),
                subject=f"{app.name}: deploy stopped, {ref} cannot be deployed",
            )
        record.facts["commit"] = commit.describe()
        record.add("commit", "ok", f"{commit.describe()}, on {commit.main_branch}")
    else:
        record.facts |= {"image": image, "untested image": untested_image_reason or ""}

    # 2. Verify environment parity
    parity = await checked(check_parity, app.name, production.name, config.required_secrets)
    if parity.blocking and override_reason is None:
        record.add("environment parity", "failed", parity.summary())
        return await finish(
            Failed(message=f"{parity.summary()}; nothing was deployed (override_reason passes it)"),
            subject=f"{app.name}: deploy stopped by the parity check",
        )
    if parity.blocking:
        audit(
            actor=requested_by,
            action="parity.overridden",
            target=app.name,
            detail={"blocking": [f"{i.check}: {i.note}" for i in parity.blocking]},
            reason=override_reason,
        )
        record.facts["parity overridden"] = override_reason or ""
        # Every notification of this run says so, however it ends.
        finish = partial(
            finish,
            footer=f"requested by {requested_by}: {reason}; parity overridden: {override_reason}",
        )
        record.add(
            "environment parity", "info", f"{parity.summary()}; OVERRIDDEN: {override_reason}"
        )
    else:
        record.add("environment parity", "info" if parity.unhealthy else "ok", parity.summary())

    with checked_out(commit) if commit else nullcontext() as worktree:
        # 3. Run tests (in the worktree at exactly the commit that is built)
        if commit is None or worktree is None:
            tests = f"not run: a prebuilt image ({untested_image_reason})"
            record.add("tests", "skipped", tests)
        else:
            results = await checked(
                run_tests, str(worktree), config.test_commands, config.test_timeout_seconds
            )
            tests = tests_summary(results)
            record.add("tests", "ok" if all(r.ok for r in results) else "failed", tests)
            failed = next((r for r in results if not r.ok), None)
            if failed is not None:
                record.attach(f"last lines of `{failed.command}`", failed.tail)
                return await finish(
                    Failed(message=f"{tests} at {commit.short}; nothing was deployed"),
                    subject=f"{app.name}: deploy stopped, tests failed at {commit.short}",
                )

        async with app_lock(app.name):
            # 4. Deploy
            before = running_release(list_releases(app.name), app_status(app.name))
            record.facts["before"] = f"v{before.version} {before.image_ref}"
            what = image or f"commit {commit.short if commit else '?'} ({ref})"
            build = Build(
                image=image or "",
                commit=commit.sha if commit else None,
                ref=ref if commit else None,
                subject=commit.subject if commit else "",
                tests=tests,
                tests_passed=commit is not None,
                untested_reason=untested_image_reason,
            )
            try:
                release = _deploy(app.name, build, worktree, requested_by, reason, record)
            except FlyctlError as exc:
                state, subject = await _after_failed_deploy(
                    app.name, before, f"deploy of {what} failed", exc, requested_by, record
                )
                return await finish(state, subject=subject)
            record.add("deploy", "ok", f"v{release.version} {release.image_ref}")

            # 5. Verify deployment
            smoke = await checked(
                smoke_test, app.name, artifact_key=f"smoke-{app.name}", image=release.image_ref
            )
            record.add("smoke test", "ok" if smoke.passed else "failed", smoke.summary())
            if smoke.passed:
                message = f"deployed {what} to {app.name} as v{release.version}; {smoke.summary()}"
                return await finish(Completed(message=message), subject=f"{app.name}: deployed")
            return await finish(
                await _roll_back(app.name, before, smoke.summary(), requested_by, record),
                subject=f"{app.name}: smoke test failed, rolled back",
            )


def _deploy(
    app: str,
    build: Build,
    worktree: Path | None,
    requested_by: str,
    reason: str,
    record: DeployRecord,
) -> Release:
    """Runbook Deploy: build the worktree (a tested commit) or deploy the prebuilt image."""
    if worktree is None:
        return deploy_image(
            app,
            build.image,
            actor=requested_by,
            reason=reason,
            untested_reason=build.untested_reason,
        )
    built = deploy_source(app, str(worktree), build, actor=requested_by, reason=reason)
    record.facts |= {"image": built.build.image, "digest": built.build.digest or "?"}
    return built.release


async def _after_failed_deploy(
    app: str,
    before: Release,
    failure: str,
    exc: FlyctlError,
    requested_by: str,
    record: DeployRecord,
) -> tuple[State, str]:
    """flyctl reported the deploy failed: if staging still runs what it ran before, say so
    (with a smoke test); if some machines moved, roll back to it. (state, subject)."""
    failure = f"{failure}: {failure_text(exc)}"
    record.add("deploy", "failed", failure_text(exc))
    now = running_version(list_releases(app), app_status(app))
    if now != before.version:
        state = await _roll_back(app, before, failure, requested_by, record)
        return state, f"{app}: deploy failed, rolled back"
    smoke = await checked(smoke_test, app, artifact_key=f"smoke-{app}")
    record.add("smoke test", "ok" if smoke.passed else "failed", smoke.summary())
    message = (
        f"{failure}; {app} still runs v{before.version} ({before.image_ref}), {smoke.summary()}"
    )
    return Failed(message=message), f"{app}: deploy failed"


async def _roll_back(
    app: str, before: Release, why: str, requested_by: str, record: DeployRecord
) -> State:
    """Rollback (runbook): back to the release that ran before the deploy, verified."""
    try:
        done = await roll_back_and_verify(
            app,
            actor=requested_by,
            reason=f"automatic rollback of the staging deploy: {why}",
            target_version=before.version if before.complete else None,
            smoke_key=f"smoke-{app}-rollback",
            record=record,
        )
    except RollbackNotDone as exc:
        return Failed(message=f"{why}; automatic rollback FAILED: {exc}")
    return Failed(
        message=(
            f"{why}; rolled back to v{done.outcome.to_version} ({done.outcome.image}), "
            f"rollback {done.smoke.summary()}"
        )
    )


if __name__ == "__main__":
    import asyncio
    import sys

    asyncio.run(
        deploy_staging(
            requested_by=os.environ.get("USER", "cli"), ref=sys.argv[1] if sys.argv[1:] else "main"
        )
    )
