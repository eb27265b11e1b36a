"""Monitoring & Alerts / Manual Health Checks (runbook), on demand: all apps or one.

* All apps (`fly-metrics-dashboard.sh`): the infrastructure monitor's checks and rules on every
  app in the inventory: machines and their checks, `/health` (status and latency), CPU %,
  memory %, p95 latency and 5xx ratio over the last `window_minutes`;
* Single app (`fly status`, `fly logs`): the same for one app, plus its recent error lines;
* Database (`curl https://<project>.supabase.co/rest/v1/`): the dependencies the checked apps use.

A report only: no alert state, no notifications (hotdash_ops.monitor.manual_check). The
`manual-health-check` table artifact has a row per app, `manual-health-check-details` the
dependencies and the error lines. The run ends Failed when anything fails or has no data.

A flow of its own, not a mode of the monitor: the 15-minute monitor cannot be switched to a
report that sends no alerts from its form, and a manual check never counts as the monitor's
heartbeat (the "monitor is silent" automation watches `infrastructure-monitor` runs only).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote
from pydantic import Field

from hotdash_ops.monitor.health import table_row
from hotdash_ops.monitor.manual_check import ManualCheck, render_details
from hotdash_ops.run_forms import ALL_APPS, AllOrInventoryApp
from tasks import fly_access
from tasks.checks import checked
from tasks.fleet_reads import read_error_logs
from tasks.http_checks import check_dependencies
from tasks.monitor_reads import evaluate_apps
from tasks.reports import publish_markdown, publish_table

ARTIFACT_KEY = "manual-health-check"
RUN_TIMEOUT_SECONDS = 600  # a check that hangs ends; the monitor's limit


@flow(name="manual-health-check", log_prints=False, timeout_seconds=RUN_TIMEOUT_SECONDS)
async def manual_health_check(
    app: AllOrInventoryApp = ALL_APPS,
    window_minutes: Annotated[int, Field(ge=1, le=1440)] = 15,
) -> State:
    """Manual Health Checks: the monitor's checks, recent error lines and the database, all
    apps or one; a report, never an alert.

    Args:
        app: all apps of the inventory, or only this one
        window_minutes: metrics window: CPU, memory, p95 and 5xx over the last N minutes
    """
    logger = get_run_logger()
    inventory = fly_access.inventory()
    specs = [inventory.app(app)] if app else inventory.apps
    names = [s.name for s in specs]
    deps = [d for d in inventory.dependencies if any(d.name in s.dependencies for s in specs)]

    # All apps (the metrics dashboard): the monitor's reads and rules.
    evaluations = await evaluate_apps(specs, window_minutes)
    # Single app (`fly logs`, error lines) and Database (the dependencies), at once.
    error_logs, dependencies = await asyncio.gather(
        read_error_logs(quote(names)), checked(check_dependencies, deps)
    )

    check = ManualCheck(
        evaluations=evaluations,
        dependencies=dependencies,
        error_logs=error_logs,
        tz=inventory.timezone,
    )
    logger.info(check.summary())
    rows = [{**table_row(e), "error logs": check.error_cell(e.app)} for e in evaluations]
    await publish_table(ARTIFACT_KEY, quote(rows), description=check.summary())
    await publish_markdown(
        f"{ARTIFACT_KEY}-details", render_details(check), description=check.summary()
    )
    if check.healthy:
        return Completed(message=check.summary())
    return Failed(message=check.summary())


if __name__ == "__main__":
    import sys

    asyncio.run(manual_health_check(app=sys.argv[1] if len(sys.argv) > 1 else None))
