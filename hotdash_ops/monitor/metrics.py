"""The PromQL we send to Fly's Prometheus and what we make of the answers.

One range query per figure for the whole fleet (grouped `by (app)`), never one per app: a
monitor tick over 200 apps is five queries, not a thousand. Each app's figure is the MEAN of the
window's finite samples (NaN, e.g. a p95 with no requests, is skipped); the maximum is kept in
`AppMetrics.peaks`.

Fly's Prometheus answers with no series where there is nothing to count (docs
monitoring/metrics.html.md: one `fly_edge_http_responses_count` series per status an app
answered with), and a PromQL division keeps only the apps present on both sides
(https://prometheus.io/docs/prometheus/latest/querying/operators/). So the 5xx ratio is not
asked as a division, which has no value for an app with traffic and no 5xx series: the 5xx
rate and the request rate are asked apart, and the ratio is worked out here:

* a failed query: the figure is unknown (`FleetMetrics.errors`), never 0;
* no request series, or a request rate of 0: the app had no traffic (`no_traffic`): no 5xx
  ratio and no p95 to judge, which is not the same as not knowing;
* requests but no 5xx series: the ratio is 0.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from hotdash_ops.errors import FlyError
from hotdash_ops.fly.prometheus import PrometheusClient
from hotdash_ops.models import PromResult
from hotdash_ops.validation import app_name


class AppMetrics(BaseModel):
    """One app's figures over the window; None means Prometheus had no data for it."""

    app: str
    cpu_pct: float | None = None  # non-idle share of vCPU time, 0-100
    mem_pct: float | None = None  # used memory share, 0-100
    p95_ms: float | None = None  # edge p95 response time, milliseconds
    error_rate: float | None = None  # 5xx share of edge responses, 0-1
    rps: float | None = None  # edge responses per second
    no_traffic: bool = False  # the request query worked and found no requests in the window
    peaks: dict[str, float] = Field(default_factory=dict)  # figure -> max sample in the window


class FleetMetrics(BaseModel):
    """Every app's metrics plus, per figure, why a query failed (that figure is None for all)."""

    by_app: dict[str, AppMetrics]
    errors: dict[str, str] = Field(default_factory=dict)
    window_minutes: int = 15
    end: datetime | None = None


# The queries of docs/fly.md, "Metrics" (after Fly's metrics docs), `[5m]` made `[{window}]`.
# `build_query` fills the window
# and, for a given app list, adds `app=~"a|b"` to every metric selector.
QUERIES: dict[str, str] = {
    "cpu_pct": (
        "100 * avg by (app) ("
        'sum by (app, instance) (rate(fly_instance_cpu{mode!="idle"}[{window}]))'
        " / sum by (app, instance) (rate(fly_instance_cpu[{window}])))"
    ),
    "mem_pct": (
        "100 * avg by (app) ((fly_instance_memory_mem_total - fly_instance_memory_mem_available)"
        " / fly_instance_memory_mem_total)"
    ),
    "p95_ms": (
        "histogram_quantile(0.95, sum by (app, le)"
        " (rate(fly_edge_http_response_time_seconds_bucket[{window}])))"
    ),
    "errors_5xx": 'sum by (app) (rate(fly_edge_http_responses_count{status=~"5.."}[{window}]))',
    "rps": "sum by (app) (rate(fly_edge_http_responses_count[{window}]))",
}


# The answer's unit -> ours: p95 comes back in seconds.
_SCALE = {"p95_ms": 1000.0}
_SELECTOR = re.compile(r"\b(fly_[a-z0-9_]+)(\{[^}]*\})?")


def build_query(figure: str, *, window_minutes: int, apps: Sequence[str] | None = None) -> str:
    """The PromQL for `figure` over `window_minutes`, limited to `apps` when given."""
    if window_minutes < 1:
        raise ValueError("window_minutes: must be at least 1")
    query = QUERIES[figure].replace("{window}", f"{window_minutes}m")
    if not apps:
        return query
    # Validated app names are [a-z0-9-]: nothing to escape (and PromQL strings reject `\-`).
    matcher = 'app=~"' + "|".join(app_name(a) for a in apps) + '"'

    def add(m: re.Match[str]) -> str:
        name, labels = m.group(1), m.group(2)
        if labels:
            return f"{name}{{{labels[1:-1]},{matcher}}}"
        return f"{name}{{{matcher}}}"

    return _SELECTOR.sub(add, query)


