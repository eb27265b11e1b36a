"""The infrastructure monitor's alert rules (runbook: Monitoring & Alerts, Alert Response), pure.

Each app is judged by six rules on the figures one monitor run measured (a seventh,
`error_budget`, for apps with SLOs). Thresholds come from
the inventory (`AppSpec.thresholds`, whose defaults depend on the role):

============== ================================================ ========== ==============
rule           fails when                                        web        background
============== ================================================ ========== ==============
machines       no machine; a web app with no started machine;    critical   critical
               a started machine's check critical (warning:
               warning)
health         `/health` answers another status, or not at all   critical   critical
cpu            CPU % over the window > `cpu_pct`                 > 80 %     > 90 %
memory         memory % over the window > `mem_pct`              > 85 %     > 90 %
response_time  p95 over the window, or the `/health` answer,     > 2 s      > 5 s
               slower than `response_ms`
error_rate     5xx share > `error_rate_warn` (warning),          1 % / 5 %  1 % / 5 %
               > `error_rate_crit` (critical)
error_budget   (apps with an `slo:` only) a fast burn (14.4x    critical   critical
               over 1 h and 5 m), a slow burn (6x over 6 h and   / warning  / warning
               30 m): hotdash_ops.monitor.slo
============== ================================================ ========== ==============

The apps' dependencies (the inventory's `dependencies:`, runbook "Verify dependencies
(Supabase, Shopify)") have one rule, `dependency`: critical when the service answers another
status than the inventory expects or does not answer at all (for the apps it is down), "no
data" when it could not be asked (its key is not configured).

This is the one rule engine: the infrastructure monitor, the manual health check and the
morning health check all judge apps and dependencies here (hotdash_ops.monitor.health names
the outcomes for reports), so one fact gets one verdict wherever it is read.

cpu, memory and response_time are warnings (runbook P2 "monitoring alert"); a health failure
or a critical 5xx ratio is critical (it may be "production down").

"No data" is its own outcome, never a pass: Machines API unreadable, a Prometheus query that
failed, a figure without a series where one should be. "No traffic" is another: the request
query worked and found no requests in the window, so there is no 5xx ratio or p95 to judge
(hotdash_ops.monitor.metrics); it never alerts by itself and is never counted as ok, and the
response rule then judges the `/health` answer alone. An app with no started machine has no
CPU or memory series, and that is its state, not missing data. A stopped machine's checks are
not counted (a background app may be all stopped: auto-stop), and an auto-stopped app whose
inventory entry says `probe_when_stopped: false` is judged from its machines, not woken by a
`/health` request (hotdash_ops.monitor.probe).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, Field

from hotdash_ops.inventory import AppSpec, Dependency
from hotdash_ops.models import Machine
from hotdash_ops.monitor.metrics import AppMetrics, FleetMetrics
from hotdash_ops.monitor.probe import ProbeResult
from hotdash_ops.wording import counted


class RuleName(StrEnum):
    """The monitor's rules, in the order the table shows them."""

    MACHINES = "machines"
    HEALTH = "health"
    CPU = "cpu"
    MEMORY = "memory"
    RESPONSE_TIME = "response_time"
    ERROR_RATE = "error_rate"
    DEPENDENCY = "dependency"  # an external service the apps need, not an app
    # Apps with SLOs only: the SRE workbook's burn-rate rules (hotdash_ops.monitor.slo).
    ERROR_BUDGET = "error_budget"


# The rules every app is judged by: not `dependency` (a dependency's), not `error_budget`
# (only apps with SLOs, judged by hotdash_ops.monitor.slo after these).
APP_RULES: tuple[RuleName, ...] = tuple(
    r for r in RuleName if r not in (RuleName.DEPENDENCY, RuleName.ERROR_BUDGET)
)


class Outcome(StrEnum):
    """How one rule judged one app in one run."""

    PASS = "pass"
    FAIL = "fail"
    NO_DATA = "no_data"
    NO_TRAFFIC = "no_traffic"

    @property
    def alerting(self) -> bool:
        """Whether it feeds an alert: a failure or missing data, never "no traffic"."""
        return self in (Outcome.FAIL, Outcome.NO_DATA)


class Severity(StrEnum):
    """How urgent a failing rule is."""

    WARNING = "warning"
    CRITICAL = "critical"


