"""What a person reads after a cost flow: the weekly review and the monthly report (markdown
and table rows). Amounts are rounded to cents here, and only here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from pydantic import BaseModel, Field

from hotdash_ops.cost.estimate import CostEstimate
from hotdash_ops.cost.findings import Finding, Recommendation, WeekUsage
from hotdash_ops.cost.snapshots import CostChange, RecommendationOutcome
from hotdash_ops.local_time import shown, zone, zone_name


def money(value: float | None, currency: str = "USD") -> str:
    """`$1,234.56`, `-$3.20`; unknown as `?`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    sign = "-" if round(value, 2) < 0 else ""
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{sign}{symbol}{abs(value):,.2f}"


def signed_money(value: float | None, currency: str = "USD") -> str:
    """A change: `+$1.00`, `-$1.00`, `$0.00`."""
    if value is None:
        return "?"
    text = money(value, currency)
    return "+" + text if round(value, 2) > 0 else text


def percent(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.1f} %"


class CostReview(BaseModel):
    """Everything one weekly review found."""

    taken_at: datetime
    org: str
    estimate: CostEstimate
    change: CostChange
    findings: list[Finding] = Field(default_factory=list)
    recommendations: list[Recommendation] = Field(default_factory=list)
    usage: dict[str, WeekUsage] = Field(default_factory=dict)
    billing_links: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    tz: str = "UTC"  # the inventory's timezone: the report's times are in it

    @property
    def saving(self) -> float:
        return sum(max(0.0, r.saving) for r in self.recommendations)

    def summary(self) -> str:
        """The run's final message."""
        cur = self.estimate.currency
        parts = [
            f"estimated {money(self.estimate.total, cur)}/month for {len(self.estimate.apps)} apps"
        ]
        if self.change.total_change is not None:
            parts.append(
                f"{signed_money(self.change.total_change, cur)} "
                f"({percent(self.change.total_change_pct)}) vs last week"
            )
        parts.append(
            f"{len(self.findings)} unused resource(s), {len(self.recommendations)} "
            f"recommendation(s) saving up to {money(self.saving, cur)}/month"
        )
        bad = [a.app for a in self.estimate.apps if a.error]
        if bad:
            parts.append(f"could not read {', '.join(bad)}: the total is incomplete")
        return "; ".join(parts)


def review_rows(review: CostReview) -> list[dict[str, object]]:
    """One table row per app (the table artifact)."""
    changes = {c.app: c for c in review.change.apps}
    rows: list[dict[str, object]] = []
    for a in review.estimate.apps:
        c = changes.get(a.app)
        u = review.usage.get(a.app)
        rows.append(
            {
                "app": a.app,
                "monthly": None if a.error else round(a.total, 2),
                "compute": None if a.error else round(a.compute, 2),
                "stopped_rootfs": None if a.error else round(a.rootfs, 2),
                "volumes": None if a.error else round(a.volume_cost, 2),
                "machines_started": a.started,
                "machines_stopped": a.stopped,
                "volume_gb": a.volume_gb,
                "change": None if c is None or c.change is None else round(c.change, 2),
                "change_pct": (
                    None if c is None or c.change_pct is None else round(c.change_pct, 1)
                ),
                "cpu_peak_pct": None if u is None or u.cpu_peak is None else round(u.cpu_peak, 1),
                "mem_peak_pct": None if u is None or u.mem_peak is None else round(u.mem_peak, 1),
                "note": a.error or "",
            }
        )
    return rows


