"""Cost Management / Cost Monitoring: the Monthly Report (runbook), on the 1st at 9 AM.

The month's weekly cost snapshots as a trend per app, a chart of cost by app (a PNG under
`<state>/reports/`, linked from a link artifact and embedded in the markdown report, which
Prefect's UI shows as an image), and each recommendation of the month: taken (an audited
action followed it), resolved (no longer recommended, without an audited action) or left.
Then the billing pages to review by hand (runbook: Review Billing).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger
from prefect.states import Completed, State

from hotdash_ops.charts import png_data_uri
from hotdash_ops.cost import snapshots as cost_snapshots
from hotdash_ops.cost.report import money, render_monthly
from hotdash_ops.run_forms import optional
from hotdash_ops.validation import Month
from tasks import fly_access
from tasks.cost_records import draw_cost_chart, load_cost_snapshots, publish_link, read_audit_log
from tasks.reports import publish_markdown, publish_table

REPORT_KEY = "monthly-cost-report"
CHART_KEY = "monthly-cost-chart"
TREND_KEY = "monthly-cost-trend"


@flow(name="monthly-cost-report", log_prints=False)
async def monthly_cost_report(month: optional(Month) = "") -> State:
    """Monthly cost report from the weekly reviews' snapshots.

    Args:
        month: the month to report, YYYY-MM; empty: the month before today (in the
            inventory's time zone)
    """
    logger = get_run_logger()
    inventory = fly_access.inventory()
    tz = inventory.timezone
    now = cost_snapshots.utcnow()
    month = month or cost_snapshots.previous_month(now, tz)

    stored = await load_cost_snapshots()
    snapshots = [s for s in stored.snapshots if s.taken_at <= now]
    in_month = cost_snapshots.in_month(snapshots, month, tz)
    latest = snapshots[-1] if snapshots else None
    trend = cost_snapshots.month_trend(in_month, tz)
    outcomes = cost_snapshots.recommendation_outcomes(in_month, latest, await read_audit_log(), tz)
    currency = in_month[-1].estimate.currency if in_month else "USD"

    chart_path: str | None = None
    if not trend.empty:
        chart_path = await draw_cost_chart(
            trend, f"monthly-cost-{month}", f"Estimated monthly cost by app, {month}", currency
        )
        await publish_link(
            CHART_KEY,
            Path(chart_path).as_uri(),
            chart_path,
            description=f"cost by app, {month} (PNG on the worker)",
        )
        rows = [
            {"app": str(app)}
            | {str(d): None if pd.isna(v) else round(float(v), 2) for d, v in row.items()}
            for app, row in trend.iterrows()
        ]
        await publish_table(TREND_KEY, rows, description=f"monthly estimate per app, {month}")

    markdown = render_monthly(
        month,
        trend,
        outcomes,
        currency=currency,
        tz=tz,
        chart_uri=png_data_uri(Path(chart_path)) if chart_path else None,
        chart_path=chart_path,
        billing_links=inventory.billing_links,
    )
    taken = sum(o.outcome == "taken" for o in outcomes)
    left = [o for o in outcomes if o.outcome == "left"]
    if in_month:
        last = in_month[-1].estimate.total
        summary = (
            f"{month}: {len(in_month)} weekly review(s), latest estimate {money(last, currency)}"
            f"/month; {len(outcomes)} recommendation(s): {taken} taken, {len(left)} left "
            f"({money(sum(o.recommendation.saving for o in left), currency)}/month)"
        )
    else:
        summary = f"{month}: no weekly cost review ran, nothing to report"
    await publish_markdown(REPORT_KEY, markdown, description=summary)
    logger.info(summary)
    return Completed(message=summary)


if __name__ == "__main__":
    import asyncio

    asyncio.run(monthly_cost_report())
