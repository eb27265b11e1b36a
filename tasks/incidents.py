"""Incident Response's bookkeeping (runbook: Communicate, Investigate Root Cause): the audit
log's `incident.*` records, the assessment and post-mortem artifacts, notifications, the
status page and the incident log, all written from the run's `IncidentRecord`
(hotdash_ops.incidents.record). The rule of one open incident per app, and the response
targets: escalation (P0 at once, P1 and P2 by a timer run) and the decision deadline.

Everything up to the decision runs once per incident even though a suspended run replays from
the top when it resumes: those tasks are `replay_safe` (persisted, cached per flow run) where
the flow calls them.

Nothing here decides what to do about an incident (hotdash_ops.incidents.response does), and
nothing here can fail the response: notifications go through `tasks.announce.tell`, the
status page through `post_status`; both log a delivery failure and carry on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect import get_client, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.runtime import flow_run
from pydantic import BaseModel

from hotdash_ops.incidents.log import append_entry, incident_log_path
from hotdash_ops.incidents.postmortem import render_postmortem
from hotdash_ops.incidents.record import IncidentRecord, escalation_notice
from hotdash_ops.incidents.response import (
    AUDIT_ACTION,
    AUDIT_CLOSED,
    AUDIT_DECIDED,
    AUDIT_OPENED,
    ActionOutcome,
    AutoVerdict,
    Decision,
    Diagnosis,
    IncidentFacts,
    IncidentPolicy,
    Severity,
    action_history,
    automatic_decision,
    render_assessment,
)
from hotdash_ops.monitor.metrics import AppMetrics
from tasks import fly_access
from tasks.announce import escalate, run_url, tell
from tasks.audit import audit, audit_log
from tasks.deadline_timer import (
    cancel_timer,
    schedule_timer,
    state_name,
    still_waiting,
    wait_until,
    wake,
)
from tasks.fleet_reads import read_metrics
from tasks.incident_decision import DEADLINE_ANSWER, DEADLINE_FLOW
from tasks.reports import publish_markdown
from tasks.status_page import PageStatus, update_status_page

FLOW_NAME = "incident-response"
_OPEN_STATES = [StateType.RUNNING, StateType.PENDING, StateType.PAUSED]


def now() -> datetime:
    return datetime.now(UTC)


def _detected_at() -> datetime:
    # The run's scheduled start is when it was created: when the alert fired or a person filed it.
    try:
        return datetime.fromtimestamp(flow_run.get_scheduled_start_time().timestamp(), UTC)
    except Exception:  # outside a deployment run the runtime may not know it
        return now()


def _audit(
    incident: IncidentRecord, audit_action: str, /, *, actor: str, reason: str, **detail: object
) -> None:
    """An `incident.*` record for the app in the audit log, keyed by the incident (positional
    parameters, so `detail` may have an `action` key)."""
    audit(
        actor=actor,
        action=audit_action,
        target=incident.app,
        detail={"incident": incident.incident, **detail},
        reason=reason,
    )


class OpenIncident(BaseModel):
    """An incident-response run of the app that is still open."""

    name: str
    severity: Severity
    url: str


@task(name="find-open-incident", cache_policy=NO_CACHE)
async def find_open_incident(app: str) -> OpenIncident | None:
    """An earlier incident-response run for `app` that is still open (running, pending or
    paused), if any: an alert firing again must not start a second response."""
    my_id = flow_run.get_id()
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=_OPEN_STATES))
            ),
        )
        me = await client.read_flow_run(UUID(my_id)) if my_id else None
    mine = (me.created, str(me.id)) if me is not None and me.created else (now(), my_id or "")
    for run in runs:
        if str(run.id) == my_id or run.parameters.get("app") != app or run.created is None:
            continue
        # The earliest open run handles the incident; ties go to the smaller id.
        if (run.created, str(run.id)) < mine:
            severity = Severity(run.parameters.get("severity", Severity.P2))
            return OpenIncident(name=run.name, severity=severity, url=run_url(run.id))
    return None


def more_urgent(a: Severity, b: Severity) -> bool:
    """P0 before P1 before P2."""
    return list(Severity).index(a) < list(Severity).index(b)


@task(name="incident-already-open", cache_policy=NO_CACHE)
async def already_open(
    handled: OpenIncident, app: str, severity: Severity, summary: str, reported_by: str
) -> str:
    """One incident per app: this report joins the open one. When it is more severe (a P0
    while a P2 waits), the open incident is escalated now: its response target is this one's."""
    message = f"{app}: an incident is already open in run {handled.name}; nothing done here"
    if more_urgent(severity, handled.severity):
        await escalate(
            *escalation_notice(
                app=app,
                severity=severity,
                summary=summary,
                incident=handled.name,
                run_url=handled.url,
                why=f"{severity} reported by {reported_by} while incident {handled.name} "
                f"({handled.severity}) is open: it is now {severity}",
            )
        )
        message += f"; escalated as {severity} (it was {handled.severity})"
    get_run_logger().info(message)
    return message


