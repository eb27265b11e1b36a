"""The post-deploy watch's reads and its progress artifact (runbook, Production Deployment,
Post-Deployment: "Monitor for 15 minutes, check error rates").

One sample = the 5xx ratio and p95 from Fly's Prometheus plus one `curl /health`, in one
task. The judging is `hotdash_ops.deploys.regression`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

from prefect import task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE

from hotdash_ops.deploys.regression import Figures
from hotdash_ops.inventory import AppSpec
from hotdash_ops.monitor.metrics import fetch_fleet_metrics
from tasks import fly_access
from tasks.http_checks import probe_many


@task(name="read-production-figures", cache_policy=NO_CACHE)
async def read_figures(spec: AppSpec, *, window_minutes: int) -> Figures:
    """5xx ratio and p95 over the last `window_minutes` (the metrics dashboard's queries) and
    `curl https://<app>.fly.dev/health`, read at the same time. No data stays None."""
    cfg = fly_access.settings()

    async def metrics() -> tuple[float | None, float | None]:
        async with fly_access.prometheus_client(cfg) as prom:
            fleet = await fetch_fleet_metrics(prom, [spec.name], window_minutes=window_minutes)
        app = fleet.by_app[spec.name]
        return app.error_rate, app.p95_ms

    (error_rate, p95_ms), [health] = await asyncio.gather(
        metrics(),
        probe_many([(cfg.app_url(spec.name, spec.health_path), 200, None)]),
    )
    return Figures(
        at=datetime.now(UTC),
        error_rate=error_rate,
        p95_ms=p95_ms,
        health_status=health.status,
        health_error=health.error,
    )


class Progress:
    """A progress artifact (0-100 %) updated in place during the deploy and the watch."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.artifact_id: UUID | None = None

    async def update(self, percent: float, description: str) -> None:
        """Create the artifact on first use, then move it."""
        percent = max(0.0, min(100.0, percent))
        if self.artifact_id is None:
            self.artifact_id = await acreate_progress_artifact(
                progress=percent, key=self.key, description=description
            )
        else:
            await aupdate_progress_artifact(
                self.artifact_id, progress=percent, description=description
            )
