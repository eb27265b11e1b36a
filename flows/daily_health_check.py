"""Daily Operations / Morning Health Check (runbook), every day at 9 AM.

1. Metrics dashboard: every app judged now by the monitor's rules (machines, `/health`, CPU,
   memory, p95, 5xx over the last 15 minutes), and each figure's peak over the night;
2. Review overnight alerts: every alert that fired or resolved over the night and those still
   firing, and the night's error lines (`fly logs | grep -i error`), paged through the logs API;
3. Verify all services healthy (`curl /health`, judged in 1) and the dependencies (Supabase,
   Shopify).

The night runs from `night_starts` (18:00) yesterday, in the inventory's timezone, to now
(hotdash_ops.monitor.overnight). One markdown report, `daily-health-check`. The run ends Failed,
naming each failing or unknown thing, and tells people once (with the run's link); a check
that could not be made is "unknown", never healthy.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote
from pydantic import Field

from hotdash_ops.monitor.health import Verdict
from hotdash_ops.monitor.health_report import HealthReport, render_markdown
from hotdash_ops.monitor.overnight import NightReview, night_window
from hotdash_ops.run_forms import ALL_APPS, AllOrInventoryApp, optional
from tasks import fly_access
from tasks.alerting import read_alert_changes
from tasks.announce import run_url, tell
from tasks.checks import checked
from tasks.fleet_reads import read_error_lines_between, read_metric_peaks
from tasks.http_checks import check_dependencies
from tasks.monitor_reads import evaluate_apps
from tasks.reports import publish_markdown

NOW_WINDOW_MINUTES = 15  # "now": the monitor's window
ARTIFACT_KEY = "daily-health-check"

ClockTime = Annotated[
    str,
    Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, local time"),
]


@flow(name="daily-health-check", log_prints=False)
async def daily_health_check(
    app: AllOrInventoryApp = ALL_APPS,
    night_starts: ClockTime = "18:00",
    since: optional(datetime) = "",
    max_log_pages: Annotated[int, Field(ge=1, le=500)] = 50,
    error_lines: Annotated[int, Field(ge=0, le=1000)] = 50,
) -> State:
    """Morning Health Check of every app in the inventory, or of one app, over the night.

    Args:
        app: all apps of the inventory, or only this one
        night_starts: the night began at this time yesterday (HH:MM, inventory timezone)
        since: empty; or from this moment instead (YYYY-MM-DD HH:MM, inventory timezone;
            overrides night_starts)
        max_log_pages: (expert) log pages (100 lines each) read per app over the night
        error_lines: (expert) the last N error lines shown per app
    """
    logger = get_run_logger()
    inventory = fly_access.inventory()
    specs = [inventory.app(app)] if app else inventory.apps
    names = [s.name for s in specs]
    wanted = {d for s in specs for d in s.dependencies}
    deps = [d for d in inventory.dependencies if app is None or d.name in wanted]
    tz = ZoneInfo(inventory.timezone)
    now = datetime.now(UTC)
    if since is not None:
        if since.tzinfo is None:
            since = since.replace(tzinfo=tz)
        if since >= now:
            raise ValueError(f"since: {since.isoformat()} is not in the past")
        start, end = since.astimezone(UTC), now
    else:
        start, end = night_window(now, tz, time.fromisoformat(night_starts))

    # 1. Metrics dashboard (fly-metrics-dashboard.sh): now, and the night's peaks.
    evaluations = await evaluate_apps(specs, NOW_WINDOW_MINUTES)
    peaks = await read_metric_peaks(quote(names), start, end)
    # 2. Review overnight alerts, and the night's errors (fly logs | grep -i error).
    alerts = await read_alert_changes(start, end, [*names, *(d.name for d in deps)])
    errors = await read_error_lines_between(
        quote(names), start, end, max_pages=max_log_pages, shown=error_lines
    )
    # 3. Verify all services healthy (curl /health, judged in 1), and the dependencies.
    dependencies = await checked(check_dependencies, deps)

    report = HealthReport(
        checked_at=now,
        specs=specs,
        evaluations=evaluations,
        dependencies=dependencies,
        night=NightReview(
            start=start,
            end=end,
            peaks=peaks.by_app,
            peaks_errors=peaks.errors,
            alerts=alerts.changes,
            still_firing=alerts.still_firing,
            history_unreadable=alerts.unreadable,
            errors=errors,
            max_pages=max_log_pages,
        ),
        tz=tz,
    )
    summary = report.summary()
    await publish_markdown(ARTIFACT_KEY, render_markdown(report), description=summary)
    logger.info("health check: %s", summary)
    if report.verdict in (Verdict.FAIL, Verdict.UNKNOWN):
        await tell(
            f"Morning health check: {report.verdict.value.upper()}",
            f"{summary}\n\nReport: artifact '{ARTIFACT_KEY}' of the run {run_url()}",
        )
        return Failed(message=summary)
    return Completed(message=summary)


if __name__ == "__main__":
    import asyncio

    asyncio.run(daily_health_check())