@task(name="open-incident")
async def open_incident(
    app: str, severity: Severity, summary: str, reported_by: str
) -> IncidentRecord:
    """The incident of this run, named after it, detected when the run was created; audited
    `incident.opened`."""
    incident = IncidentRecord(
        incident=flow_run.get_name() or "local",
        app=app,
        severity=severity,
        summary=summary,
        reported_by=reported_by,
        detected_at=_detected_at(),
        run_url=run_url(),
    )
    incident.detected()
    _audit(incident, AUDIT_OPENED, actor=reported_by, reason=summary, severity=severity.value)
    return incident


async def publish_assessment(
    incident: IncidentRecord, facts: IncidentFacts, diagnosis: Diagnosis, metrics: AppMetrics | None
) -> str:
    """Identify & Assess, written down: the `incident-<app>` artifact; returns its text (also
    shown above the decision form)."""
    incident.assessed(diagnosis, metrics, now())
    text = render_assessment(
        app=incident.app,
        severity=incident.severity,
        summary=incident.summary,
        reported_by=incident.reported_by,
        detected_at=incident.detected_at,
        facts=facts,
        diagnosis=diagnosis,
    )
    await publish_markdown(
        f"incident-{incident.app}",
        text,
        description=f"{incident.severity} {incident.app}: {incident.causes}",
    )
    get_run_logger().info(
        "%s: %s; recommended %s", incident.app, incident.causes, diagnosis.recommended.value
    )
    return text


async def post_status(incident: IncidentRecord, status: PageStatus, message: str) -> None:
    """Runbook "Update status page"; a failed update is logged and never stops the response."""
    try:
        await update_status_page(
            incident=incident.incident,
            app=incident.app,
            status=status,
            severity=incident.severity.value,
            message=message,
        )
    except Exception as exc:  # the webhook is down or refuses
        get_run_logger().warning("status page not updated: %s", exc)


class DecisionPlan(BaseModel):
    """Who decides, and when the clock runs out."""

    auto: AutoVerdict
    deadline: datetime  # the decision deadline (incident.decision_timeout_hours)
    escalate_at: datetime  # the response target: undecided then, it escalates
    timers: list[UUID] = []  # timer runs to cancel once decided


@task(name="plan-decision")
async def plan_decision(
    incident: IncidentRecord, policy: IncidentPolicy, *, flow_run_id: UUID, durable: bool
) -> DecisionPlan:
    """Runbook 2, before deciding, and runbook 3 "Create incident Slack thread": whether a P0
    may act without a person (guardrails), the status page says investigating, the incident
    channel gets the diagnosis and who decides; a P0 escalates at once; a run that waits for
    a person schedules its escalation and its decision deadline (timer runs)."""
    auto = automatic_decision(
        incident.app,
        incident.severity,
        incident.assessed_diagnosis(),
        history=action_history(audit_log().records(), incident.app),
        now=now(),
        policy=policy,
    )
    plan = DecisionPlan(
        auto=auto,
        deadline=incident.detected_at + timedelta(hours=policy.decision_timeout_hours),
        escalate_at=policy.escalate_at(incident.severity, incident.detected_at),
    )
    await post_status(incident, "investigating", f"We are investigating: {incident.summary}")
    await tell(*incident.opened_notice(auto))
    if plan.escalate_at <= now():
        # P0: response immediate; or the target passed already while the incident was assessed.
        why = (
            f"{incident.severity}: the response is immediate"
            if plan.escalate_at == incident.detected_at
            else f"the {incident.severity} response target passed before a person was asked"
        )
        await escalate(*incident.escalation(why))
    if auto.act:
        return plan
    if durable:
        for kind, at in (("escalate", plan.escalate_at), ("expire", plan.deadline)):
            if kind == "escalate" and at <= now():
                continue
            timer = await schedule_timer(
                DEADLINE_FLOW,
                {"flow_run_id": str(flow_run_id), "at": at.isoformat(), "kind": kind},
                at,
                idempotency_key=f"incident-{kind}-{flow_run_id}",
            )
            if timer is not None:
                plan.timers.append(timer)
    return plan


