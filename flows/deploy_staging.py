"""Deployment Procedures / Standard Deployment (Staging): the one-command deploy (runbook).

1. verify environment parity (staging against production; blocking differences stop here),
2. run the tests (`npm run test:unit`, `npm run test:e2e`: the inventory's `deploy.test_commands`,
   in the checkout, or in `source_dir` when building from source),
3. deploy (`fly deploy --image` or `fly deploy --remote-only`) under the app's lock,
4. verify the deployment with the smoke test;
   a failed smoke test rolls staging back to the image it ran before, verifies that with the
   smoke test again, and the run ends Failed saying so.

Nothing is deployed when the input, the parity check or the tests fail.
"""

from __future__ import annotations

import os
from functools import partial

from prefect import flow
from prefect.states import Completed, Failed, State

from hotdash_ops.deploys.config import parse_deploy_settings
from hotdash_ops.deploys.record import DeployRecord
from hotdash_ops.deploys.release_choice import running_release, running_version
from hotdash_ops.deploys.test_commands import summary as tests_summary
from hotdash_ops.errors import FlyctlError
from hotdash_ops.models import Release
from hotdash_ops.operator_input import Reason, Requester
from hotdash_ops.validation import ImageRef, SourceDir
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.deploy_runs import RollbackNotDone, finish_run, roll_back_and_verify
from tasks.fly_deploys import (
    app_status,
    deploy_image,
    deploy_source,
    failure_text,
    list_releases,
)
from tasks.parity_check import check_parity
from tasks.smoke_test import smoke_test
from tasks.test_commands import run_tests


@flow(name="deploy-staging", log_prints=False)
async def deploy_staging(
    requested_by: Requester,
    image: ImageRef | None = None,
    source_dir: SourceDir | None = None,
    reason: Reason = "staging deploy",
) -> State:
    """One-command deploy to staging: parity, tests, deploy, smoke test, automatic rollback.

    Args:
        requested_by: who asks for the deploy (audit log, notifications)
        image: the image to deploy, e.g. registry.fly.io/hotdash-staging:deployment-01J...
        source_dir: or a checkout to build with `fly deploy --remote-only` (tests run in it)
        reason: why (audit log)
    """
    # Input and configuration first: nothing has happened yet if any of this is wrong.
    if (image is None) == (source_dir is None):
        raise ValueError("image, source_dir: give exactly one (an image, or a directory to build)")
    cfg = fly_access.settings()
    inventory = fly_access.inventory(cfg)
    app = inventory.environment_app("staging")
    production = inventory.environment_app("production")
    if not app.smoke:
        raise ValueError(f"inventory: app {app.name} has no smoke endpoints (smoke:)")
    config = parse_deploy_settings(inventory.deploy)
    base = cfg.hotdash_inventory.parent
    source = config.source_directory(source_dir, os.environ, base=base) if source_dir else None
    checkout = source or config.checkout_dir(os.environ, base=base)
    if config.test_commands and (checkout is None or not checkout.is_dir()):
        raise ValueError(
            f"deploy.checkout: {checkout} is not a directory (set it in the inventory or "
            f"${config.checkout_env}); the tests run there"
        )
    what = image or f"a build of {source_dir}"
    record = DeployRecord(
        title=f"Deploy to staging: {app.name}",
        facts={"app": app.name, "deploying": what, "requested by": requested_by, "reason": reason},
    )

    finish = partial(
        finish_run,
        record,
        key=f"deploy-staging-{app.name}",
        footer=f"requested by {requested_by}: {reason}",
    )

    # 2. Verify environment parity
    parity = await check_parity(app.name, production.name, config.required_secrets)
    record.add("environment parity", "failed" if parity.blocking else "ok", parity.summary())
    if parity.blocking:
        return await finish(
            Failed(message=f"{parity.summary()}; nothing was deployed"),
            subject=f"{app.name}: deploy stopped by the parity check",
        )

    # 3. Run tests
    if config.test_commands and checkout is not None:
        results = await run_tests(str(checkout), config.test_commands, config.test_timeout_seconds)
        passed = all(r.ok for r in results)
        record.add("tests", "ok" if passed else "failed", tests_summary(results))
        if not passed:
            return await finish(
                Failed(message=f"{tests_summary(results)}; nothing was deployed"),
                subject=f"{app.name}: deploy stopped, tests failed",
            )
    else:
        record.add("tests", "skipped", "no test commands configured (deploy.test_commands)")

    async with app_lock(app.name):
        # 4. Deploy
        before = running_release(list_releases(app.name), app_status(app.name))
        record.facts["before"] = f"v{before.version} {before.image_ref}"
        try:
            release: Release = (
                deploy_image(app.name, image, actor=requested_by, reason=reason)
                if image
                else deploy_source(app.name, str(source), actor=requested_by, reason=reason)
            )
        except FlyctlError as exc:
            failure = f"deploy of {what} failed: {failure_text(exc)}"
            record.add("deploy", "failed", failure_text(exc))
            now = running_version(list_releases(app.name), app_status(app.name))
            if now == before.version:
                smoke = await smoke_test(app.name, artifact_key=f"smoke-{app.name}")
                record.add("smoke test", "ok" if smoke.passed else "failed", smoke.summary())
                message = (
                    f"{failure}; {app.name} still runs v{before.version} "
                    f"({before.image_ref}), {smoke.summary()}"
                )
                return await finish(Failed(message=message), subject=f"{app.name}: deploy failed")
            # The failed deploy replaced some machines: back to what ran before.
            return await finish(
                await _roll_back(app.name, before, failure, requested_by, record),
                subject=f"{app.name}: deploy failed, rolled back",
            )
        record.add("deploy", "ok", f"v{release.version} {release.image_ref}")

        # 5. Verify deployment
        smoke = await smoke_test(
            app.name, artifact_key=f"smoke-{app.name}", image=release.image_ref
        )
        record.add("smoke test", "ok" if smoke.passed else "failed", smoke.summary())
        if smoke.passed:
            message = f"deployed {what} to {app.name} as v{release.version}; {smoke.summary()}"
            return await finish(Completed(message=message), subject=f"{app.name}: deployed")
        return await finish(
            await _roll_back(app.name, before, smoke.summary(), requested_by, record),
            subject=f"{app.name}: smoke test failed, rolled back",
        )


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

    asyncio.run(deploy_staging(requested_by=os.environ.get("USER", "cli"), image=sys.argv[1]))
