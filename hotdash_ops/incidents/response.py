"""Incident Response (runbook): severity, a first diagnosis from evidence, the recommended
action, and the guardrails on acting without a person. Pure: the flow reads, this decides.

Runbook mapping:

* Severity Levels: P0 respond immediately, P1 within 30 minutes, P2 within 2 hours
  (hotdash_ops.incidents.severity: the levels, and which one an alert's incident gets).
  While the decision waits, a response target that passes undecided escalates: P0 at once,
  P1 after 30 minutes, P2 after 2 hours (`escalate_after_minutes`).
* Identify & Assess: status, error logs, metrics, recent releases -> causes with evidence:
  a deploy in the last hours, traffic or CPU high, memory high, health failing, a dependency down.
* Contain & Mitigate, in the runbook's order: "if deployment-related, immediate rollback",
  "if traffic spike, scale up", "if memory leak, restart". Two choices the runbook leaves open:
  a dependency that is down is not fixed by changing the app, so the recommendation is none
  (tell people, watch the dependency); health failing with no deploy, memory or traffic cause
  gets a restart (the cheapest reset that keeps the release).

Guardrails (inventory `incident:`): a P0 may act on the recommendation without waiting only for
the apps the inventory names, at most `max_auto_actions_per_hour` automatic actions per app per
hour, and never within `cooldown_minutes` of the last change to the app. Otherwise a person
decides in the pause form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotdash_ops.audit import AuditRecord
from hotdash_ops.deploys.release_choice import rollback_target, running_image, running_version
from hotdash_ops.incidents.severity import RESPONSE_TARGETS as RESPONSE_TARGETS
from hotdash_ops.incidents.severity import RESPONSE_TEXT as RESPONSE_TEXT
from hotdash_ops.incidents.severity import Severity as Severity
from hotdash_ops.incidents.severity import SeverityMap
from hotdash_ops.incidents.severity import respond_by as respond_by
from hotdash_ops.inventory import Thresholds
from hotdash_ops.models import AppStatus, LogEntry, Release
from hotdash_ops.monitor.alert_rules import Outcome, RuleVerdict
from hotdash_ops.monitor.metrics import AppMetrics
from hotdash_ops.monitor.probe import ProbeResult
from hotdash_ops.validation import field_problems

# Audit actions this flow writes. `incident.action` marks a mitigation it ran.
AUDIT_OPENED = "incident.opened"
AUDIT_DECIDED = "incident.decided"
AUDIT_ACTION = "incident.action"
AUDIT_CLOSED = "incident.closed"
_BOOKKEEPING = (AUDIT_OPENED, AUDIT_DECIDED, AUDIT_CLOSED)


class Action(StrEnum):
    """What Contain & Mitigate can do."""

    ROLLBACK = "rollback"
    SCALE_UP = "scale_up"
    RESTART = "restart"
    NONE = "none"


ACTION_TEXT: dict[Action, str] = {
    Action.ROLLBACK: "roll back to the previous complete release (fly deploy --image <previous>)",
    Action.SCALE_UP: "scale up the machine count (fly scale count N)",
    Action.RESTART: "restart the app's machines (fly apps restart)",
    Action.NONE: "no change to the app (communicate and keep watching)",
}


class Cause(StrEnum):
    """What the first diagnosis can point at."""

    RECENT_DEPLOY = "recent_deploy"
    TRAFFIC_HIGH = "traffic_high"
    MEMORY_HIGH = "memory_high"
    HEALTH_FAILING = "health_failing"
    DEPENDENCY_DOWN = "dependency_down"


CAUSE_TEXT: dict[Cause, str] = {
    Cause.RECENT_DEPLOY: "deploy in the last hours",
    Cause.TRAFFIC_HIGH: "traffic or CPU high",
    Cause.MEMORY_HIGH: "memory high",
    Cause.HEALTH_FAILING: "health failing",
    Cause.DEPENDENCY_DOWN: "dependency down",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentPolicy(_Strict):
    """The inventory's `incident:` block."""

    # Apps whose P0 incidents act on the recommendation without waiting (true = every app).
    p0_auto_act: bool | list[str] = False
    max_auto_actions_per_hour: int = Field(default=2, ge=0)
    cooldown_minutes: float = Field(default=15.0, ge=0)
    recent_deploy_hours: float = Field(default=6.0, gt=0)  # "deploy in the last hours"
    scale_up_to: int = Field(default=3, ge=1)  # runbook: `fly scale count 3`
    rps_high: float | None = Field(default=None, gt=0)  # traffic spike; None = judge by CPU
    decision_timeout_hours: float = Field(default=4.0, gt=0)
    recovery_timeout_seconds: float = Field(default=120.0, ge=0)
    # Which severity an alert's incident gets (runbook Severity Levels).
    severity: SeverityMap = Field(default_factory=SeverityMap)
    # An undecided incident escalates (the escalation block) this long after it was detected:
    # the runbook's response targets.
    escalate_after_minutes: dict[Severity, float] = Field(
        default_factory=lambda: {s: RESPONSE_TARGETS[s].total_seconds() / 60 for s in Severity}
    )

    def escalate_at(self, severity: Severity, detected_at: datetime) -> datetime:
        """When an incident still undecided escalates (P0: at detection, i.e. at once)."""
        minutes = self.escalate_after_minutes.get(
            severity, RESPONSE_TARGETS[severity].total_seconds() / 60
        )
        return detected_at + timedelta(minutes=max(0.0, minutes))

    def p0_may_act(self, app: str) -> bool:
        """The inventory lets a P0 on `app` act without waiting for a person."""
        if isinstance(self.p0_auto_act, bool):
            return self.p0_auto_act
        return app in self.p0_auto_act


