"""One incident as the response goes, pure: what was reported, each step and when, and the texts
people receive (runbook Incident Response: Communicate; Investigate Root Cause).

The flow fills it in step by step (assessed, decided, acted, recovered); `tasks/incidents.py`
writes it to the audit log, notifications, the status page, the incident log and the
post-mortem draft. No I/O and no clock: every time is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from hotdash_ops.audit import AuditRecord
from hotdash_ops.incidents.log import IncidentLogEntry
from hotdash_ops.incidents.postmortem import PostMortem, Step, TimelineEntry, build_timeline
from hotdash_ops.incidents.response import (
    ACTION_TEXT,
    CAUSE_TEXT,
    RESPONSE_TEXT,
    Action,
    ActionOutcome,
    AutoVerdict,
    Decision,
    Diagnosis,
    Severity,
    status_after,
)
from hotdash_ops.monitor.metrics import AppMetrics

Notice = tuple[str, str]  # (subject, body)


def escalation_notice(
    *, app: str, severity: Severity, summary: str, incident: str, run_url: str | None, why: str
) -> Notice:
    """To the escalation block: an incident that needs a person now (runbook Severity Levels:
    P0 at once, P1 and P2 when their response target passes undecided)."""
    return (
        f"[{severity}] ESCALATED {app}: {summary}",
        f"{why}.\nIncident {incident} on {app} ({severity}, respond {RESPONSE_TEXT[severity]})"
        f": {summary}\nDecide now: resume the run {run_url or incident}",
    )


class IncidentRecord(BaseModel):
    """An incident: the report, the run's steps, and what each step found or did."""

    incident: str  # the flow run's name (the incident log's and the audit log's key)
    app: str
    severity: Severity
    summary: str
    reported_by: str
    detected_at: datetime
    run_url: str | None = None
    steps: list[TimelineEntry] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None
    metrics_before: AppMetrics | None = None
    decision: Decision | None = None
    outcome: ActionOutcome | None = None
    recovered: bool | None = None  # None: nothing was done that could recover it
    metrics_after: AppMetrics | None = None

    def step(self, step: Step, detail: str, at: datetime) -> None:
        """Add a step of the run to the timeline."""
        self.steps.append(TimelineEntry(at=at, step=step, detail=detail))

    def detected(self) -> None:
        """Identify: the report (at the detection time)."""
        detail = f"{self.severity} reported by {self.reported_by}: {self.summary}"
        self.step(Step.DETECTED, detail, self.detected_at)

    def assessed(self, diagnosis: Diagnosis, metrics: AppMetrics | None, at: datetime) -> None:
        """Assess: the first diagnosis and the metrics it saw."""
        self.diagnosis, self.metrics_before = diagnosis, metrics
        self.step(Step.ASSESSED, f"{self.causes}; recommended {diagnosis.recommended.value}", at)

    def decided(self, decision: Decision) -> None:
        """Contain & Mitigate: what was chosen, by whom."""
        self.decision = decision
        detail = f"{decision.action.value} by {decision.decided_by}"
        if decision.comment:
            detail += f": {decision.comment}"
        self.step(Step.DECIDED, detail, decision.at)

    def acted(self, outcome: ActionOutcome) -> None:
        """Contain & Mitigate: what running the action did."""
        self.outcome = outcome
        prefix = "" if outcome.ok else "FAILED: "
        self.step(Step.ACTED, prefix + outcome.detail, outcome.finished_at)

    def watched(self, recovered: bool, health: str, at: datetime) -> None:
        """Contain & Mitigate: whether /health recovered afterwards."""
        self.recovered = recovered
        self.step(Step.RECOVERED if recovered else Step.NOT_RECOVERED, health, at)

    # -- what people read ------------------------------------------------------------------

    def assessed_diagnosis(self) -> Diagnosis:
        """The diagnosis; ValueError before Identify & Assess."""
        if self.diagnosis is None:
            raise ValueError("diagnosis: the incident was not assessed")
        return self.diagnosis

    @property
    def causes(self) -> str:
        """The diagnosis' causes in words: "deploy in the last hours, health failing"."""
        causes = self.diagnosis.causes if self.diagnosis else []
        return ", ".join(CAUSE_TEXT[c] for c in causes) or "no cause found"

    @property
    def recommended(self) -> Action:
        return self.diagnosis.recommended if self.diagnosis else Action.NONE

    @property
    def state_text(self) -> str:
        """How the incident stands: "mitigated, the app has recovered", ..."""
        return status_after(self.recovered)[0]

    @property
    def page_status(self) -> Literal["monitoring", "identified"]:
        """The status page's state after Contain & Mitigate."""
        return status_after(self.recovered)[1]

    @property
    def action_text(self) -> str:
        """What was done: the outcome's detail, or what the chosen action means."""
        if self.outcome is not None:
            return self.outcome.detail
        return ACTION_TEXT[self.decision.action if self.decision else Action.NONE]

    @property
    def decided_by(self) -> str:
        return self.decision.decided_by if self.decision else ""

    @property
    def ended_well(self) -> bool:
        """False when the action failed or the app did not recover."""
        return self.recovered is not False and (self.outcome is None or self.outcome.ok)

    def result(self) -> str:
        """The run's message: "hotdash-staging: rollback by bob; mitigated, ..."."""
        action = self.decision.action.value if self.decision else Action.NONE.value
        return f"{self.app}: {action} by {self.decided_by}; {self.state_text}"

    def opened_notice(self, auto: AutoVerdict) -> Notice:
        """To the incident channel when the response starts: the diagnosis and who decides."""
        recommended = self.recommended.value
        rationale = self.diagnosis.rationale if self.diagnosis else ""
        next_step = (
            f"acting now: {recommended} ({auto.reason})"
            if auto.act
            else f"DECISION NEEDED ({auto.reason}): resume the run {self.run_url or self.incident}"
        )
        return (
            f"[{self.severity}] {self.app}: incident opened ({self.incident})",
            f"{self.summary} (reported by {self.reported_by}; respond "
            f"{RESPONSE_TEXT[self.severity]})\nDiagnosis: {self.causes}\n"
            f"Recommended: {recommended}: {rationale}\nNext: {next_step}",
        )

    def undecided_notice(self, timeout_hours: float) -> Notice:
        """Nobody decided in time."""
        return (
            f"[{self.severity}] {self.app}: no decision on incident {self.incident}",
            f"Nobody decided within {timeout_hours:g} h; nothing was done to {self.app}.",
        )

    def escalation(self, why: str) -> Notice:
        """This incident to the escalation block."""
        return escalation_notice(
            app=self.app,
            severity=self.severity,
            summary=self.summary,
            incident=self.incident,
            run_url=self.run_url,
            why=why,
        )

    def closing_notices(self) -> list[Notice]:
        """Communicate, after Contain & Mitigate: stakeholders, then the incident channel."""
        action = self.decision.action.value if self.decision else Action.NONE.value
        return [
            (
                f"[{self.severity}] {self.app}: {self.state_text}",
                f"{self.summary}\nAction: {self.action_text} (decided by {self.decided_by})",
            ),
            (
                f"[{self.severity}] {self.app}: incident {self.incident} update",
                f"Diagnosis: {self.causes}\nDecision: {action} by {self.decided_by}\n"
                f"Outcome: {self.action_text}\nRecovered: {self.recovered}\n"
                f"Post-mortem draft: artifact postmortem-{self.app}",
            ),
        ]

    def log_entry(self) -> IncidentLogEntry:
        """The incident log's entry."""
        action = self.decision.action.value if self.decision else Action.NONE.value
        return IncidentLogEntry(
            at=self.detected_at,
            incident=self.incident,
            app=self.app,
            severity=self.severity.value,
            summary=self.summary,
            reported_by=self.reported_by,
            diagnosis=f"{self.causes}; recommended {self.recommended.value}",
            action=action + ("" if self.outcome is None else f": {self.outcome.detail}"),
            decided_by=self.decided_by,
            outcome=self.state_text,
            recovered={True: "yes", False: "no", None: "n/a"}[self.recovered],
            run_url=self.run_url,
        )

    def postmortem(self, records: Iterable[AuditRecord]) -> PostMortem:
        """The post-mortem draft: the run's steps merged with the audit log's records."""
        return PostMortem(
            incident=self.incident,
            app=self.app,
            severity=self.severity,
            summary=self.summary,
            reported_by=self.reported_by,
            detected_at=self.detected_at,
            diagnosis=self.assessed_diagnosis(),
            decision=self.decision,
            outcome=self.outcome,
            recovered=self.recovered,
            metrics_before=self.metrics_before,
            metrics_after=self.metrics_after,
            timeline=build_timeline(self.steps, records, self.app, since=self.detected_at),
        )