def render_weekly(review: CostReview) -> str:
    """The weekly review as markdown."""
    cur = review.estimate.currency
    est, chg = review.estimate, review.change
    lines = [
        f"# Weekly cost review: {money(est.total, cur)} per {est.days_per_month} days",
        "",
        f"Org `{review.org}`, {shown(review.taken_at, review.tz)} (times in "
        f"{zone_name(review.tz)}). Run-rate estimate: "
        "started machines as if started all month, stopped ones their root filesystem, "
        f"volumes their size. Prices: {est.prices}.",
        "",
    ]
    if chg.baseline_at is None:
        lines += ["No earlier snapshot: the change will show from next week.", ""]
    else:
        lines += [
            f"**Change vs the snapshot of {shown(chg.baseline_at, review.tz)}:** "
            f"{signed_money(chg.total_change, cur)} ({percent(chg.total_change_pct)}), "
            f"from {money(chg.previous_total, cur)}.",
            "",
        ]
    lines += [
        "| app | monthly | compute | stopped rootfs | volumes | started | stopped | change | % |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    changes = {c.app: c for c in chg.apps}
    for a in est.apps:
        c = changes.get(a.app)
        change = (
            ""
            if c is None
            else signed_money(c.change, cur) + (f" ({c.status})" if c.status else "")
        )
        pct = "" if c is None else percent(c.change_pct)
        if a.error:
            lines.append(f"| {a.app} | ? | | | | | | {change} | {pct} |")
            continue
        lines.append(
            f"| {a.app} | {money(a.total, cur)} | {money(a.compute, cur)} | "
            f"{money(a.rootfs, cur)} | {money(a.volume_cost, cur)} | {a.started} | {a.stopped} "
            f"| {change} | {pct} |"
        )
    for c in chg.apps:
        if c.status == "gone":
            lines.append(
                f"| {c.app} (gone) | {money(0.0, cur)} | | | | | | {signed_money(c.change, cur)} "
                f"| {percent(c.change_pct)} |"
            )
    total_change = f"{signed_money(chg.total_change, cur)} | {percent(chg.total_change_pct)}"
    lines += [f"| **total** | **{money(est.total, cur)}** | | | | | | {total_change} |", ""]
    unread = [a for a in est.apps if a.error]
    if unread:
        lines += ["**Could not be read (not in the total):**", ""]
        lines += [f"- {a.app}: {a.error}" for a in unread] + [""]

    lines += ["## Unused resources", ""]
    if review.findings:
        lines += [
            "| kind | app | resource | what | monthly cost |",
            "| --- | --- | --- | --- | ---: |",
        ]
        lines += [
            f"| {f.kind} | {f.app} | `{f.target}` | {f.detail} | {money(f.monthly_cost, cur)} |"
            for f in review.findings
        ]
    else:
        lines.append("None found.")
    lines += ["", "## Recommendations", ""]
    if review.recommendations:
        lines += [
            "| saving / month | app | action | flow | parameters |",
            "| ---: | --- | --- | --- | --- |",
        ]
        for r in sorted(review.recommendations, key=lambda r: -r.saving):
            params = ", ".join(f"{k}={v}" for k, v in r.parameters.items())
            lines.append(
                f"| {money(r.saving, cur)} | {r.app} | {r.action} | "
                f"{'`' + r.flow + '`' if r.flow else 'by hand'} | {params} |"
            )
        lines += ["", f"Up to {money(review.saving, cur)} per month (savings may overlap)."]
    else:
        lines.append("Nothing to recommend this week.")
    if review.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in review.notes]
    if review.billing_links:
        lines += ["", "## Billing", ""] + [f"- <{link}>" for link in review.billing_links]
    return "\n".join(lines) + "\n"


def render_monthly(
    month: str,
    trend: pd.DataFrame,
    outcomes: Sequence[RecommendationOutcome],
    *,
    currency: str,
    tz: str = "UTC",
    chart_uri: str | None,
    chart_path: str | None,
    billing_links: Sequence[str] = (),
) -> str:
    """The monthly report: trend per app, the chart, recommendations taken or left."""
    lines = [f"# Monthly cost report: {month}", ""]
    if trend.empty:
        lines += [f"No weekly cost review ran in {month}: nothing to report.", ""]
    else:
        dates = [str(c) for c in trend.columns]
        lines += [
            f"Estimated monthly cost per app at each weekly review ({len(dates)} review(s)).",
            "",
            "| app | " + " | ".join(dates) + " | change |",
            "| --- | " + " | ".join("---:" for _ in dates) + " | ---: |",
        ]
        for app, row in trend.iterrows():
            values = [None if pd.isna(v) else float(v) for v in row.to_numpy()]
            known = [v for v in values if v is not None]
            delta = known[-1] - known[0] if len(known) >= 2 else None
            name = f"**{app}**" if app == "TOTAL" else str(app)
            cells = " | ".join(money(v, currency) for v in values)
            lines.append(f"| {name} | {cells} | {signed_money(delta, currency)} |")
        lines.append("")
    if chart_uri:
        lines += [f"![Estimated monthly cost by app, {month}]({chart_uri})", ""]
    if chart_path:
        lines += [f"Chart file: `{chart_path}`", ""]
    lines += ["## Recommendations of the month", ""]
    if outcomes:
        lines += [
            "| outcome | saving / month | app | action | first made | evidence |",
            "| --- | ---: | --- | --- | --- | --- |",
        ]
        order = {"left": 0, "taken": 1, "resolved": 2}
        for o in sorted(outcomes, key=lambda o: (order[o.outcome], -o.recommendation.saving)):
            r = o.recommendation
            lines.append(
                f"| **{o.outcome}** | {money(r.saving, currency)} | {r.app} | {r.action} | "
                f"{o.first_seen.astimezone(zone(tz)):%Y-%m-%d} | {o.evidence} |"
            )
        left = sum(o.recommendation.saving for o in outcomes if o.outcome == "left")
        lines += ["", f"Left on the table: {money(left, currency)} per month."]
    else:
        lines.append("No recommendations were made this month.")
    if billing_links:
        lines += ["", "## Review billing", ""] + [f"- <{link}>" for link in billing_links]
    return "\n".join(lines) + "\n"