class RuleVerdict(BaseModel):
    """One rule's judgement of one app; `value`/`limit` are the figure and its threshold."""

    app: str
    rule: RuleName
    outcome: Outcome
    severity: Severity = Severity.WARNING
    value: float | None = None
    limit: float | None = None
    detail: str

    @property
    def key(self) -> str:
        """`<app>/<rule>`: the identity of the alert this verdict feeds."""
        return f"{self.app}/{self.rule.value}"

    def cell(self) -> str:
        """The verdict as a short table cell: `pass`, `FAIL`, `FAIL (critical)`, `NO DATA`."""
        if self.outcome == Outcome.PASS:
            return "pass"
        if self.outcome == Outcome.NO_DATA:
            return "NO DATA"
        if self.outcome == Outcome.NO_TRAFFIC:
            return "no traffic"
        return "FAIL (critical)" if self.severity == Severity.CRITICAL else "FAIL"


class MonitorFigures(BaseModel):
    """What one monitor run measured for one app. None = could not be measured."""

    app: str
    role: str
    machines_by_state: dict[str, int] | None = None
    machines_by_region: dict[str, int] | None = None
    machine_checks: dict[str, int] | None = None  # checks of started machines
    machines_error: str | None = None
    health_path: str = "/health"
    health_status: int | None = None
    health_expected: int = 200
    health_latency_ms: float | None = None
    health_error: str | None = None
    health_skipped: str | None = None  # not probed: why (an auto-stopped app, not woken)
    cpu_pct: float | None = None
    mem_pct: float | None = None
    p95_ms: float | None = None
    error_rate: float | None = None
    rps: float | None = None
    no_traffic: bool = False
    metrics_errors: dict[str, str] = Field(default_factory=dict)  # figure -> why it is missing

    @property
    def none_started(self) -> bool:
        """The machines were read and none is started (so no instance metrics exist)."""
        return self.machines_by_state is not None and not self.machines_by_state.get("started")


class AppEvaluation(BaseModel):
    """One app's figures and every rule's verdict."""

    figures: MonitorFigures
    verdicts: list[RuleVerdict]

    @property
    def app(self) -> str:
        return self.figures.app

    def verdict(self, rule: RuleName) -> RuleVerdict:
        """The verdict of `rule` (every rule is judged for every app)."""
        for v in self.verdicts:
            if v.rule == rule:
                return v
        raise KeyError(f"rule {rule.value!r} was not judged for {self.app}")


def collect_figures(
    spec: AppSpec,
    *,
    machines: list[Machine] | str | None,
    health: ProbeResult | None,
    metrics: AppMetrics | None,
    metrics_errors: dict[str, str] | None = None,
) -> MonitorFigures:
    """The figures of one app from the fleet reads (`machines` is an error text when unread)."""
    fig = MonitorFigures(app=spec.name, role=spec.role, health_path=spec.health_path)
    if isinstance(machines, list):
        fig.machines_by_state = dict(Counter(m.state for m in machines))
        fig.machines_by_region = dict(sorted(Counter(m.region for m in machines).items()))
        checks: Counter[str] = Counter()
        for m in machines:
            if m.state == "started":  # a stopped machine's check is stale, not a failure
                checks.update(m.check_counts())
        fig.machine_checks = {k: checks.get(k, 0) for k in ("passing", "warning", "critical")}
    else:
        fig.machines_error = machines or "not read"
    if health is not None:
        fig.health_status = health.status
        fig.health_expected = health.expected_status
        fig.health_latency_ms = health.latency_ms
        fig.health_error = health.error
        fig.health_skipped = health.skipped
    else:
        fig.health_error = "not checked"
    if metrics is not None:
        fig.cpu_pct = metrics.cpu_pct
        fig.mem_pct = metrics.mem_pct
        fig.p95_ms = metrics.p95_ms
        fig.error_rate = metrics.error_rate
        fig.rps = metrics.rps
        fig.no_traffic = metrics.no_traffic
    fig.metrics_errors = dict(metrics_errors or {})
    return fig


def _no_data_reason(fig: MonitorFigures, figure: str) -> str:
    if figure in fig.metrics_errors:
        return f"query failed: {fig.metrics_errors[figure]}"
    return "Prometheus returned no series for the app"


def _machines(fig: MonitorFigures) -> RuleVerdict:
    def v(outcome: Outcome, detail: str, severity: Severity = Severity.CRITICAL) -> RuleVerdict:
        return RuleVerdict(
            app=fig.app, rule=RuleName.MACHINES, outcome=outcome, severity=severity, detail=detail
        )

    if fig.machines_by_state is None:
        return v(Outcome.NO_DATA, f"machines: no data ({fig.machines_error})")
    states = fig.machines_by_state
    summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"
    if not states:
        return v(Outcome.FAIL, "machines: none exist")
    if states.get("started", 0) == 0 and fig.role == "web":
        return v(Outcome.FAIL, f"machines: no started machine ({summary})")
    checks = fig.machine_checks or {}
    if checks.get("critical", 0):
        return v(Outcome.FAIL, f"machines: {checks['critical']} check(s) critical ({summary})")
    if checks.get("warning", 0):
        return v(
            Outcome.FAIL,
            f"machines: {checks['warning']} check(s) warning ({summary})",
            Severity.WARNING,
        )
    return v(Outcome.PASS, f"machines: {summary}")


