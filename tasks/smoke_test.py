"""The automated smoke test (runbook: `bash scripts/deploy/automated-smoke-test.sh staging`)."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from hotdash_ops.deploys.smoke import SmokeReport, smoke_targets
from hotdash_ops.errors import FlyError
from tasks import fly_access
from tasks.http_checks import probe_many
from tasks.reports import publish_table


async def _running_image(app: str) -> str | None:
    # Which image answered, for the report; a failed read leaves it unknown, it is not a check.
    try:
        async with fly_access.machines_client() as client:
            machines = await client.list_machines(app)
    except FlyError:
        return None
    images = [m.image for m in machines if m.image]
    return max(set(images), key=images.count) if images else None


@task(name="smoke-test", cache_policy=NO_CACHE)
async def smoke_test(
    app: str,
    *,
    artifact_key: str | None = None,
    image: str | None = None,
    timeout: float = 10.0,
) -> SmokeReport:
    """Runbook Verify deployment (`automated-smoke-test.sh`, i.e. `curl` per endpoint): check
    every endpoint of the app's inventory `smoke` list (status and latency budget),
    all of them even when one fails, and publish a table artifact of every result
    (key `smoke-<app>` unless given). Never retried: a flaky endpoint is a finding."""
    logger = get_run_logger()
    cfg = fly_access.settings()
    spec = fly_access.inventory(cfg).app(app)
    if not spec.smoke:
        raise ValueError(f"smoke: app {app!r} has no smoke endpoints in the inventory")
    base_url = cfg.app_url(app, "/").rstrip("/")
    results = await probe_many(smoke_targets(spec, base_url), timeout=timeout)
    report = SmokeReport(
        app=app,
        image=image or await _running_image(app),
        results=results,
        base_url=base_url,
    )
    for failure in report.failures():
        logger.warning("smoke %s: %s", app, failure.describe())
    logger.info("%s: %s", app, report.summary())
    await publish_table(
        artifact_key or f"smoke-{app}",
        report.table(),
        description=f"{app} ({report.image or 'image unknown'}): {report.summary()}",
    )
    return report
