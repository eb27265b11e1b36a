"""Daily Operations / Morning Health Check (runbook), every day at 9 AM.

Metrics dashboard, overnight errors, `/health` of every service and the database
dependency, then one report. The run ends Failed, naming each unhealthy thing, when
anything is failing or could not be checked; a check that could not be made is "unknown",
never healthy.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

from hotdash_ops.monitor.health import Verdict, assess_app
from hotdash_ops.monitor.health_report import HealthReport, render_markdown
from hotdash_ops.validation import AppName
from tasks import fly_access
from tasks.fleet_reads import read_error_logs, read_machines, read_metrics
from tasks.http_checks import check_dependencies, check_health_endpoints
from tasks.reports import publish_markdown


@flow(name="daily-health-check", log_prints=False)
async def daily_health_check(app: AppName | None = None) -> State:
    """Morning Health Check of every app in the inventory, or of one app.

    Args:
        app: check only this app (default: every app in the inventory)
    """
    logger = get_run_logger()
    inventory = fly_access.inventory()
    specs = [inventory.app(app)] if app else inventory.apps
    names = [s.name for s in specs]
    deps = [d for d in inventory.dependencies if app is None or d.name in specs[0].dependencies]

    # 1. Metrics dashboard (fly-metrics-dashboard.sh)
    machines = await read_machines(names)
    fleet_metrics = await read_metrics(names)
    # 2. Review overnight alerts (fly logs | grep -i error | tail -50)
    error_logs = await read_error_logs(names)
    # 3. Verify all services healthy (curl /health), and the database
    health = await check_health_endpoints(specs, machines)
    dependencies = await check_dependencies(deps)

    report = HealthReport(
        apps=[
            assess_app(
                spec,
                machines=m if isinstance(m := machines[spec.name], list) else None,
                machines_error=m if isinstance(m, str) else None,
                health=health[spec.name],
                metrics=fleet_metrics.by_app.get(spec.name),
                metrics_error="; ".join(f"{k}: {v}" for k, v in fleet_metrics.errors.items())
                or None,
            )
            for spec in specs
        ],
        dependencies=dependencies,
        error_logs=error_logs,
    )
    await publish_markdown(
        "daily-health-check", render_markdown(report), description=report.summary()
    )
    logger.info("health check: %s", report.summary())
    if report.verdict in (Verdict.FAIL, Verdict.UNKNOWN):
        return Failed(message=report.summary())
    return Completed(message=report.summary())


if __name__ == "__main__":
    import asyncio

    asyncio.run(daily_health_check())