def incident_policy(raw: Mapping[str, Any] | None) -> IncidentPolicy:
    """Parse the inventory's `incident:` block; ValueError names the bad key."""
    try:
        return IncidentPolicy.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = field_problems(exc, "incident")
        raise ValueError(problems) from None


class IncidentFacts(BaseModel):
    """What Identify & Assess read about the app (None / an error text = could not read)."""

    app: str
    role: str = "web"
    thresholds: Thresholds
    now: datetime
    status: AppStatus | None = None  # `fly status --json`: version and machines
    status_error: str | None = None
    releases: list[Release] | None = None
    releases_error: str | None = None
    health: ProbeResult | None = None
    metrics: AppMetrics | None = None
    metrics_error: str | None = None
    error_logs: list[LogEntry] | None = None
    logs_error: str | None = None
    dependencies: list[RuleVerdict] = Field(default_factory=list)  # the `dependency` rule
    rolled_back_images: set[str] = Field(default_factory=set)  # images earlier rollbacks left


class Evidence(BaseModel):
    """One cause and the fact that shows it."""

    cause: Cause
    detail: str


class Diagnosis(BaseModel):
    """The first diagnosis and what to do about it."""

    evidence: list[Evidence]
    unknowns: list[str] = Field(default_factory=list)  # what could not be read
    recommended: Action
    rationale: str
    running_version: int | None = None
    rollback_version: int | None = None  # the release a rollback would redeploy
    scale_to: int | None = None  # the count a scale-up would set

    @property
    def causes(self) -> list[Cause]:
        """The causes found, without repeats, in the order found."""
        return list(dict.fromkeys(e.cause for e in self.evidence))

    def has(self, cause: Cause) -> bool:
        return cause in self.causes


def running_release(facts: IncidentFacts) -> Release | None:
    """The release the app runs (release_choice's rule), None when unknown."""
    releases = facts.releases or []
    version = running_version(releases, facts.status)
    return next((r for r in releases if r.version == version), None)


def rollback_release(facts: IncidentFacts, running: Release | None) -> Release | None:
    """What a rollback would redeploy (release_choice's rule), None when there is nothing."""
    if running is None:
        return None
    try:
        return rollback_target(
            facts.releases or [],
            current_version=running.version,
            current_image=running_image(facts.status),
            bad_images=facts.rolled_back_images,
        )
    except ValueError:
        return None


def scale_up_count(current: int, *, scale_up_to: int, max_count: int) -> int | None:
    """The count a scale-up sets: at least the runbook's `scale_up_to`, one more than now at
    least, never above `max_count`; None when the app cannot grow."""
    target = min(max_count, max(current + 1, scale_up_to))
    return target if target > current else None


def _ago(now: datetime, then: datetime) -> str:
    minutes = max(0.0, (now - then).total_seconds() / 60)
    if minutes < 90:
        return f"{minutes:.0f} min ago"
    return f"{minutes / 60:.1f} h ago"


