"""What feeds an app's error budgets, pure: the SLIs behind the inventory's `slo:` and the
monitor's rule that alerts on them (the arithmetic: hotdash_ops.monitor.error_budget).

For every window the burn-rate rules look at (5 m, 30 m, 1 h, 6 h) and for the SLO's period
(30 days), each SLI's error ratio:

* **availability**: the worse of two bad shares, the 5xx share of the app's responses at Fly's
  edge (`increase(fly_edge_http_responses_count{status=~"5.."}[w])` over the same without the
  status matcher, asked apart and divided here, as hotdash_ops.monitor.metrics does: requests
  and no 5xx series is 0, no requests is no value) and the share of the window in which the
  monitor found `/health` failing (each monitor run's probe stands until the next one; kept in
  `<state>/slo-health.jsonl`). The worse, not the sum: while `/health` fails, the requests
  fail too, and counting them twice would spend the budget twice;
* **latency**: the share of minutes whose p95 was above the SLO's `latency_p95_ms`, a PromQL
  subquery over the edge histogram (`avg_over_time((histogram_quantile(0.95, ...) > bool
  0.8)[6h:1m])`; a minute without requests has no p95 and is not a slow minute); the period's
  share is counted in 5-minute steps, which keeps a 30-day subquery cheap.

Fly's Prometheus keeps metric data for about 15 days (docs monitoring/metrics.html.md,
"Retention, cost, and limits"): over a 30-day period the 5xx and slow-minute shares are
those of the days it still has, taken as the period's (the `/health` history covers the whole
period). For the whole 30 days from requests, federate Fly's metrics into a Prometheus of
your own and point `FLY_PROMETHEUS_URL` at it.

The monitor's rule `error_budget` per app fails critical when any SLI's fast burn fires,
warning when only a slow burn does; it passes otherwise, including while a budget is spent
but not burning (the weekly review and deploy-production say that); it has no data only when
every query it needed failed.
"""

from __future__ import annotations

import fcntl
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from hotdash_ops.models import PromResult
from hotdash_ops.monitor.alert_rules import Outcome, RuleName, RuleVerdict, Severity
from hotdash_ops.monitor.error_budget import (
    WORKBOOK_RULES,
    AppSlos,
    BudgetStatus,
    duration,
    evaluate_sli,
    windows,
)
from hotdash_ops.validation import app_name

PERIOD_STEP = timedelta(minutes=5)  # the period's latency subquery resolution
PRUNE_AFTER = timedelta(days=1)  # how far past its period the history's oldest line may be
MINUTE = timedelta(minutes=1)


def _matcher(apps: Sequence[str]) -> str:
    return 'app=~"' + "|".join(app_name(a) for a in apps) + '"'


def budget_windows(periods: Sequence[timedelta]) -> list[timedelta]:
    """The rules' windows and every SLO period, shortest first."""
    return sorted(set(windows(WORKBOOK_RULES)) | set(periods))


def availability_queries(window: timedelta, apps: Sequence[str]) -> dict[str, str]:
    """Requests and 5xx responses of `apps` over `window`, per app (two queries)."""
    sel, w = _matcher(apps), duration(window)
    return {
        "requests": f"sum by (app) (increase(fly_edge_http_responses_count{{{sel}}}[{w}]))",
        "errors_5xx": (
            f'sum by (app) (increase(fly_edge_http_responses_count{{{sel},status=~"5.."}}[{w}]))'
        ),
    }


def latency_query(
    window: timedelta, threshold_ms: float, apps: Sequence[str], *, period: bool = False
) -> str:
    """The share of minutes (5-minute steps over a period) with p95 above `threshold_ms`."""
    step = duration(PERIOD_STEP if period else MINUTE)
    seconds = f"{threshold_ms / 1000:g}"
    return (
        "avg_over_time((histogram_quantile(0.95, sum by (app, le) "
        f"(rate(fly_edge_http_response_time_seconds_bucket{{{_matcher(apps)}}}[{step}])))"
        f" > bool {seconds})[{duration(window)}:{step}])"
    )


