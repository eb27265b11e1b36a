"""The Morning Health Check's report: what a person reads instead of the logs.

The apps and dependencies are judged by the monitor's rules (hotdash_ops.monitor.alert_rules,
named for people by hotdash_ops.monitor.health); the night's peaks, alerts and error lines
(hotdash_ops.monitor.overnight) follow. One verdict line first, a short table of what is wrong,
then every app's figures; times in the inventory's timezone, named.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from pydantic import BaseModel, ConfigDict, Field

from hotdash_ops.inventory import AppSpec
from hotdash_ops.local_time import shown
from hotdash_ops.monitor.alert_rules import AppEvaluation, RuleVerdict
from hotdash_ops.monitor.health import (
    WORD,
    Verdict,
    app_verdict,
    overall,
    verdict_lines,
    verdict_of,
)
from hotdash_ops.monitor.overnight import ErrorReview, NightReview, peak_checks
from hotdash_ops.wording import counted


class HealthReport(BaseModel):
    """Everything one morning check found."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    checked_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    specs: list[AppSpec]
    evaluations: list[AppEvaluation]
    dependencies: list[RuleVerdict]
    night: NightReview | None = None
    tz: tzinfo = UTC

    @property
    def verdict(self) -> Verdict:
        return overall(self.evaluations, self.dependencies)

    def _rules(self) -> list[RuleVerdict]:
        return [v for e in self.evaluations for v in e.verdicts] + self.dependencies

    def unhealthy(self) -> list[str]:
        """One phrase per failing or unknown thing: "hotdash-staging: health: /health
        answered 503 (expected 200)"."""
        return [
            f"{v.app}: {v.detail}"
            for v in self._rules()
            if verdict_of(v) in (Verdict.FAIL, Verdict.UNKNOWN)
        ]

    def warnings(self) -> list[str]:
        return [f"{v.app}: {v.detail}" for v in self._rules() if verdict_of(v) == Verdict.WARN]

    def summary(self) -> str:
        """The run's final message: the verdict and each problem by name."""
        bad = self.unhealthy()
        if bad:
            return f"{len(bad)} problem(s): " + "; ".join(bad)
        warn = self.warnings()
        apps = len(self.evaluations)
        quiet = [e.app for e in self.evaluations if app_verdict(e) == Verdict.NO_TRAFFIC]
        if quiet:  # no traffic is not "healthy": said apart
            healthy = (
                f"{apps - len(quiet)} of {counted(apps, 'app')} and "
                f"{counted(len(self.dependencies), 'dependency', 'dependencies')} healthy, "
                f"{len(quiet)} with no traffic ({', '.join(quiet)})"
            )
        else:
            deps = counted(len(self.dependencies), "dependency", "dependencies")
            healthy = f"{'all ' if apps > 1 else ''}{counted(apps, 'app')} and {deps} healthy"
        return healthy + (f", {len(warn)} warning(s): " + "; ".join(warn) if warn else "")

    def local(self, at: datetime) -> str:
        return shown(at, self.tz)


def _fmt(value: float | None, unit: str = "", digits: int = 0, *, quiet: bool = False) -> str:
    """A figure; a missing one is "no traffic" when there were no requests to measure
    (`quiet`, a p95 or 5xx share), else "no data"."""
    if value is None:
        return "no traffic" if quiet else "no data"
    return f"{value:.{digits}f}{unit}"


