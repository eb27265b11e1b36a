"""The Morning Health Check's verdicts (runbook: Daily Operations, Alert Response), pure.

Rules, one Finding each:

* machines unreadable -> UNKNOWN; no machines -> FAIL; a web app with no started machine ->
  FAIL (a background app may be all stopped: auto-stop); a critical check of a started machine
  -> FAIL, a warning one -> WARN (a stopped machine's checks are stale, as in the monitor).
* health probe: not run or no answer -> UNKNOWN; wrong status -> FAIL; slower than
  `thresholds.response_ms` -> WARN (it answers, so it is degraded, not down: the runbook lists
  "Response Time Slow" under Alert Response, not Incident Response). An auto-stopped app not
  requested (`probe_when_stopped: false`, hotdash_ops.monitor.probe) is OK "auto-stopped": its
  machines were judged above and a request would start one.
* metrics: unreadable -> UNKNOWN; a thresholded figure with no data -> UNKNOWN "no data", never
  OK; no requests in the window (the query worked, hotdash_ops.monitor.metrics) -> NO_TRAFFIC
  for latency and 5xx ratio: nothing to measure, which is neither healthy nor unknown; no CPU
  or memory series while no machine is started -> OK (nothing runs); CPU or memory over
  threshold -> WARN; p95 over `response_ms` -> WARN; 5xx ratio over `error_rate_warn` -> WARN,
  over `error_rate_crit` -> FAIL.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

from pydantic import BaseModel, Field

from hotdash_ops.inventory import AppSpec, Dependency
from hotdash_ops.models import Machine
from hotdash_ops.monitor.metrics import AppMetrics
from hotdash_ops.monitor.probe import ProbeResult


class Verdict(StrEnum):
    """How a check (or an app, or the fleet) stands."""

    OK = "ok"
    NO_TRAFFIC = "no traffic"
    WARN = "warning"
    FAIL = "failing"
    UNKNOWN = "unknown"


# Worst first wins: not knowing is worse than a warning, better than a known failure; no
# traffic is not healthy, but nothing is wrong either.
SEVERITY: dict[Verdict, int] = {
    Verdict.OK: 0,
    Verdict.NO_TRAFFIC: 1,
    Verdict.WARN: 2,
    Verdict.UNKNOWN: 3,
    Verdict.FAIL: 4,
}


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most severe verdict; UNKNOWN when there is nothing to judge."""
    return max(verdicts, key=SEVERITY.__getitem__, default=Verdict.UNKNOWN)


class Finding(BaseModel):
    """One judged fact about an app or a dependency."""

    app: str
    check: str
    verdict: Verdict
    detail: str


class AppHealth(BaseModel):
    """An app's state as the health check saw it, and the findings drawn from it."""

    app: str
    role: str
    machines_by_state: dict[str, int] | None = None
    machines_by_region: dict[str, int] | None = None
    machine_checks: dict[str, int] | None = None  # passing / warning / critical counts
    health: ProbeResult | None = None
    metrics: AppMetrics | None = None
    findings: list[Finding] = Field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """The worst finding (FAIL > UNKNOWN > WARN > OK)."""
        return worst([f.verdict for f in self.findings])

    @property
    def problems(self) -> list[Finding]:
        """The findings that are not OK."""
        return [f for f in self.findings if f.verdict != Verdict.OK]


def _machine_findings(
    spec: AppSpec, machines: list[Machine] | None, error: str | None, out: AppHealth
) -> None:
    def add(verdict: Verdict, detail: str, check: str = "machines") -> None:
        out.findings.append(Finding(app=spec.name, check=check, verdict=verdict, detail=detail))

    if machines is None:
        add(Verdict.UNKNOWN, f"machines: could not read ({error or 'no data'})")
        return
    by_state = Counter(m.state for m in machines)
    out.machines_by_state = dict(by_state)
    out.machines_by_region = dict(Counter(m.region for m in machines))
    checks: Counter[str] = Counter()
    for m in machines:
        if m.state == "started":  # a stopped machine's check is stale (auto-stop), not a finding
            checks.update(m.check_counts())
    out.machine_checks = {k: checks.get(k, 0) for k in ("passing", "warning", "critical")}
    if not machines:
        add(Verdict.FAIL, "machines: none exist")
        return
    started = by_state.get("started", 0)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(by_state.items()))
    if started == 0 and spec.role == "web":
        add(Verdict.FAIL, f"machines: no started machine ({summary})")
    elif started == 0:
        add(Verdict.OK, f"machines: all idle, auto-stop ({summary})")
    else:
        add(Verdict.OK, f"machines: {summary}")
    if checks["critical"]:
        add(Verdict.FAIL, f"checks: {checks['critical']} critical", "machine_checks")
    elif checks["warning"]:
        add(Verdict.WARN, f"checks: {checks['warning']} warning", "machine_checks")