async def decided(plan: DecisionPlan) -> None:
    """The decision is in: the timers not yet run are not needed."""
    for timer in plan.timers:
        await cancel_timer(timer, "incident decided")


async def announce_undecided(incident: IncidentRecord, timeout_hours: float) -> None:
    """Nobody decided within the decision timeout."""
    await tell(*incident.undecided_notice(timeout_hours))


@task(name="incident-deadline", cache_policy=NO_CACHE)
async def act_at_deadline(flow_run_id: UUID, at: datetime, kind: str) -> str:
    """A timer run of an incident waiting for a person: at the response target, escalate it
    (the escalation block) and remind the incident channel; at the decision deadline, wake it
    with an answer that arrives too late ("no decision in time"). Only incident-response runs
    that still wait are touched."""
    await wait_until(at, "at")
    run = await still_waiting(flow_run_id, FLOW_NAME)
    state = state_name(run)
    if state is not None:
        return f"nothing to do: the run is {state}"
    if kind == "expire":
        if not await wake(flow_run_id, DEADLINE_ANSWER):
            return "Prefect had already expired the run"
        return "woken at the decision deadline: no decision in time, nothing done"
    params = run.parameters
    severity = Severity(params.get("severity", Severity.P2))
    app, summary = str(params.get("app")), str(params.get("summary"))
    subject, body = escalation_notice(
        app=app,
        severity=severity,
        summary=summary,
        incident=run.name,
        run_url=run_url(flow_run_id),
        why=f"No decision at the {severity} response target ({at:%H:%M} UTC)",
    )
    await escalate(subject, body)
    await tell(f"[{severity}] {app}: still no decision on incident {run.name}", body)
    return f"escalated incident {run.name} ({severity}, {app})"


def record_decision(incident: IncidentRecord, decision: Decision) -> None:
    """The decision on the timeline and in the audit log (`incident.decided`)."""
    incident.decided(decision)
    _audit(
        incident,
        AUDIT_DECIDED,
        actor=decision.decided_by,
        reason=decision.comment or incident.summary,
        action=decision.action.value,
        recommended=incident.recommended.value,
        automatic=decision.automatic,
    )


def record_action(incident: IncidentRecord, outcome: ActionOutcome) -> None:
    """The mitigation on the timeline and in the audit log (`incident.action`: what the
    guardrails count as an automatic action on the app)."""
    incident.acted(outcome)
    decision = incident.decision
    _audit(
        incident,
        AUDIT_ACTION,
        actor=incident.decided_by,
        reason=incident.summary,
        action=outcome.action.value,
        automatic=bool(decision and decision.automatic),
        ok=outcome.ok,
        outcome=outcome.detail,
    )


async def communicate(incident: IncidentRecord) -> None:
    """Runbook 3. Communicate: notify stakeholders and the incident channel, update the status
    page, log the incident (`<state>/incident-log.md`); audited `incident.closed`."""
    for subject, body in incident.closing_notices():
        await tell(subject, body)
    await post_status(incident, incident.page_status, f"{incident.summary}: {incident.state_text}")
    append_entry(
        incident_log_path(fly_access.settings().hotdash_state_dir),
        incident.log_entry(),
        tz=fly_access.inventory().timezone,
    )
    _audit(
        incident,
        AUDIT_CLOSED,
        actor=incident.decided_by,
        reason=incident.state_text,
        recovered=incident.recovered,
    )


async def draft_postmortem(incident: IncidentRecord) -> None:
    """Runbook 4. Investigate Root Cause: the `postmortem-<app>` draft: the timeline (the run's
    steps and the audit log), metrics before and after (the last 5 minutes), blank cause and
    follow-ups for the people who investigate."""
    metrics = await read_metrics([incident.app], window_minutes=5)
    incident.metrics_after = metrics.by_app.get(incident.app)
    draft = incident.postmortem(audit_log().records())
    await publish_markdown(
        f"postmortem-{incident.app}",
        render_postmortem(draft, fly_access.inventory().timezone),
        description=f"{incident.app}: {incident.state_text}",
    )