def _health(fig: MonitorFigures) -> RuleVerdict:
    path = fig.health_path

    def v(outcome: Outcome, detail: str) -> RuleVerdict:
        return RuleVerdict(
            app=fig.app,
            rule=RuleName.HEALTH,
            outcome=outcome,
            severity=Severity.CRITICAL,
            value=None if fig.health_status is None else float(fig.health_status),
            limit=float(fig.health_expected),
            detail=detail,
        )

    if fig.health_skipped:
        return v(Outcome.PASS, f"health: {path} not requested: {fig.health_skipped}")
    if fig.health_status is None:
        # The app itself did not answer: for its users it is down, so this is a failure.
        return v(Outcome.FAIL, f"health: {path} did not answer ({fig.health_error})")
    if fig.health_status != fig.health_expected:
        return v(
            Outcome.FAIL,
            f"health: {path} answered {fig.health_status} (expected {fig.health_expected})",
        )
    return v(Outcome.PASS, f"health: {path} answered {fig.health_status}")


def _over(
    fig: MonitorFigures, rule: RuleName, figure: str, value: float | None, limit: float, unit: str
) -> RuleVerdict:
    label = rule.value
    if value is not None:
        outcome = Outcome.FAIL if value > limit else Outcome.PASS
        sign = ">" if value > limit else "<="
        detail = f"{label}: {value:.1f}{unit} {sign} {limit:g}{unit}"
    elif figure not in fig.metrics_errors and fig.none_started:
        outcome, detail = Outcome.PASS, f"{label}: no machine is started (no instance series)"
    else:
        outcome, detail = Outcome.NO_DATA, f"{label}: no data ({_no_data_reason(fig, figure)})"
    return RuleVerdict(
        app=fig.app, rule=rule, outcome=outcome, value=value, limit=limit, detail=detail
    )


def _response_time(fig: MonitorFigures, limit: float) -> RuleVerdict:
    def v(outcome: Outcome, detail: str, value: float | None) -> RuleVerdict:
        return RuleVerdict(
            app=fig.app,
            rule=RuleName.RESPONSE_TIME,
            outcome=outcome,
            value=value,
            limit=limit,
            detail=detail,
        )

    probe_ms = fig.health_latency_ms if fig.health_status is not None else None
    idle = fig.no_traffic
    if fig.p95_ms is None and not idle:
        return v(
            Outcome.NO_DATA,
            f"response_time: no data for p95 ({_no_data_reason(fig, 'p95_ms')})",
            probe_ms,
        )
    if fig.p95_ms is not None and fig.p95_ms > limit:
        return v(Outcome.FAIL, f"response_time: p95 {fig.p95_ms:.0f} ms > {limit:g} ms", fig.p95_ms)
    if probe_ms is not None and probe_ms > limit:
        return v(
            Outcome.FAIL,
            f"response_time: {fig.health_path} took {probe_ms:.0f} ms > {limit:g} ms",
            probe_ms,
        )
    if fig.p95_ms is None and probe_ms is None:
        if fig.health_skipped:
            return v(Outcome.NO_TRAFFIC, "response_time: no traffic, /health not requested", None)
        return v(
            Outcome.NO_DATA, "response_time: no requests in the window, no /health answer", None
        )
    shown = fig.p95_ms if fig.p95_ms is not None else probe_ms
    what = "p95" if fig.p95_ms is not None else f"{fig.health_path} (no requests)"
    return v(Outcome.PASS, f"response_time: {what} {shown:.0f} ms <= {limit:g} ms", shown)


def _error_rate(fig: MonitorFigures, warn: float, crit: float) -> RuleVerdict:
    def v(
        outcome: Outcome, detail: str, severity: Severity = Severity.WARNING, limit: float = warn
    ) -> RuleVerdict:
        return RuleVerdict(
            app=fig.app,
            rule=RuleName.ERROR_RATE,
            outcome=outcome,
            severity=severity,
            value=fig.error_rate,
            limit=limit,
            detail=detail,
        )

    rate = fig.error_rate
    if rate is None:
        if fig.no_traffic and "error_rate" not in fig.metrics_errors:
            return v(Outcome.NO_TRAFFIC, "error_rate: no traffic in the window (no requests)")
        return v(Outcome.NO_DATA, f"error_rate: no data ({_no_data_reason(fig, 'error_rate')})")
    if rate > crit:
        return v(
            Outcome.FAIL,
            f"error_rate: 5xx {rate:.1%} > {crit:.0%} (critical)",
            Severity.CRITICAL,
            crit,
        )
    if rate > warn:
        return v(Outcome.FAIL, f"error_rate: 5xx {rate:.1%} > {warn:.0%}")
    return v(Outcome.PASS, f"error_rate: 5xx {rate:.2%} <= {warn:.0%}")


