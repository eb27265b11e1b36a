"""The Morning Health Check's report: what a person reads instead of the logs."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from hotdash_ops.models import LogEntry
from hotdash_ops.monitor.health import AppHealth, Finding, Verdict, worst

_ICON = {
    Verdict.OK: "ok",
    Verdict.NO_TRAFFIC: "no traffic",
    Verdict.WARN: "WARNING",
    Verdict.FAIL: "FAILING",
    Verdict.UNKNOWN: "UNKNOWN",
}


class HealthReport(BaseModel):
    """Everything one health check found, app by app."""

    checked_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    apps: list[AppHealth]
    dependencies: list[Finding]
    error_logs: dict[str, list[LogEntry] | str] = Field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return worst([a.verdict for a in self.apps] + [d.verdict for d in self.dependencies])

    def unhealthy(self) -> list[str]:
        """One phrase per failing or unknown thing: "hotdash-staging: /health answered 503"."""
        out = []
        for app in self.apps:
            for f in app.findings:
                if f.verdict in (Verdict.FAIL, Verdict.UNKNOWN):
                    out.append(f"{app.app}: {f.detail}")
        for dep in self.dependencies:
            if dep.verdict in (Verdict.FAIL, Verdict.UNKNOWN):
                out.append(f"{dep.app}: {dep.detail}")
        return out

    def warnings(self) -> list[str]:
        return [
            f"{a.app}: {f.detail}"
            for a in self.apps
            for f in a.findings
            if f.verdict == Verdict.WARN
        ]

    def summary(self) -> str:
        """The run's final message: the verdict and each problem by name."""
        bad = self.unhealthy()
        if bad:
            return f"{len(bad)} problem(s): " + "; ".join(bad)
        warn = self.warnings()
        quiet = [a.app for a in self.apps if a.verdict == Verdict.NO_TRAFFIC]
        if quiet:  # no traffic is not "healthy": said apart
            healthy = (
                f"{len(self.apps) - len(quiet)} of {len(self.apps)} apps and "
                f"{len(self.dependencies)} dependencies healthy, {len(quiet)} with no traffic "
                f"({', '.join(quiet)})"
            )
        else:
            healthy = f"all {len(self.apps)} apps and {len(self.dependencies)} dependencies healthy"
        return healthy + (f", {len(warn)} warning(s): " + "; ".join(warn) if warn else "")


def _fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "no data" if value is None else f"{value:.{digits}f}{unit}"


def _counts(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "unknown"
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"


def render_markdown(report: HealthReport) -> str:
    """A markdown page: verdict, one row per app, dependencies, problems, overnight errors."""
    lines = [
        f"# Morning health check: {_ICON[report.verdict]}",
        "",
        f"Checked {report.checked_at:%Y-%m-%d %H:%M} UTC. {report.summary()}",
        "",
        "| app | role | verdict | machines | regions | checks | /health | CPU | memory "
        "| p95 | 5xx | errors overnight |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a in report.apps:
        h = a.health
        if h is None:
            health = "not checked"
        elif h.status is None:
            health = f"unknown ({h.error or 'no answer'})"
        else:
            health = f"{h.status} in {_fmt(h.latency_ms, ' ms')}"
        m = a.metrics
        logs = report.error_logs.get(a.app)
        errors = "unknown" if isinstance(logs, str) or logs is None else str(len(logs))
        lines.append(
            f"| {a.app} | {a.role} | **{_ICON[a.verdict]}** | {_counts(a.machines_by_state)} "
            f"| {_counts(a.machines_by_region)} | {_counts(a.machine_checks)} | {health} "
            f"| {_fmt(m.cpu_pct if m else None, ' %')} | {_fmt(m.mem_pct if m else None, ' %')} "
            f"| {_fmt(m.p95_ms if m else None, ' ms')} "
            f"| {_fmt(m.error_rate * 100 if m and m.error_rate is not None else None, ' %', 2)} "
            f"| {errors} |"
        )
    if report.dependencies:
        lines += ["", "## Dependencies", "", "| dependency | verdict | detail |", "|---|---|---|"]
        lines += [f"| {d.app} | **{_ICON[d.verdict]}** | {d.detail} |" for d in report.dependencies]
    problems = [(a.app, f) for a in report.apps for f in a.findings if f.verdict != Verdict.OK]
    if problems:
        lines += ["", "## Findings", ""]
        lines += [f"- **{app}** {f.check}: {_ICON[f.verdict]}, {f.detail}" for app, f in problems]
    lines += ["", "## Overnight errors (last 50 per app)", ""]
    for app, logs in report.error_logs.items():
        if isinstance(logs, str):
            lines.append(f"- **{app}**: logs could not be read ({logs})")
        elif not logs:
            lines.append(f"- **{app}**: none")
        else:
            lines += [f"- **{app}**: {len(logs)} line(s)", "", "```"]
            lines += [f"{e.timestamp} {e.region or ''} {e.message}" for e in logs]
            lines += ["```", ""]
    return "\n".join(lines) + "\n"