def _evidence(facts: IncidentFacts, policy: IncidentPolicy) -> tuple[list[Evidence], list[str]]:
    ev: list[Evidence] = []
    unknowns: list[str] = []
    t = facts.thresholds

    # A deploy in the last hours.
    if facts.releases is None:
        unknowns.append(f"releases: could not read ({facts.releases_error or 'no data'})")
    else:
        running = running_release(facts)
        window = timedelta(hours=policy.recent_deploy_hours)
        if running is not None and facts.now - running.created_at <= window:
            who = f" by {running.user_email}" if running.user_email else ""
            ev.append(
                Evidence(
                    cause=Cause.RECENT_DEPLOY,
                    detail=f"release v{running.version} ({running.image_ref or 'image unknown'}) "
                    f"deployed {_ago(facts.now, running.created_at)}{who}",
                )
            )

    # Health: the app's own /health, the machines' checks, started machines, 5xx ratio.
    health = facts.health
    if health is None:
        unknowns.append("health: not checked")
    elif health.status is None:
        ev.append(
            Evidence(cause=Cause.HEALTH_FAILING, detail=f"health: no answer ({health.error})")
        )
    elif health.status != health.expected_status:
        ev.append(
            Evidence(
                cause=Cause.HEALTH_FAILING,
                detail=f"health: {health.url} answered {health.status} "
                f"(expected {health.expected_status})",
            )
        )
    if facts.status is None:
        unknowns.append(f"status: could not read ({facts.status_error or 'no data'})")
    else:
        machines = facts.status.machines
        critical = [m.id for m in machines if m.check_counts()["critical"]]
        if critical:
            ev.append(
                Evidence(
                    cause=Cause.HEALTH_FAILING,
                    detail=f"machine checks critical on {len(critical)} of "
                    f"{len(machines)} machine(s): {', '.join(critical)}",
                )
            )
        started = sum(1 for m in machines if m.state == "started")
        if facts.role == "web" and machines and started == 0:
            ev.append(Evidence(cause=Cause.HEALTH_FAILING, detail="no started machine"))

    m = facts.metrics
    if m is None:
        unknowns.append(f"metrics: could not read ({facts.metrics_error or 'no data'})")
    else:
        if m.error_rate is not None and m.error_rate > t.error_rate_crit:
            ev.append(
                Evidence(
                    cause=Cause.HEALTH_FAILING,
                    detail=f"5xx ratio {m.error_rate:.1%} > {t.error_rate_crit:.0%}",
                )
            )
        if m.mem_pct is not None and m.mem_pct > t.mem_pct:
            peak = m.peaks.get("mem_pct")
            extra = f", peak {peak:.0f} %" if peak is not None else ""
            ev.append(
                Evidence(
                    cause=Cause.MEMORY_HIGH,
                    detail=f"memory {m.mem_pct:.0f} % > {t.mem_pct:.0f} %{extra}",
                )
            )
        if m.cpu_pct is not None and m.cpu_pct > t.cpu_pct:
            rps = f" at {m.rps:.1f} req/s" if m.rps is not None else ""
            ev.append(
                Evidence(
                    cause=Cause.TRAFFIC_HIGH,
                    detail=f"CPU {m.cpu_pct:.0f} % > {t.cpu_pct:.0f} %{rps}",
                )
            )
        if policy.rps_high is not None and m.rps is not None and m.rps > policy.rps_high:
            ev.append(
                Evidence(
                    cause=Cause.TRAFFIC_HIGH,
                    detail=f"traffic {m.rps:.1f} req/s > {policy.rps_high:g} req/s",
                )
            )
        for name, value in (("cpu", m.cpu_pct), ("memory", m.mem_pct)):
            if value is None:
                unknowns.append(f"{name}: no data")

    for dep in facts.dependencies:
        if dep.outcome == Outcome.FAIL:
            ev.append(Evidence(cause=Cause.DEPENDENCY_DOWN, detail=dep.detail))
        elif dep.outcome == Outcome.NO_DATA:
            unknowns.append(dep.detail)

    if facts.error_logs is None:
        unknowns.append(f"error logs: could not read ({facts.logs_error or 'no data'})")
    return ev, unknowns


