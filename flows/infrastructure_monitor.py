"""Monitoring & Alerts (runbook): Automated Monitoring every 15 minutes, Alert Response, and the
Manual Health Checks (all apps or one app).

Every app in the inventory: machine states and checks, `/health` (status and latency), CPU %,
memory %, p95 latency and 5xx ratio over the last 15 minutes (range queries); every rule of the
app's role judged (hotdash_ops.monitor.alert_rules); alerts fire after consecutive failures,
resolve, remind, and wait while the app is being deployed (hotdash_ops.monitor.alert_state);
each message carries its runbook response steps. A metrics table artifact is written every run.

Three fleet-wide reads run at once (machines and /health sharded over small HTTP clients), and
a run makes five task runs plus one per message sent, whatever the fleet's size (the SQLite
server records ~35 task runs a second). The run ends Completed whenever it did its job,
however unhealthy the fleet: that completion is the heartbeat the "monitor is silent"
automation watches. It ends Failed when an alert could not be delivered.

`mode="health-check"` is the runbook's Manual Health Checks (all apps or one): the same checks
and table plus recent error log lines and the database dependency
(hotdash_ops.monitor.manual_check), no alert state and no notifications; it ends Failed when
anything fails or has no data.

Deployed with concurrency limit 1 / CANCEL_NEW (never overlaps itself) and a 10-minute run
timeout (a hung run cannot cancel the next ticks); a scheduled run starting more than
`stale_after_minutes` late is skipped as stale (no backlog catch-up).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote
from pydantic import Field

from hotdash_ops.monitor.alert_rules import evaluate_fleet, summarise, table_row
from hotdash_ops.monitor.manual_check import ManualCheck, render_details
from hotdash_ops.monitor.stale_runs import stale_reason
from hotdash_ops.validation import AppName
from tasks import fly_access
from tasks.alerting import update_alerts
from tasks.fleet_reads import read_error_logs, read_metrics
from tasks.http_checks import check_dependencies
from tasks.monitor_reads import check_fleet_health, read_fleet_machines
from tasks.reports import publish_markdown, publish_table

# With CANCEL_NEW a hung run would cancel every later tick: end it well before the next one.
RUN_TIMEOUT_SECONDS = 600
MONITOR_ARTIFACT = "infrastructure-monitor"
HEALTH_CHECK_ARTIFACT = "manual-health-check"


@flow(name="infrastructure-monitor", log_prints=False, timeout_seconds=RUN_TIMEOUT_SECONDS)
async def infrastructure_monitor(
    app: AppName | None = None,
    mode: Literal["monitor", "health-check"] = "monitor",
    window_minutes: Annotated[int, Field(ge=1, le=1440)] = 15,
    stale_after_minutes: Annotated[float, Field(ge=0, le=1440)] = 10,
) -> State:
    """Automated Monitoring (every 15 minutes) or a Manual Health Check, all apps or one.

    Args:
        app: check only this app (default: every app in the inventory)
        mode: "monitor" updates alerts and notifies; "health-check" (Manual Health Checks)
            only reports
        window_minutes: metrics window: CPU, memory, p95 and 5xx over the last N minutes
        stale_after_minutes: a monitor run starting more than this late is skipped (0: never)
    """
    logger = get_run_logger()
    if mode == "monitor":
        stale = stale_reason(flow_run.scheduled_start_time, datetime.now(UTC), stale_after_minutes)
        if stale:
            logger.warning(stale)
            return Completed(message=stale)

    inventory = fly_access.inventory()
    specs = [inventory.app(app)] if app else inventory.apps
    names = [s.name for s in specs]

    # fly-metrics-dashboard.sh / `fly status` / `curl /health`: three fleet reads at once.
    # (`quote`: Prefect need not walk hundreds of items looking for futures.)
    machines, metrics, health = await asyncio.gather(
        read_fleet_machines(quote(names)),
        read_metrics(quote(names), window_minutes),
        check_fleet_health(quote(specs)),
    )
    evaluations = evaluate_fleet(specs, machines=machines, health=health, metrics=metrics)
    summary = summarise(evaluations)
    logger.info(summary)

    if mode == "health-check":
        # Manual Health Checks: also `fly logs` (error lines) and the database dependency.
        deps = [d for d in inventory.dependencies if any(d.name in s.dependencies for s in specs)]
        error_logs, dependencies = await asyncio.gather(
            read_error_logs(quote(names)), check_dependencies(deps)
        )
        check = ManualCheck(
            evaluations=evaluations, dependencies=dependencies, error_logs=error_logs
        )
        rows = [{**table_row(e), "error logs": check.error_cell(e.app)} for e in evaluations]
        await publish_table(HEALTH_CHECK_ARTIFACT, quote(rows), description=check.summary())
        await publish_markdown(
            f"{HEALTH_CHECK_ARTIFACT}-details", render_details(check), description=check.summary()
        )
        return (
            Completed(message=check.summary()) if check.healthy else Failed(message=check.summary())
        )

    # Alert Response: alerts fire, remind, resolve; each message carries its response steps.
    alerts = await update_alerts(
        quote([v for e in evaluations for v in e.verdicts]),
        fleet=None if app else quote(names),
        timezone=inventory.timezone,
    )
    rows = [table_row(e, alerts=alerts.labels(e.app)) for e in evaluations]
    await publish_table(MONITOR_ARTIFACT, quote(rows), description=f"{summary}. {alerts.summary()}")
    message = f"{summary}. {alerts.summary()}"
    if alerts.undelivered:
        return Failed(message=message)
    return Completed(message=message)


if __name__ == "__main__":
    asyncio.run(infrastructure_monitor())
