"""Monitoring & Alerts (runbook): Automated Monitoring every 15 minutes and Alert Response.

Every app in the inventory: machine states and checks, `/health` (status and latency), CPU %,
memory %, p95 latency and 5xx ratio over the last 15 minutes (range queries); every rule of the
app's role judged (hotdash_ops.monitor.alert_rules); and every dependency (Supabase, Shopify:
"Verify dependencies") with its key. Alerts fire after consecutive failures, resolve, remind,
and wait while the app is being deployed or under a silence (hotdash_ops.monitor.alert_state,
`silence-alerts`); each message carries its runbook response steps. Every run writes its
verdict and a short table of what is wrong (`infrastructure-monitor-summary`), then the
metrics table of every figure (`infrastructure-monitor`: apps, then dependencies; the verdict
and alerts first).
Apps with SLOs in the inventory are also judged by their error budgets' burn rates (the SRE
workbook's multiwindow rules, hotdash_ops.monitor.slo), and an `error-budgets` table shows
each one's budget left.

Three fleet-wide reads run at once (machines and /health sharded over small HTTP clients), and
a run makes eight task runs (eleven when apps have SLOs) plus one per message sent, whatever
the fleet's size (the SQLite server records ~35 task runs a second). The run ends Completed
whenever it did its job, however unhealthy the fleet: that completion is the heartbeat the
"monitor is silent" automation watches. It ends Failed when an alert could not be delivered.

The runbook's Manual Health Checks are their own flow, `manual-health-check`
(flows/manual_health_check.py): the same checks as a report, never an alert.

Deployed with concurrency limit 1 / CANCEL_NEW (never overlaps itself) and a 10-minute run
timeout (a hung run cannot cancel the next ticks); a scheduled run starting more than
`stale_after_minutes` late is skipped as stale (no backlog catch-up): it ends in a Completed
state named `Skipped`, which the "monitor is silent" automation does not count as a heartbeat
(deployments/automations.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote
from pydantic import Field

from hotdash_ops.monitor.alert_rules import summarise
from hotdash_ops.monitor.health import (
    dependency_row,
    table_row,
    verdict_lines,
)
from hotdash_ops.monitor.stale_runs import stale_reason
from hotdash_ops.run_forms import ALL_APPS, AllOrInventoryApp
from tasks import fly_access
from tasks.alerting import update_alerts
from tasks.checks import checked
from tasks.error_budgets import error_budget_verdicts
from tasks.http_checks import check_dependencies
from tasks.monitor_reads import evaluate_apps
from tasks.reports import publish_markdown, publish_table

# With CANCEL_NEW a hung run would cancel every later tick: end it well before the next one.
RUN_TIMEOUT_SECONDS = 600
MONITOR_ARTIFACT = "infrastructure-monitor"  # every figure of every app (a table)
SUMMARY_ARTIFACT = "infrastructure-monitor-summary"  # the verdict and what is wrong
SKIPPED = "Skipped"  # the state name of a stale run: not a heartbeat


@flow(name="infrastructure-monitor", log_prints=False, timeout_seconds=RUN_TIMEOUT_SECONDS)
async def infrastructure_monitor(
    app: AllOrInventoryApp = ALL_APPS,
    window_minutes: Annotated[int, Field(ge=1, le=1440)] = 15,
    stale_after_minutes: Annotated[float, Field(ge=0, le=1440)] = 10,
) -> State:
    """Automated Monitoring (every 15 minutes) and Alert Response, all apps or one.

    Args:
        app: all apps of the inventory, or only this one
        window_minutes: metrics window: CPU, memory, p95 and 5xx over the last N minutes
        stale_after_minutes: a monitor run starting more than this late is skipped (0: never)
    """
    logger = get_run_logger()
    inventory = fly_access.inventory()
    stale = stale_reason(
        flow_run.scheduled_start_time, datetime.now(UTC), stale_after_minutes, inventory.timezone
    )
    if stale:
        logger.warning(stale)
        return Completed(message=stale, name=SKIPPED)

    specs = [inventory.app(app)] if app else inventory.apps
    names = [s.name for s in specs]
    wanted = {d for s in specs for d in s.dependencies}
    deps = [d for d in inventory.dependencies if app is None or d.name in wanted]
    tz = ZoneInfo(inventory.timezone)

    # fly-metrics-dashboard.sh / `fly status` / `curl /health`, judged by each app's rules,
    # and "Verify dependencies (Supabase, Shopify)".
    evaluations = await evaluate_apps(specs, window_minutes)
    dependencies = await checked(check_dependencies, deps)
    # Apps with SLOs: their error budgets, judged by the SRE workbook's burn-rate rules.
    budgets = {v.app: v for v in await error_budget_verdicts(specs, evaluations)}
    for e in evaluations:
        if e.app in budgets:
            e.verdicts.append(budgets[e.app])
    summary = summarise(evaluations, dependencies)
    logger.info(summary)

    # Alert Response: alerts fire, remind, resolve; each message carries its response steps.
    alerts = await update_alerts(
        quote([v for e in evaluations for v in e.verdicts] + dependencies),
        fleet=None if app else quote(names + [d.name for d in deps]),
        timezone=inventory.timezone,
    )
    message = f"{summary}. {alerts.summary()}"
    # What a person reads first: the verdict and what is wrong; then every figure.
    page = verdict_lines(
        "Infrastructure monitor",
        message,
        evaluations,
        dependencies,
        at=datetime.now(UTC),
        tz=tz,
        alerts=lambda app: alerts.labels(app, tz),
    )
    page += ["", f"Every figure of every app: the `{MONITOR_ARTIFACT}` table artifact of this run."]
    await publish_markdown(SUMMARY_ARTIFACT, "\n".join(page), description=message)
    rows = [table_row(e, alerts=alerts.labels(e.app, tz)) for e in evaluations]
    rows += [dependency_row(d, alerts=alerts.labels(d.app, tz)) for d in dependencies]
    await publish_table(MONITOR_ARTIFACT, quote(rows), description=message)
    if alerts.undelivered:
        return Failed(message=message)
    return Completed(message=message)


if __name__ == "__main__":
    asyncio.run(infrastructure_monitor())