def diagnose(facts: IncidentFacts, policy: IncidentPolicy, *, max_count: int) -> Diagnosis:
    """The first diagnosis with its evidence and the recommended action (runbook order)."""
    evidence, unknowns = _evidence(facts, policy)
    causes = {e.cause for e in evidence}
    running = running_release(facts)
    target = rollback_release(facts, running)
    current = len(facts.status.machines) if facts.status is not None else None
    scale_to = (
        scale_up_count(current, scale_up_to=policy.scale_up_to, max_count=max_count)
        if current is not None
        else None
    )
    symptoms = causes & {Cause.HEALTH_FAILING, Cause.MEMORY_HIGH, Cause.TRAFFIC_HIGH}

    def result(action: Action, rationale: str) -> Diagnosis:
        return Diagnosis(
            evidence=evidence,
            unknowns=unknowns,
            recommended=action,
            rationale=rationale,
            running_version=running.version if running else None,
            rollback_version=target.version if target else None,
            scale_to=scale_to,
        )

    notes: list[str] = []
    if Cause.DEPENDENCY_DOWN in causes:
        return result(
            Action.NONE,
            "a dependency is down: rolling back, restarting or scaling the app would not bring "
            "it back; tell people and follow the dependency's status",
        )
    if Cause.RECENT_DEPLOY in causes and symptoms:
        if target is not None:
            return result(
                Action.ROLLBACK,
                f"deployment-related: the running release v{running.version if running else '?'} "
                f"is recent and the app shows {', '.join(CAUSE_TEXT[c] for c in sorted(symptoms))}"
                f"; the runbook rolls back at once (to v{target.version})",
            )
        notes.append("a rollback is not possible: no complete release older than the running one")
    if Cause.MEMORY_HIGH in causes:
        return result(Action.RESTART, "; ".join([*notes, "memory high: the runbook restarts"]))
    if Cause.TRAFFIC_HIGH in causes:
        if scale_to is not None:
            return result(
                Action.SCALE_UP,
                "; ".join([*notes, f"traffic or CPU high: the runbook scales up (to {scale_to})"]),
            )
        notes.append(f"cannot scale up: already at the maximum of {max_count} machines")
    if Cause.HEALTH_FAILING in causes:
        return result(
            Action.RESTART,
            "; ".join(
                [*notes, "health failing with no deploy, memory or traffic cause: restart first"]
            ),
        )
    if Cause.RECENT_DEPLOY in causes:
        notes.append("a deploy is recent but no symptom was measured")
    return result(
        Action.NONE, "; ".join([*notes, "no cause found that a change to the app would fix"])
    )


class PastAction(BaseModel):
    """A change to the app found in the audit log."""

    at: datetime
    action: str
    automatic: bool = False


def action_history(records: Iterable[AuditRecord], app: str) -> list[PastAction]:
    """Changes to `app` from the audit log: every record but the incident bookkeeping ones;
    an incident's own mitigation is `incident.action` with `detail.automatic`."""
    out = []
    for record in records:
        if record.target != app or record.action in _BOOKKEEPING:
            continue
        at = datetime.fromisoformat(record.ts)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        automatic = record.action == AUDIT_ACTION and bool(record.detail.get("automatic"))
        out.append(PastAction(at=at, action=record.action, automatic=automatic))
    return out


class AutoVerdict(BaseModel):
    """Whether the flow may act without waiting for a person, and why (or why not)."""

    act: bool
    reason: str


def check_guardrails(
    app: str, history: list[PastAction], *, now: datetime, policy: IncidentPolicy
) -> AutoVerdict:
    """At most `max_auto_actions_per_hour` automatic actions, none within the cool-down."""
    hour_ago = now - timedelta(hours=1)
    automatic = [p for p in history if p.automatic and p.at > hour_ago]
    if len(automatic) >= policy.max_auto_actions_per_hour:
        return AutoVerdict(
            act=False,
            reason=f"{len(automatic)} automatic action(s) on {app} in the last hour "
            f"(limit {policy.max_auto_actions_per_hour}, incident.max_auto_actions_per_hour): "
            "a person decides",
        )
    cooldown = timedelta(minutes=policy.cooldown_minutes)
    recent = [p for p in history if p.at > now - cooldown]
    if recent:
        last = max(recent, key=lambda p: p.at)
        return AutoVerdict(
            act=False,
            reason=f"cool-down: {app} was changed ({last.action}) {_ago(now, last.at)}, within "
            f"the {policy.cooldown_minutes:g} min cool-down (incident.cooldown_minutes): "
            "a person decides",
        )
    return AutoVerdict(act=True, reason="within the guardrails")