def _counts(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "unknown"
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"


def _errors_cell(night: NightReview | None, app: str) -> str:
    review = night.errors.get(app) if night else None
    if review is None:
        return "not read"
    if isinstance(review, str):
        return "unknown"
    return str(review.error_count) + ("+" if not review.complete else "")


def _app_rows(report: HealthReport) -> list[str]:
    # The figures people compare first, then the machines (wide cells last).
    lines = [
        "| app | verdict | /health | CPU | memory | p95 | 5xx | errors overnight | machines "
        "| checks p/w/c | regions | role |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in report.evaluations:
        f = e.figures
        if f.health_skipped:
            health = f"not requested ({f.health_skipped})"
        elif f.health_status is None:
            health = f"no answer ({f.health_error or 'not checked'})"
        else:
            health = f"{f.health_status} in {_fmt(f.health_latency_ms, ' ms')}"
        checks = (
            "{passing}/{warning}/{critical}".format(**f.machine_checks)
            if f.machine_checks is not None
            else "unknown"
        )
        rate = None if f.error_rate is None else f.error_rate * 100
        lines.append(
            f"| {e.app} | **{WORD[app_verdict(e)]}** | {health} "
            f"| {_fmt(f.cpu_pct, ' %')} | {_fmt(f.mem_pct, ' %')} "
            f"| {_fmt(f.p95_ms, ' ms', quiet=f.no_traffic)} "
            f"| {_fmt(rate, ' %', 2, quiet=f.no_traffic)} | {_errors_cell(report.night, e.app)} "
            f"| {_counts(f.machines_by_state)} | {checks} | {_counts(f.machines_by_region)} "
            f"| {f.role} |"
        )
    return lines


def _night_sections(report: HealthReport, night: NightReview) -> list[str]:
    span = f"{report.local(night.start)} to {report.local(night.end)}"
    lines = ["", f"## Overnight peaks ({span})", ""]
    if night.peaks_errors:
        lines.append(
            "Could not read: "
            + "; ".join(f"{k}: {v}" for k, v in sorted(night.peaks_errors.items()))
        )
        lines.append("")
    lines += [
        "| app | CPU peak | memory peak | p95 peak | 5xx peak | over threshold |",
        "|---|---|---|---|---|---|",
    ]
    for spec in report.specs:
        m = night.peaks.get(spec.name)
        peaks = m.peaks if m else {}
        over = [f"{c.figure} > {c.limit:g}" for c in peak_checks(spec, m) if c.over]
        rate = peaks.get("error_rate")
        quiet = m is not None and m.no_traffic
        lines.append(
            f"| {spec.name} | {_fmt(peaks.get('cpu_pct'), ' %', 1)} "
            f"| {_fmt(peaks.get('mem_pct'), ' %', 1)} "
            f"| {_fmt(peaks.get('p95_ms'), ' ms', quiet=quiet)} "
            f"| {_fmt(None if rate is None else rate * 100, ' %', 2, quiet=quiet)} "
            f"| {', '.join(over) or 'none'} |"
        )

    lines += ["", f"## Overnight alerts ({len(night.alerts)} change(s))", ""]
    if night.alerts:
        lines += ["| time | app | alert | change | detail |", "|---|---|---|---|---|"]
        for c in night.alerts:
            what = "no data" if c.condition == "no_data" else c.severity.value
            silenced = " (silenced)" if c.silenced_until else ""
            lines.append(
                f"| {report.local(c.at)} | {c.app} | {c.rule.value} ({what}) "
                f"| {c.change.value}{silenced} | {c.detail} |"
            )
    else:
        lines.append("No alert fired or resolved overnight.")
    if night.history_unreadable:
        lines.append(f"({night.history_unreadable} unreadable line(s) in the alert history.)")
    if night.still_firing:
        lines += ["", "Still firing now:", ""]
        lines += [
            f"- **{a.app}** {a.label(report.tz)}, since {report.local(a.since)}: {a.detail}"
            for a in night.still_firing
        ]

    lines += ["", "## Overnight errors (`fly logs | grep -i error`)", ""]
    for app, review in night.errors.items():
        if isinstance(review, str):
            lines.append(f"- **{app}**: logs could not be read ({review})")
            continue
        lines.append(f"- **{app}**: {review.describe(night.max_pages)}")
        lines += _error_block(review, report.tz)
    return lines


def _error_block(review: ErrorReview, tz: tzinfo) -> list[str]:
    if not review.lines:
        return []
    out = ["", "```"]
    for e in review.lines:
        when = e.timestamp.astimezone(tz).strftime("%m-%d %H:%M:%S %Z") if e.timestamp else "?"
        out.append(f"{when} {e.region or ''} {e.message}")
    return [*out, "```", ""]


def render_markdown(report: HealthReport) -> str:
    """A markdown page: the verdict in one line, a short table of what is wrong, then every
    app's figures, the dependencies, and the night."""
    lines = [
        *verdict_lines(
            "Morning health check",
            report.summary(),
            report.evaluations,
            report.dependencies,
            at=report.checked_at,
            tz=report.tz,
        ),
        "",
        "## Every app now",
        "",
        *_app_rows(report),
    ]
    if report.dependencies:
        lines += ["", "## Dependencies", "", "| dependency | verdict | detail |", "|---|---|---|"]
        lines += [
            f"| {d.app} | **{WORD[verdict_of(d)]}** | {d.detail} |" for d in report.dependencies
        ]
    if report.night is not None:
        lines += _night_sections(report, report.night)
    return "\n".join(lines) + "\n"