def _latest(result: PromResult) -> dict[str, float]:
    return {
        app: series.values[-1][1] for app, series in result.by_label("app").items() if series.values
    }


def error_ratios(requests: PromResult, errors_5xx: PromResult) -> dict[str, float]:
    """app -> 5xx share over the window; apps without requests are left out (no value)."""
    totals, bad = _latest(requests), _latest(errors_5xx)
    out = {}
    for app, total in totals.items():
        if math.isfinite(total) and total > 0:
            errors = bad.get(app, 0.0)
            out[app] = min(1.0, errors / total) if math.isfinite(errors) else 0.0
    return out


def shares(result: PromResult) -> dict[str, float]:
    """app -> a 0..1 share from a subquery's answer (NaN left out)."""
    return {a: v for a, v in _latest(result).items() if math.isfinite(v)}


class HealthMark(BaseModel):
    """One monitor run's `/health` verdicts for the apps with SLOs (a line of the history)."""

    at: datetime
    down: list[str] = Field(default_factory=list)  # answered wrongly, or not at all
    up: list[str] = Field(default_factory=list)  # answered as expected
    # Apps not probed (an auto-stopped app is not woken) are in neither list.


def append_mark(path: Path, mark: HealthMark, *, keep_since: datetime | None = None) -> None:
    """Append one run's verdicts to the `/health` history (a JSON line, under flock: monitor
    runs on several workers share the state folder). With `keep_since`, lines older than it
    are dropped once the oldest is a day past it (about once a day: the file stays one SLO
    period long)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.write(mark.model_dump_json() + "\n")
            fh.flush()
            if keep_since is not None:
                fh.seek(0)
                first = fh.readline()
                try:
                    stale = HealthMark.model_validate_json(first).at < keep_since - PRUNE_AFTER
                except ValidationError:
                    stale = True  # a torn first line: rewrite without it
                if stale:
                    kept = read_marks(path, keep_since)
                    tmp = path.with_suffix(".tmp")
                    tmp.write_text("".join(m.model_dump_json() + "\n" for m in kept))
                    tmp.replace(path)
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_marks(path: Path, since: datetime) -> list[HealthMark]:
    """The history from `since` on (an unreadable line is skipped: a torn write at a crash)."""
    if not path.exists():
        return []
    marks = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            mark = HealthMark.model_validate_json(line)
        except ValidationError:
            continue
        if mark.at >= since:
            marks.append(mark)
    return marks


Timeline = list[tuple[datetime, bool]]  # one app's probes: (when, down), oldest first


def health_timelines(marks: Iterable[HealthMark]) -> dict[str, Timeline]:
    """app -> its probes in time order (read once per run, then each window is a walk over
    one app's own probes, not over every app's)."""
    out: dict[str, Timeline] = {}
    for mark in sorted(marks, key=lambda m: m.at):
        for app in mark.down:
            out.setdefault(app, []).append((mark.at, True))
        for app in mark.up:
            out.setdefault(app, []).append((mark.at, False))
    return out


def down_share(timeline: Timeline, start: datetime, end: datetime) -> float | None:
    """The share of [start, end] in which the app's `/health` was failing: each probe's
    verdict stands until the app's next probe (or `end`). None: no probe covers any of it."""
    # The probe in force at `start` is the last one at or before it: begin there.
    first = max(0, bisect_right(timeline, (start, True)) - 1)
    covered = down = 0.0
    for i in range(first, len(timeline)):
        at, is_down = timeline[i]
        if at >= end:
            break
        until = timeline[i + 1][0] if i + 1 < len(timeline) else end
        span = (min(until, end) - max(at, start)).total_seconds()
        if span <= 0:
            continue
        covered += span
        down += span if is_down else 0.0
    if covered <= 0:
        return None
    return down / (end - start).total_seconds()


def worse(*values: float | None) -> float | None:
    """The larger of the known values; None when none is known."""
    known = [v for v in values if v is not None]
    return max(known) if known else None


