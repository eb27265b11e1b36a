"""Daily Operations / Weekly Cost Review (runbook), Fridays at 9 AM.

The runbook's cost-optimization report, `fly volumes list` and `fly machines list`, for every
app of the org (and every app of the inventory): each machine and volume priced with the
inventory's price table, a monthly estimate per app and in total, the change against last
week's snapshot, unused resources, and recommendations with their saving and the flow that
applies them. Then a table and a markdown report with the billing pages to review, and the
error budget left of each app with SLOs.

The run ends Failed when an app could not be read (its cost is unknown, so the total is
incomplete); the snapshot is still kept, marked incomplete, and never used as a baseline.
A week-over-week rise above `spike_pct` is sent as a notification (the runbook's P2 "cost
spike").
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State
from pydantic import Field

from hotdash_ops.cost import estimate as cost_estimate
from hotdash_ops.cost import findings as cost_findings
from hotdash_ops.cost import snapshots as cost_snapshots
from hotdash_ops.cost.pricing import load_prices
from hotdash_ops.cost.report import CostReview, money, percent, render_weekly, review_rows
from hotdash_ops.incidents.response import incident_policy
from hotdash_ops.incidents.severity import RESPONSE_TEXT
from hotdash_ops.monitor.slo import budgets_markdown
from tasks import fly_access
from tasks.announce import tell
from tasks.cost_pulls import read_org_apps, read_resources, read_week_usage
from tasks.cost_records import load_cost_snapshots, save_cost_snapshot
from tasks.error_budgets import read_error_budgets, with_slos
from tasks.reports import publish_markdown, publish_table

REPORT_KEY = "weekly-cost-review"
TABLE_KEY = "weekly-cost-review-apps"


@flow(name="weekly-cost-review", log_prints=False)
async def weekly_cost_review(
    stopped_days: Annotated[int, Field(ge=0, le=365)] = 7,
    cpu_low_pct: Annotated[float, Field(gt=0, le=100)] = 20.0,
    mem_low_pct: Annotated[float, Field(gt=0, le=100)] = 40.0,
    idle_share_pct: Annotated[float, Field(ge=0, le=100)] = 50.0,
    spike_pct: Annotated[float, Field(gt=0, le=1000)] = 20.0,
) -> State:
    """Weekly Cost Review of every app: monthly estimate, change, unused resources, savings.

    Args:
        stopped_days: flag machines stopped for more than this many days
        cpu_low_pct: recommend a smaller size when the week's CPU peak stayed under this
        mem_low_pct: ... and the week's memory peak stayed under this
        idle_share_pct: share of time a background service is expected to be idle (the
            auto-stop saving estimate)
        spike_pct: notify when the total rose by more than this percentage since last week
    """
    logger = get_run_logger()
    now = cost_snapshots.utcnow()
    cfg = fly_access.settings()
    inventory = fly_access.inventory()
    prices = load_prices(inventory.prices)  # a bad price table fails before any read
    rules = cost_findings.ReviewRules(
        stopped_days=stopped_days,
        cpu_low_pct=cpu_low_pct,
        mem_low_pct=mem_low_pct,
        idle_share=idle_share_pct / 100,
    )
    notes: list[str] = []

    # 1. Check for unused resources: fly machines list, fly volumes list (every app)
    apps, listing_problem = await read_org_apps(cfg.fly_org, [a.name for a in inventory.apps])
    notes += [listing_problem] if listing_problem else []
    resources = await read_resources(apps)
    readable = [a for a in apps if a in resources.machines]
    usage, usage_problems = await read_week_usage(readable, now)
    notes += [f"week usage unknown for {p}" for p in usage_problems]

    # 2. Generate the cost report: price everything, compare with last week
    estimate = cost_estimate.estimate(
        resources.machines, resources.volumes, apps, prices, resources.errors
    )
    findings, recommendations = cost_findings.assess(
        resources.machines,
        resources.volumes,
        apps,
        [a.name for a in inventory.background_apps],
        prices,
        now=now,
        rules=rules,
        usage=usage,
    )
    stored = await load_cost_snapshots()
    notes += [f"unreadable snapshot {u}" for u in stored.unreadable]
    change = cost_snapshots.week_over_week(estimate, cost_snapshots.baseline(stored.snapshots, now))
    review = CostReview(
        taken_at=now,
        org=cfg.fly_org,
        estimate=estimate,
        change=change,
        findings=findings,
        recommendations=recommendations,
        usage=usage,
        billing_links=inventory.billing_links,
        notes=notes,
        tz=inventory.timezone,
    )
    await save_cost_snapshot(
        cost_snapshots.CostSnapshot(
            taken_at=now,
            org=cfg.fly_org,
            estimate=estimate,
            findings=findings,
            recommendations=recommendations,
        )
    )

    # 3. The report, and the billing pages to review by hand; the error budgets left of the
    # apps with SLOs (what reliability the next changes may still spend).
    budgets = await read_error_budgets(with_slos(inventory.apps))
    await publish_table(TABLE_KEY, review_rows(review), description="monthly estimate per app")
    await publish_markdown(
        REPORT_KEY, render_weekly(review) + budgets_markdown(budgets), description=review.summary()
    )
    logger.info("weekly cost review: %s", review.summary())

    pct = change.total_change_pct
    if pct is not None and pct > spike_pct:
        cur = estimate.currency
        # Runbook Severity Levels: a cost spike is P2 (respond within 2 hours; the inventory's
        # incident.severity.cost_spike).
        severity = incident_policy(inventory.incident).severity.cost_spike
        await tell(
            f"[{severity}] Cost spike: fleet estimate up {percent(pct)} this week",
            f"Estimated {money(estimate.total, cur)}/month, up {money(change.total_change, cur)} "
            f"({percent(pct)}) since {change.baseline_at:%Y-%m-%d}. See the "
            f"'{REPORT_KEY}' artifact. {severity}: respond {RESPONSE_TEXT[severity]}.",
        )
    if not estimate.complete:
        return Failed(message=review.summary())
    return Completed(message=review.summary())


if __name__ == "__main__":
    import asyncio

    asyncio.run(weekly_cost_review())