def evaluate_app(spec: AppSpec, fig: MonitorFigures) -> AppEvaluation:
    """Every rule of the app's role on what this run measured."""
    t = spec.thresholds
    verdicts = [
        _machines(fig),
        _health(fig),
        _over(fig, RuleName.CPU, "cpu_pct", fig.cpu_pct, t.cpu_pct, " %"),
        _over(fig, RuleName.MEMORY, "mem_pct", fig.mem_pct, t.mem_pct, " %"),
        _response_time(fig, t.response_ms),
        _error_rate(fig, t.error_rate_warn, t.error_rate_crit),
    ]
    return AppEvaluation(figures=fig, verdicts=verdicts)


def evaluate_dependency(
    dep: Dependency, probe: ProbeResult | None, *, not_checked: str | None = None
) -> RuleVerdict:
    """The `dependency` rule on one answer of the service (`curl <url>` with its headers);
    `not_checked` says why it was not asked (no data, never a pass)."""

    def v(outcome: Outcome, detail: str) -> RuleVerdict:
        status = None if probe is None or probe.status is None else float(probe.status)
        return RuleVerdict(
            app=dep.name,
            rule=RuleName.DEPENDENCY,
            outcome=outcome,
            severity=Severity.CRITICAL,
            value=status,
            detail=detail,
        )

    if probe is None:
        return v(Outcome.NO_DATA, f"{dep.name}: not checked ({not_checked or 'no data'})")
    if probe.status is None:
        return v(Outcome.FAIL, f"{dep.name}: did not answer ({probe.error})")
    if probe.status not in dep.expected_status:
        expected = "/".join(str(s) for s in dep.expected_status)
        return v(Outcome.FAIL, f"{dep.name}: answered {probe.status} (expected {expected})")
    latency = f" in {probe.latency_ms:.0f} ms" if probe.latency_ms is not None else ""
    return v(Outcome.PASS, f"{dep.name}: answered {probe.status}{latency}")


def evaluate_fleet(
    specs: list[AppSpec],
    *,
    machines: dict[str, list[Machine] | str],
    health: dict[str, ProbeResult],
    metrics: FleetMetrics,
) -> list[AppEvaluation]:
    """Judge every app from the run's three fleet-wide reads."""
    out = []
    for spec in specs:
        fig = collect_figures(
            spec,
            machines=machines.get(spec.name),
            health=health.get(spec.name),
            metrics=metrics.by_app.get(spec.name),
            metrics_errors=metrics.errors,
        )
        out.append(evaluate_app(spec, fig))
    return out


def summarise(evaluations: list[AppEvaluation], dependencies: Sequence[RuleVerdict] = ()) -> str:
    """`5 apps: 3 ok, 1 failing, 0 with no data, 1 with no traffic (...); failing:
    hotdash-staging: cpu; 2 dependencies ok`."""
    failing: list[str] = []
    no_data: list[str] = []
    quiet: list[str] = []
    for e in evaluations:
        bad = [v.rule.value for v in e.verdicts if v.outcome == Outcome.FAIL]
        missing = [v.rule.value for v in e.verdicts if v.outcome == Outcome.NO_DATA]
        if bad:
            failing.append(f"{e.app}: {', '.join(bad)}")
        if missing:
            no_data.append(f"{e.app}: {', '.join(missing)}")
        if any(v.outcome == Outcome.NO_TRAFFIC for v in e.verdicts):
            quiet.append(e.app)
    ok = sum(1 for e in evaluations if all(v.outcome == Outcome.PASS for v in e.verdicts))
    text = (
        f"{counted(len(evaluations), 'app')}: {ok} ok, {len(failing)} failing, "
        f"{len(no_data)} with no data"
    )
    if quiet:
        text += f", {len(quiet)} with no traffic ({', '.join(quiet[:10])})"
    if failing:
        text += f"; failing: {'; '.join(failing[:10])}"
    if no_data:
        text += f"; no data: {'; '.join(no_data[:10])}"
    if dependencies:
        down = [d.detail for d in dependencies if d.outcome != Outcome.PASS]
        text += (
            f"; dependencies: {'; '.join(down)}"
            if down
            else (f"; {counted(len(dependencies), 'dependency', 'dependencies')} ok")
        )
    return text
