"""The runbook's Manual Health Checks, as one report (Monitoring & Alerts / Manual Health Checks).

* All apps: the metrics dashboard, i.e. the monitor's rules on every app
  (hotdash_ops.monitor.alert_rules);
* Single app: `fly status` and `fly logs` for it: the same rules plus its recent error lines;
* Database: `curl https://<project>.supabase.co/rest/v1/` for the dependencies the apps use.

The verdict is "not healthy" when any rule fails or has no data, or a dependency is failing or
could not be checked; error log lines are shown, not judged (the monitor's 5xx rule judges).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from hotdash_ops.local_time import shown
from hotdash_ops.models import LogEntry
from hotdash_ops.monitor.alert_rules import AppEvaluation, RuleVerdict, summarise
from hotdash_ops.monitor.health import verdict_lines, verdict_of
from hotdash_ops.wording import counted

MAX_LINES_SHOWN = 10


class ManualCheck(BaseModel):
    """What a manual health check found."""

    evaluations: list[AppEvaluation]
    dependencies: list[RuleVerdict] = Field(default_factory=list)
    error_logs: dict[str, list[LogEntry] | str] = Field(default_factory=dict)
    checked_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    tz: str = "UTC"  # the inventory's timezone: the report's times are in it

    @property
    def healthy(self) -> bool:
        # "No traffic" is no failure; the summary names those apps (never "ok").
        verdicts = [v for e in self.evaluations for v in e.verdicts] + self.dependencies
        return all(not v.outcome.alerting for v in verdicts)

    def summary(self) -> str:
        return summarise(self.evaluations, self.dependencies)

    def error_cell(self, app: str) -> str:
        """The table cell: `3 error lines`, `none`, or `no data (...)`."""
        logs = self.error_logs.get(app)
        if logs is None:
            return "not read"
        if isinstance(logs, str):
            return f"no data ({logs})"
        if not logs:
            return "none"
        return counted(len(logs), "error line")


def render_details(check: ManualCheck) -> str:
    """Markdown: the dependencies and each app's last error lines."""
    lines = [
        *verdict_lines(
            "Manual health check",
            check.summary(),
            check.evaluations,
            check.dependencies,
            at=check.checked_at,
            tz=check.tz,
        ),
        "",
        "Every figure of every app: the `manual-health-check` table artifact of this run.",
        "",
        "## Database and dependencies",
        "",
    ]
    if not check.dependencies:
        lines.append("No dependency listed for the checked apps.")
    for dep in check.dependencies:
        lines.append(f"- **{verdict_of(dep).value}** {dep.detail}")
    lines += ["", "## Recent error lines (`fly logs | grep -i error`)", ""]
    for e in check.evaluations:
        logs = check.error_logs.get(e.app)
        lines.append(f"### {e.app}: {check.error_cell(e.app)}")
        if isinstance(logs, list) and logs:
            lines.append("")
            lines.append("```")
            for entry in logs[-MAX_LINES_SHOWN:]:
                when = shown(entry.timestamp, check.tz) if entry.timestamp else "?"
                lines.append(f"{when} [{entry.level or '?'}] {entry.message}")
            lines.append("```")
        lines.append("")
    return "\n".join(lines)