class AppBudget(BaseModel):
    """An app's SLIs: budget left and burn rules."""

    app: str
    statuses: list[BudgetStatus]

    @property
    def budget_left(self) -> float | None:
        """The smallest budget left of the app's SLIs (None: none known)."""
        known = [s.budget_left for s in self.statuses if s.budget_left is not None]
        return min(known) if known else None

    @property
    def spent(self) -> list[BudgetStatus]:
        return [s for s in self.statuses if s.spent]

    @property
    def severity(self) -> str | None:
        """ "critical" when a fast burn fires, "warning" for a slow one, None otherwise."""
        fired = {r.rule.severity for s in self.statuses for r in s.firing}
        return "critical" if "critical" in fired else "warning" if fired else None

    def describe(self) -> str:
        """`availability 99.5 % over 30 d: budget left 80 %; latency ...` and what fires."""
        text = "; ".join(s.describe() for s in self.statuses)
        firing = [f"{s.sli} {r.describe()}" for s in self.statuses for r in s.firing]
        return text + (f"; BURNING: {'; '.join(firing)}" if firing else "")

    def row(self) -> dict[str, object]:
        """A table row: budget left per SLI, and what burns."""
        row: dict[str, object] = {"app": self.app}
        for s in self.statuses:
            left = s.budget_left
            row[f"{s.sli} SLO"] = f"{s.slo.target:g} % / {s.slo.period_days} d"
            row[f"{s.sli} budget left %"] = None if left is None else round(left * 100, 1)
        row["burning"] = "; ".join(
            f"{s.sli}: {r.rule.name} ({r.rule.severity})" for s in self.statuses for r in s.firing
        )
        return row


def app_budget(
    app: str, slos: AppSlos, ratios: Mapping[str, Mapping[timedelta, float | None]]
) -> AppBudget:
    """Evaluate each of the app's objectives from `ratios[sli][window]`."""
    statuses = [
        evaluate_sli(sli, slo, ratios.get(sli, {})) for sli, slo in slos.objectives().items()
    ]
    return AppBudget(app=app, statuses=statuses)


def budget_verdict(app: str, budget: AppBudget | None, error: str | None = None) -> RuleVerdict:
    """The monitor's `error_budget` rule for one app (module docstring)."""
    if budget is None or not any(
        s.budget_left is not None or any(r.long_rate is not None for r in s.rules)
        for s in budget.statuses
    ):
        return RuleVerdict(
            app=app,
            rule=RuleName.ERROR_BUDGET,
            outcome=Outcome.NO_DATA,
            severity=Severity.CRITICAL,
            detail=f"error budgets unknown: {error or 'no SLI could be read'}",
        )
    left = budget.budget_left
    severity = budget.severity
    return RuleVerdict(
        app=app,
        rule=RuleName.ERROR_BUDGET,
        outcome=Outcome.FAIL if severity else Outcome.PASS,
        severity=Severity.CRITICAL if severity == "critical" else Severity.WARNING,
        value=None if left is None else round(left * 100, 1),
        limit=0.0,
        detail=budget.describe(),
    )


def budgets_markdown(budgets: Mapping[str, AppBudget | str]) -> str:
    """The budgets as a markdown section (the weekly review's): budget left per app and SLI,
    what burns now, and apps whose budgets could not be read."""
    if not budgets:
        return ""
    lines = [
        "",
        "## Error budgets",
        "",
        "Apps with SLOs in the inventory: the share of each error budget left over the SLO "
        "period (below 0: overspent, and deploy-production takes only critical fixes).",
        "",
        "| app | SLI | objective | budget left | burning now |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for app, budget in budgets.items():
        if isinstance(budget, str):
            lines.append(f"| {app} | all | | unknown | {budget.replace('|', '/')} |")
            continue
        for s in budget.statuses:
            left = "unknown" if s.budget_left is None else f"{s.budget_left * 100:.0f} %"
            burning = ", ".join(f"{r.rule.name} ({r.rule.severity})" for r in s.firing)
            objective = f"{s.slo.target:g} % over {s.slo.period_days} d"
            lines.append(f"| {app} | {s.sli} | {objective} | {left} | {burning} |")
    return "\n".join(lines) + "\n"
