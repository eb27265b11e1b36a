"""Error budgets of the apps with SLOs (Monitoring & Alerts): the reads behind them, the
`/health` history the monitor keeps, and the budgets (hotdash_ops.monitor.slo, error_budget).

Used by the infrastructure monitor (burn-rate alerts), the weekly review (budget left) and
deploy-production (a spent budget lets only critical fixes through).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from hotdash_ops.errors import FlyError
from hotdash_ops.fly.prometheus import PrometheusClient
from hotdash_ops.inventory import AppSpec
from hotdash_ops.models import PromResult
from hotdash_ops.monitor.alert_rules import AppEvaluation, RuleVerdict
from hotdash_ops.monitor.slo import (
    AppBudget,
    HealthMark,
    app_budget,
    append_mark,
    availability_queries,
    budget_verdict,
    budget_windows,
    down_share,
    error_ratios,
    health_timelines,
    latency_query,
    read_marks,
    shares,
    worse,
)
from tasks import fly_access
from tasks.reports import publish_table

HISTORY_FILE = "slo-health.jsonl"
BUDGETS_KEY = "error-budgets"


def history_path() -> Path:
    """`<state>/slo-health.jsonl`: each monitor run's `/health` verdicts for SLO apps."""
    return fly_access.settings().hotdash_state_dir / HISTORY_FILE


def with_slos(specs: Sequence[AppSpec]) -> list[AppSpec]:
    """The apps that have SLOs in the inventory."""
    return [s for s in specs if s.slo is not None]


@task(name="record-slo-health", cache_policy=NO_CACHE)
def record_slo_health(evaluations: list[AppEvaluation], apps: list[str]) -> HealthMark:
    """Append this monitor run's `/health` verdicts of `apps` to the history: down when it
    answered another status or nothing, up when it answered as expected; an app not probed
    (auto-stopped, not woken) is neither."""
    mark = HealthMark(at=datetime.now(UTC))
    for e in evaluations:
        f = e.figures
        if f.app not in apps or f.health_skipped:
            continue
        (mark.up if f.health_status == f.health_expected else mark.down).append(f.app)
    longest = max(
        (s.slo.period for s in with_slos(fly_access.inventory().apps) if s.slo), default=None
    )
    append_mark(history_path(), mark, keep_since=mark.at - longest if longest else None)
    return mark


async def _query(prom: PrometheusClient, promql: str) -> PromResult | str:
    try:
        return await prom.query(promql)
    except FlyError as exc:
        return f"query failed: {exc}"


@task(name="read-error-budgets", cache_policy=NO_CACHE)
async def read_error_budgets(specs: list[AppSpec]) -> dict[str, AppBudget | str]:
    """Each SLO app's budgets: the 5xx share and the slow-minute share over every window of
    the burn-rate rules and over the SLO period (Fly's Prometheus, instant queries for all
    the apps at once), with the `/health` history's down share. An app whose reads all failed
    maps to the error text (its budget is unknown, never "fine")."""
    apps = with_slos(specs)
    if not apps:
        return {}
    names = [a.name for a in apps]
    periods = sorted({a.slo.period for a in apps if a.slo is not None})
    windows = budget_windows(periods)
    now = datetime.now(UTC)
    thresholds = sorted({a.slo.latency_p95_ms for a in apps if a.slo and a.slo.latency_p95_ms})
    asks: dict[tuple[str, timedelta, float], str] = {}
    for window in windows:
        for kind, promql in availability_queries(window, names).items():
            asks[(kind, window, 0.0)] = promql
        for threshold in thresholds:
            using = [a.name for a in apps if a.slo and a.slo.latency_p95_ms == threshold]
            asks[("slow", window, threshold)] = latency_query(
                window, threshold, using, period=window in periods
            )
    async with fly_access.prometheus_client() as prom:  # one client (one pool) for every ask
        got = await asyncio.gather(*(_query(prom, q) for q in asks.values()))
    answers = dict(zip(asks, got, strict=True))
    failures = sorted({a for a in answers.values() if isinstance(a, str)})
    marks = read_marks(history_path(), now - max(windows))
    timelines = health_timelines(marks)

    out: dict[str, AppBudget | str] = {}
    for spec in apps:
        assert spec.slo is not None
        availability: dict[timedelta, float | None] = {}
        latency: dict[timedelta, float | None] = {}
        known = 0
        for window in windows:
            requests, errors = (
                answers[("requests", window, 0.0)],
                answers[("errors_5xx", window, 0.0)],
            )
            five = None
            if isinstance(requests, PromResult) and isinstance(errors, PromResult):
                five = error_ratios(requests, errors).get(spec.name)
                known += 1
            down = down_share(timelines.get(spec.name, []), now - window, now)
            availability[window] = worse(five, down)
            if spec.slo.latency_p95_ms:
                slow = answers[("slow", window, spec.slo.latency_p95_ms)]
                if isinstance(slow, PromResult):
                    latency[window] = shares(slow).get(spec.name)
                    known += 1
        if not known and not marks:
            out[spec.name] = "; ".join(failures) or "no SLI could be read"
            continue
        out[spec.name] = app_budget(
            spec.name, spec.slo, {"availability": availability, "latency": latency}
        )
    if failures:
        get_run_logger().warning("error budgets: %s", "; ".join(failures))
    return out


async def error_budget_verdicts(
    specs: list[AppSpec], evaluations: list[AppEvaluation]
) -> list[RuleVerdict]:
    """Infrastructure monitor: record this run's `/health` verdicts of the SLO apps, read
    their budgets, publish the `error-budgets` table, and return one `error_budget` verdict
    per SLO app for the alert book."""
    apps = [s.name for s in with_slos(specs)]
    if not apps:
        return []
    record_slo_health(quote(evaluations), apps)
    budgets = await read_error_budgets(quote(with_slos(specs)))
    verdicts = []
    for app in apps:
        found = budgets[app]
        if isinstance(found, AppBudget):
            verdicts.append(budget_verdict(app, found))
        else:
            verdicts.append(budget_verdict(app, None, found))
    rows = [b.row() for b in budgets.values() if isinstance(b, AppBudget)]
    await publish_table(
        BUDGETS_KEY,
        quote(rows),
        description="; ".join(f"{v.app}: {v.cell()} ({v.detail})" for v in verdicts),
    )
    return verdicts