def _ratio(errors: PromResult, totals: PromResult) -> dict[str, tuple[float, float]]:
    """app -> (mean, max) of the 5xx share at each step with requests; a step without a 5xx
    sample (no 5xx series yet) counts 0. Apps without requests are left out."""
    errors_by_app = errors.by_label("app")
    out: dict[str, tuple[float, float]] = {}
    for app, series in totals.by_label("app").items():
        bad = dict(errors_by_app[app].values) if app in errors_by_app else {}
        shares = [
            bad.get(t, 0.0) / v
            for t, v in series.values
            if math.isfinite(v) and v > 0 and math.isfinite(bad.get(t, 0.0))
        ]
        if shares:
            out[app] = (math.fsum(shares) / len(shares), max(shares))
    return out


def _reduce(result: PromResult, scale: float) -> dict[str, tuple[float, float]]:
    """app -> (mean, max) of finite samples; apps with only NaN are left out (no data)."""
    out: dict[str, tuple[float, float]] = {}
    for app, series in result.by_label("app").items():
        values = [v * scale for v in series.finite_values()]
        if values:
            out[app] = (math.fsum(values) / len(values), max(values))
    return out


async def fetch_fleet_metrics(
    prom: PrometheusClient,
    apps: Sequence[str],
    *,
    window_minutes: int = 15,
    step_seconds: int = 60,
    now: datetime | None = None,
    rate_minutes: int | None = None,
) -> FleetMetrics:
    """CPU, memory, p95, 5xx ratio and request rate of `apps` over the last `window_minutes`.

    The runbook's `fly-metrics-dashboard.sh`, as one range query per figure. Each sample's
    rates are taken over `rate_minutes` (default the whole window); a long window read for its
    peaks (the morning check's night) asks for short rates, or every sample would be the
    night's average.
    """
    end = now or datetime.now(UTC)
    start = end - timedelta(minutes=window_minutes)
    rate_window = rate_minutes or window_minutes
    figures: dict[str, dict[str, float | None]] = {app: {} for app in apps}
    peaks: dict[str, dict[str, float]] = {app: {} for app in apps}
    errors: dict[str, str] = {}

    async def one(figure: str) -> tuple[str, PromResult | FlyError]:
        promql = build_query(figure, window_minutes=rate_window, apps=list(apps))
        try:
            return figure, await prom.query_range(promql, start, end, step_seconds)
        except FlyError as exc:
            return figure, exc

    # The five queries are independent: ask for them at once.
    answers: dict[str, PromResult] = {}
    for figure, outcome in await asyncio.gather(*(one(f) for f in QUERIES)):
        if isinstance(outcome, FlyError):
            errors["error_rate" if figure == "errors_5xx" else figure] = str(outcome)
        else:
            answers[figure] = outcome
    if "rps" in errors:
        errors.setdefault("error_rate", errors["rps"])
    for figure in ("cpu_pct", "mem_pct", "p95_ms", "rps"):
        if figure in answers:
            reduced = _reduce(answers[figure], _SCALE.get(figure, 1.0))
            for app in apps:
                if app in reduced:
                    figures[app][figure], peaks[app][figure] = reduced[app]
    ratios = (
        _ratio(answers["errors_5xx"], answers["rps"])
        if "errors_5xx" in answers and "rps" in answers
        else {}
    )
    for app in apps:
        if app in ratios:
            figures[app]["error_rate"], peaks[app]["error_rate"] = ratios[app]
    by_app = {
        app: AppMetrics.model_validate(
            {
                "app": app,
                **figures[app],
                "no_traffic": "rps" in answers and not figures[app].get("rps"),
                "peaks": peaks[app],
            }
        )
        for app in apps
    }
    return FleetMetrics(by_app=by_app, errors=errors, window_minutes=window_minutes, end=end)