def automatic_decision(
    app: str,
    severity: Severity,
    diagnosis: Diagnosis,
    *,
    history: list[PastAction],
    now: datetime,
    policy: IncidentPolicy,
) -> AutoVerdict:
    """A P0 acts on the recommendation without waiting when the inventory allows it for the app
    and the guardrails hold; anything else waits for a person."""
    if severity != Severity.P0:
        return AutoVerdict(
            act=False, reason=f"{severity}: a person decides (only P0 may act alone)"
        )
    if not policy.p0_may_act(app):
        return AutoVerdict(
            act=False,
            reason=f"the inventory does not let a P0 on {app} act without waiting "
            "(incident.p0_auto_act): a person decides",
        )
    if diagnosis.recommended == Action.NONE:
        return AutoVerdict(act=False, reason="no action is recommended: a person decides")
    return check_guardrails(app, history, now=now, policy=policy)


class Decision(BaseModel):
    """What was chosen, by whom, when."""

    action: Action
    decided_by: str
    automatic: bool
    at: datetime
    comment: str = ""


def status_after(recovered: bool | None) -> tuple[str, Literal["monitoring", "identified"]]:
    """How the incident stands after Contain & Mitigate, in words and as a status-page state
    (recovered: monitoring; not recovered or nothing done: identified, still investigating)."""
    if recovered:
        return "mitigated, the app has recovered", "monitoring"
    if recovered is False:
        return "NOT recovered, still investigating", "identified"
    return "no change made, still investigating", "identified"


class ActionOutcome(BaseModel):
    """What running the chosen action did."""

    action: Action
    ok: bool
    detail: str
    started_at: datetime
    finished_at: datetime


def _metric_rows(metrics: AppMetrics | None) -> list[str]:
    if metrics is None:
        return ["| metrics | could not read |"]
    fmt = {
        "cpu_pct": ("CPU", "{:.0f} %"),
        "mem_pct": ("memory", "{:.0f} %"),
        "p95_ms": ("p95", "{:.0f} ms"),
        "error_rate": ("5xx ratio", "{:.1%}"),
        "rps": ("requests", "{:.1f}/s"),
    }
    rows = []
    for key, (label, pattern) in fmt.items():
        value = getattr(metrics, key)
        rows.append(f"| {label} | {'no data' if value is None else pattern.format(value)} |")
    return rows


def render_assessment(
    *,
    app: str,
    severity: Severity,
    summary: str,
    reported_by: str,
    detected_at: datetime,
    facts: IncidentFacts,
    diagnosis: Diagnosis,
) -> str:
    """Identify & Assess as a person reads it; also the text above the decision form."""
    lines = [
        f"# Incident on {app}: {severity} (respond {RESPONSE_TEXT[severity]})",
        "",
        f"**{summary or 'no summary given'}**, reported by {reported_by} at "
        f"{detected_at:%Y-%m-%d %H:%M} UTC (respond by {respond_by(severity, detected_at):%H:%M}"
        " UTC).",
        "",
        "## Diagnosis",
        "",
    ]
    if diagnosis.evidence:
        lines += [f"- **{CAUSE_TEXT[e.cause]}**: {e.detail}" for e in diagnosis.evidence]
    else:
        lines.append("- no cause found in status, health, metrics, releases or dependencies")
    if diagnosis.unknowns:
        lines += ["", "Could not check: " + "; ".join(diagnosis.unknowns)]
    lines += [
        "",
        f"## Recommended: `{diagnosis.recommended.value}`",
        "",
        f"{ACTION_TEXT[diagnosis.recommended]}. Why: {diagnosis.rationale}.",
        "",
        "| metric (last window) | value |",
        "| --- | --- |",
        *_metric_rows(facts.metrics),
    ]
    if facts.releases:
        lines += ["", "| release | status | created | image |", "| --- | --- | --- | --- |"]
        for r in sorted(facts.releases, key=lambda r: r.version, reverse=True)[:5]:
            mark = " (running)" if r.version == diagnosis.running_version else ""
            lines.append(
                f"| v{r.version}{mark} | {r.status} | {_ago(facts.now, r.created_at)} | "
                f"{r.image_ref or ''} |"
            )
    if facts.error_logs:
        lines += ["", "Recent error logs:", "", "```"]
        lines += [f"{e.timestamp:%H:%M:%S} {e.message}" if e.timestamp else e.message
                  for e in facts.error_logs[-10:]]  # fmt: skip
        lines.append("```")
    return "\n".join(lines) + "\n"