def _health_finding(spec: AppSpec, health: ProbeResult | None) -> Finding:
    def f(verdict: Verdict, detail: str) -> Finding:
        return Finding(app=spec.name, check="health", verdict=verdict, detail=detail)

    if health is None:
        return f(Verdict.UNKNOWN, f"health: {spec.health_path} not checked")
    if health.skipped:
        return f(Verdict.OK, f"health: {spec.health_path} not requested: {health.skipped}")
    if health.status is None:
        return f(Verdict.UNKNOWN, f"health: no answer ({health.error})")
    if health.status != health.expected_status:
        return f(
            Verdict.FAIL,
            f"health: {spec.health_path} answered {health.status} "
            f"(expected {health.expected_status})",
        )
    limit = spec.thresholds.response_ms
    if health.latency_ms is not None and health.latency_ms > limit:
        return f(Verdict.WARN, f"health: slow, {health.latency_ms:.0f} ms > {limit:.0f} ms")
    latency = f" in {health.latency_ms:.0f} ms" if health.latency_ms is not None else ""
    return f(Verdict.OK, f"health: {health.status}{latency}")


def _metric_findings(
    spec: AppSpec, metrics: AppMetrics | None, error: str | None, *, none_started: bool = False
) -> list[Finding]:
    def f(check: str, verdict: Verdict, detail: str) -> Finding:
        return Finding(app=spec.name, check=check, verdict=verdict, detail=detail)

    if metrics is None:
        return [f("metrics", Verdict.UNKNOWN, f"metrics: could not read ({error or 'no data'})")]
    t = spec.thresholds
    idle = metrics.no_traffic  # no requests: no latency or error ratio to judge
    out: list[Finding] = []

    def over(check: str, value: float | None, limit: float, unit: str) -> None:
        if value is None:
            if idle and check in ("p95", "error_rate"):
                out.append(f(check, Verdict.NO_TRAFFIC, f"{check}: no traffic in the window"))
            elif none_started and check in ("cpu", "memory"):
                out.append(f(check, Verdict.OK, f"{check}: no machine is started"))
            else:
                out.append(f(check, Verdict.UNKNOWN, f"{check}: no data"))
        elif value > limit:
            out.append(f(check, Verdict.WARN, f"{check}: {value:.1f}{unit} > {limit:.0f}{unit}"))
        else:
            out.append(f(check, Verdict.OK, f"{check}: {value:.1f}{unit}"))

    over("cpu", metrics.cpu_pct, t.cpu_pct, " %")
    over("memory", metrics.mem_pct, t.mem_pct, " %")
    over("p95", metrics.p95_ms, t.response_ms, " ms")
    rate = metrics.error_rate
    if rate is None:
        over("error_rate", None, 0.0, "")
    elif rate > t.error_rate_crit:
        out.append(
            f("error_rate", Verdict.FAIL, f"5xx: {rate:.1%} > {t.error_rate_crit:.0%} (critical)")
        )
    elif rate > t.error_rate_warn:
        out.append(f("error_rate", Verdict.WARN, f"5xx: {rate:.1%} > {t.error_rate_warn:.0%}"))
    else:
        out.append(f("error_rate", Verdict.OK, f"5xx: {rate:.2%}"))
    return out


def assess_app(
    spec: AppSpec,
    *,
    machines: list[Machine] | None,
    machines_error: str | None,
    health: ProbeResult | None,
    metrics: AppMetrics | None,
    metrics_error: str | None,
) -> AppHealth:
    """Judge one app from what could be read about it; missing data is UNKNOWN, never OK."""
    result = AppHealth(app=spec.name, role=spec.role, health=health, metrics=metrics)
    _machine_findings(spec, machines, machines_error, result)
    result.findings.append(_health_finding(spec, health))
    none_started = machines is not None and not any(m.state == "started" for m in machines)
    result.findings.extend(
        _metric_findings(spec, metrics, metrics_error, none_started=none_started)
    )
    return result


def assess_dependency(dep: Dependency, probe: ProbeResult) -> Finding:
    """An external dependency (runbook: `curl https://your-project.supabase.co/rest/v1/`)."""
    if probe.status is None:
        return Finding(
            app=dep.name,
            check="dependency",
            verdict=Verdict.UNKNOWN,
            detail=f"{dep.name}: no answer ({probe.error})",
        )
    if probe.status in dep.expected_status:
        return Finding(
            app=dep.name,
            check="dependency",
            verdict=Verdict.OK,
            detail=f"{dep.name}: {probe.status}",
        )
    expected = "/".join(str(s) for s in dep.expected_status)
    return Finding(
        app=dep.name,
        check="dependency",
        verdict=Verdict.FAIL,
        detail=f"{dep.name}: answered {probe.status} (expected {expected})",
    )


def overall(apps: list[AppHealth], deps: list[Finding]) -> Verdict:
    """The fleet's verdict: the worst app or dependency; UNKNOWN when nothing was checked."""
    return worst([a.verdict for a in apps] + [d.verdict for d in deps])
