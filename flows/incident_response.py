"""Incident Response (runbook): identify & assess, contain & mitigate, communicate, root cause.

Started by a person (Prefect UI: app, severity, summary, who reports) or by an alert
(`hotdash.alert.fired` through the deployment's trigger in prefect.yaml), with the severity the
inventory maps the alert to (runbook Severity Levels: production down P0, staging down or
production degraded P1, a monitoring alert P2; hotdash_ops.incidents.severity).

1. Identify & Assess: `fly status`, recent error logs, a metrics snapshot, recent releases,
   `/health` and the dependencies -> a first diagnosis with its evidence
   (hotdash_ops.incidents.response).
2. Contain & Mitigate: the recommended action (rollback | scale_up | restart | none); the run
   pauses with a form offering the actions, the recommendation preselected, and who decides.
   A P0 acts on the recommendation without waiting when the inventory allows it for the app and
   the guardrails hold (at most N automatic actions per app per hour, a cool-down); otherwise a
   person decides. The action runs through the same tasks as the rollback and scale-app flows
   and `fly apps restart`, under the app's lock; then /health is watched until it recovers.
   The decision form holds no process: the run is suspended like deploy-production's
   approvals and survives worker and server restarts (tasks/incident_decision.py). The
   response target drives the rest: a P0 escalates at once, a P1 still undecided after 30
   minutes and a P2 after 2 hours escalate (the `hotdash-escalation` block) through timer runs
   of `incident-response-deadline`, which also ends the wait at the decision deadline.
3. Communicate: the incident channel when the incident opens (and a decision is needed),
   stakeholders and the channel when it is mitigated, the status page webhook, and an entry in
   `<state>/incident-log.md`.
4. Investigate Root Cause: a post-mortem draft artifact (timeline from the run's steps and the
   audit log, metrics before and after, blank cause and follow-ups).

The run's record (hotdash_ops.incidents.record) collects each step; tasks/incidents.py writes
it to the audit log, notifications, the status page, the incident log and the artifacts, and
tasks/incident_decision.py holds the decision form.

One incident per app at a time: a run that finds an earlier incident-response run for the same
app still open (running, pending or paused) ends at once and says which run handles it (an
alert that fires again while people work on it must not start a second response); when it is
more severe than the open one (a P0 while a P2 waits), the open incident is escalated.

Everything before the decision is `replay_safe`: a suspended run replays from the top when it
resumes, and reads, notifications and audit records must not happen twice.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.states import Completed, Failed, State
from pydantic import Field

from hotdash_ops.deploys.release_choice import images_rolled_back_from
from hotdash_ops.errors import FlyError
from hotdash_ops.incidents.record import IncidentRecord
from hotdash_ops.incidents.response import (
    Action,
    ActionOutcome,
    Decision,
    IncidentFacts,
    IncidentPolicy,
    Severity,
    diagnose,
    incident_policy,
    scale_up_count,
)
from hotdash_ops.inventory import AppSpec, Inventory
from hotdash_ops.monitor.metrics import AppMetrics
from hotdash_ops.operator_input import Reason, Requester
from hotdash_ops.run_forms import InventoryApp
from hotdash_ops.scaling import scaling_policy
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.approvals import replay_safe
from tasks.audit import audit_log
from tasks.checks import checked
from tasks.fleet_reads import read_error_logs, read_metrics
from tasks.fly_deploys import app_status, list_releases, rollback_app
from tasks.http_checks import check_dependencies, check_health_endpoints, watch_health
from tasks.incident_decision import ask_a_person, waiting_run
from tasks.incidents import (
    FLOW_NAME,
    act_at_deadline,
    already_open,
    announce_undecided,
    communicate,
    decided,
    draft_postmortem,
    find_open_incident,
    now,
    open_incident,
    plan_decision,
    publish_assessment,
    record_action,
    record_decision,
)
from tasks.restart import restart_app
from tasks.scaling import read_app_scale, scale_count

AUTOMATIC_ACTOR = "incident-response (automatic, P0)"
UNDECIDED_ACTOR = "nobody (no decision in time)"

DeadlineKind = Literal["escalate", "expire"]
Summary = Annotated[
    Reason, Field(description="What is wrong, in a line (lands in notifications and the log)")
]


@flow(name=FLOW_NAME, log_prints=False)
async def incident_response(
    app: InventoryApp, severity: Severity, summary: Summary, reported_by: Requester
) -> State:
    """Respond to an incident on one app: assess, mitigate, communicate, draft the post-mortem.

    Args:
        app: the Fly app with the incident (must be in the inventory)
        severity: P0 (respond immediately), P1 (under 30 min), P2 (under 2 hours)
        summary: what is wrong, in a line
        reported_by: who reports it (a person, or the monitor for alerts)
    """
    inventory = fly_access.inventory()
    spec = inventory.app_or_refuse(app)
    policy = incident_policy(inventory.incident)
    max_count = scaling_policy(inventory.scaling).max_count_for(app)

    # One incident per app at a time: an alert firing again while people work on it.
    handled_by = await replay_safe(find_open_incident)(app)
    if handled_by is not None:
        message = await replay_safe(already_open)(
            handled_by, app, Severity(severity), summary, reported_by
        )
        return Completed(message=message)
    incident = await replay_safe(open_incident)(app, Severity(severity), summary, reported_by)

    # 1. Identify & Assess
    incident, assessment = await replay_safe(identify_and_assess)(
        incident, spec, inventory, policy, max_count
    )
    # 2. Contain & Mitigate
    decision = await decide(incident, assessment, policy)
    await contain_and_mitigate(incident, decision, spec, policy, max_count)
    # 3. Communicate
    await communicate(incident)
    # 4. Investigate Root Cause
    await draft_postmortem(incident)

    if decision.decided_by == UNDECIDED_ACTOR:
        return Failed(message=f"{incident.result()}: no decision in time")
    if incident.ended_well:
        return Completed(message=incident.result())
    return Failed(message=incident.result())


@task(name="identify-and-assess")
async def identify_and_assess(
    incident: IncidentRecord,
    spec: AppSpec,
    inventory: Inventory,
    policy: IncidentPolicy,
    max_count: int,
) -> tuple[IncidentRecord, str]:
    """Runbook 1. Identify & Assess: status, error logs, metrics, releases, health and the
    dependencies, then a first diagnosis with its evidence (the `incident-<app>` artifact,
    whose text this returns with the assessed incident)."""
    facts, metrics = await read_facts(spec.name, spec, inventory)
    diagnosis = diagnose(facts, policy, max_count=max_count)
    text = await publish_assessment(incident, facts, diagnosis, metrics)
    return incident, text


async def read_facts(
    app: str, spec: AppSpec, inventory: Inventory
) -> tuple[IncidentFacts, AppMetrics | None]:
    """What Identify & Assess reads; a read that fails is recorded as such, never guessed."""
    facts: dict[str, Any] = {
        "app": app,
        "role": spec.role,
        "thresholds": spec.thresholds,
        "now": now(),
    }
    # Check service status (`fly status`) and the recent releases (`fly releases`).
    try:
        facts["status"] = app_status(app)
    except FlyError as exc:
        facts["status_error"] = str(exc)
    try:
        facts["releases"] = list_releases(app)
    except FlyError as exc:
        facts["releases_error"] = str(exc)
    facts["rolled_back_images"] = images_rolled_back_from(audit_log().records(), app)
    # Check logs for errors (`fly logs | grep -i error`).
    logs = (await read_error_logs([app]))[app]
    if isinstance(logs, str):
        facts["logs_error"] = logs
    else:
        facts["error_logs"] = logs
    # Check metrics (the metrics dashboard).
    fleet = await read_metrics([app])
    metrics = fleet.by_app.get(app)
    if (
        fleet.errors
        and metrics is not None
        and all(
            getattr(metrics, k) is None
            for k in ("cpu_pct", "mem_pct", "p95_ms", "error_rate", "rps")
        )
    ):
        facts["metrics_error"] = "; ".join(f"{k}: {v}" for k, v in fleet.errors.items())
        metrics = None
    facts["metrics"] = metrics
    # Health endpoint and dependencies (runbook: Health Check Failure).
    facts["health"] = (await check_health_endpoints([spec]))[app]
    deps = [inventory.dependency(name) for name in spec.dependencies]
    facts["dependencies"] = await checked(check_dependencies, deps) if deps else []
    return IncidentFacts.model_validate(facts), metrics


async def decide(incident: IncidentRecord, assessment: str, policy: IncidentPolicy) -> Decision:
    """Runbook 2, the decision: a P0 acts on the recommendation at once when the inventory
    allows it for the app and the guardrails hold; otherwise a person decides in the form,
    with escalation at the response target and an end at the decision deadline. People are
    told the incident is open (and whether a decision is needed) first."""
    flow_run_id, durable = waiting_run()
    plan = await replay_safe(plan_decision)(
        incident, policy, flow_run_id=flow_run_id, durable=durable
    )
    if plan.auto.act:
        decision = Decision(
            action=incident.recommended, decided_by=AUTOMATIC_ACTOR, automatic=True, at=now()
        )
    else:
        get_run_logger().info("waiting for a decision: %s", plan.auto.reason)
        why = f"\n**Why a person decides**: {plan.auto.reason}\n"
        until = f"**Decide before** {plan.deadline:%Y-%m-%d %H:%M} UTC (then nothing is done).\n"
        asked = await ask_a_person(
            incident.recommended, assessment + why + until, deadline=plan.deadline
        )
        await decided(plan)
        if asked is None:
            await announce_undecided(incident, policy.decision_timeout_hours)
            asked = Decision(
                action=Action.NONE, decided_by=UNDECIDED_ACTOR, automatic=False, at=plan.deadline
            )
        decision = asked
    record_decision(incident, decision)
    return decision


async def contain_and_mitigate(
    incident: IncidentRecord,
    decision: Decision,
    spec: AppSpec,
    policy: IncidentPolicy,
    max_count: int,
) -> None:
    """Runbook 2. Contain & Mitigate: the decided action under the app's lock, then /health is
    watched until it recovers or the recovery timeout passes."""
    if decision.action == Action.NONE:
        return
    outcome = await mitigate(
        incident, decision, max_count=max_count, scale_up_to=policy.scale_up_to
    )
    record_action(incident, outcome)
    recovered, health = await watch_health(spec, policy.recovery_timeout_seconds)
    incident.watched(recovered, health, now())


async def mitigate(
    incident: IncidentRecord, decision: Decision, *, max_count: int, scale_up_to: int
) -> ActionOutcome:
    """Rollback, scale up or restart, through the same tasks as the rollback and scale-app
    flows and `fly apps restart`; a failure is the outcome, not an exception."""
    app = incident.app
    started = now()
    reason = f"incident {incident.incident}: {incident.summary}"
    actor = decision.decided_by
    detail: str
    ok = True
    try:
        async with app_lock(app):
            if decision.action == Action.ROLLBACK:
                # If deployment-related, immediate rollback.
                detail = rollback_app(app, actor=actor, reason=reason).describe()
            elif decision.action == Action.SCALE_UP:
                # If traffic spike, scale up.
                current = (await read_app_scale(app)).machines
                target = scale_up_count(current, scale_up_to=scale_up_to, max_count=max_count)
                if target is None:
                    ok, detail = False, f"cannot scale up: {current} machines is the maximum"
                else:
                    await scale_count(app, target, None, actor=actor, reason=reason)
                    detail = f"scaled {app} from {current} to {target} machines"
            elif decision.action == Action.RESTART:
                # If memory leak, restart.
                await restart_app(app, actor=actor, reason=reason)
                detail = f"restarted {app}"
            else:
                detail = "no change made"
    except (FlyError, ValueError) as exc:
        ok, detail = False, f"{decision.action.value} failed: {exc}"
    return ActionOutcome(
        action=decision.action, ok=ok, detail=detail, started_at=started, finished_at=now()
    )


@flow(name="incident-response-deadline", log_prints=False)
async def incident_deadline(flow_run_id: UUID, at: datetime, kind: DeadlineKind) -> str:
    """Escalate an incident still undecided at its response target, or end its wait at the
    decision deadline. Scheduled by incident-response itself; never started by hand.

    Args:
        flow_run_id: the incident-response run waiting for a decision
        at: the response target (escalate) or the decision deadline (expire)
        kind: escalate | expire
    """
    return await act_at_deadline(flow_run_id, at, kind)


if __name__ == "__main__":
    import sys

    asyncio.run(
        incident_response(
            app=sys.argv[1],
            severity=Severity(sys.argv[2]),
            summary=" ".join(sys.argv[3:]) or "manual incident",
            reported_by=os.environ.get("USER", "cli"),
        )
    )
