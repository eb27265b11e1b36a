"""The automated smoke test (runbook: `bash scripts/deploy/automated-smoke-test.sh staging`),
after waiting for the app's machines to settle."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from hotdash_ops.deploys.config import parse_deploy_settings
from hotdash_ops.deploys.settle import Settling, settling
from hotdash_ops.deploys.smoke import SmokeReport, smoke_targets
from hotdash_ops.errors import FlyError
from tasks import fly_access
from tasks.checks import verdict
from tasks.http_checks import probe_many
from tasks.reports import publish_table

FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 2.0


async def _running_image(app: str) -> str | None:
    # Which image answered, for the report; a failed read leaves it unknown, it is not a check.
    try:
        async with fly_access.machines_client() as client:
            machines = await client.list_machines(app)
    except FlyError:
        return None
    images = [m.image for m in machines if m.image]
    return max(set(images), key=images.count) if images else None


@task(name="wait-for-machines", cache_policy=NO_CACHE)
async def wait_for_machines(app: str, timeout_seconds: float) -> Settling:
    """Runbook Verify deployment, first: `fly status` until every machine is started with its
    checks passing (or failing after their grace period), at most `timeout_seconds`. After
    `fly deploy --strategy immediate` (rollbacks) the machines are still booting when flyctl
    exits (hotdash_ops.deploys.settle). Polls quickly at first, then every 2 s."""
    started = time.monotonic()
    delay = FIRST_POLL_SECONDS
    async with fly_access.machines_client() as client:
        while True:
            try:
                state = settling(await client.list_machines(app), datetime.now(UTC))
            except FlyError as exc:
                state = Settling(settled=False, waiting=[f"machines unreadable ({exc})"])
            state.seconds = time.monotonic() - started
            left = timeout_seconds - state.seconds
            if state.settled or left <= 0:
                return state
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, MAX_POLL_SECONDS)


@task(name="smoke-test", cache_policy=NO_CACHE)
async def smoke_test(
    app: str,
    *,
    artifact_key: str | None = None,
    image: str | None = None,
    timeout: float = 10.0,
) -> SmokeReport | State:
    """Runbook Verify deployment (`automated-smoke-test.sh`, i.e. `curl` per endpoint): wait,
    bounded (inventory `deploy.settle_timeout_seconds`), until the app's machines are started
    and passing their checks, then check every endpoint of the app's inventory `smoke` list
    (status and latency budget), all of them even when one fails, and publish a table artifact
    of every result (key `smoke-<app>` unless given). Never retried: a flaky endpoint is a
    finding. A failed smoke test ends the task run Failed with its report (tasks.checks:
    callers read it with `checked`)."""
    logger = get_run_logger()
    cfg = fly_access.settings()
    inventory = fly_access.inventory(cfg)
    spec = inventory.app(app)
    if not spec.smoke:
        raise ValueError(f"smoke: app {app!r} has no smoke endpoints in the inventory")
    limit = parse_deploy_settings(inventory.deploy).settle_timeout_seconds
    settled = await wait_for_machines(app, limit)
    (logger.info if settled.settled else logger.warning)("%s: %s", app, settled.describe())
    base_url = cfg.app_url(app, "/").rstrip("/")
    results = await probe_many(smoke_targets(spec, base_url), timeout=timeout)
    report = SmokeReport(
        app=app,
        image=image or await _running_image(app),
        results=results,
        base_url=base_url,
        settled=settled,
    )
    for failure in report.failures():
        logger.warning("smoke %s: %s", app, failure.describe())
    logger.info("%s: %s", app, report.summary())
    await publish_table(
        artifact_key or f"smoke-{app}",
        report.table(),
        description=f"{app} ({report.image or 'image unknown'}): {report.summary()} "
        f"({settled.describe()})",
    )
    return verdict(report, None if report.passed else report.summary())
