"""Incident Response (runbook): identify & assess, contain & mitigate, communicate, root cause.

Started by a person (Prefect UI: app, severity, summary, who reports) or by a critical alert
(`hotdash.alert.fired` through the deployment's trigger in prefect.yaml).

1. Identify & Assess: `fly status`, recent error logs, a metrics snapshot, recent releases,
   `/health` and the dependencies -> a first diagnosis with its evidence
   (hotdash_ops.incidents.response).
2. Contain & Mitigate: the recommended action (rollback | scale_up | restart | none); the run
   pauses with a form offering the actions, the recommendation preselected, and who decides.
   A P0 acts on the recommendation without waiting when the inventory allows it for the app and
   the guardrails hold (at most N automatic actions per app per hour, a cool-down); otherwise a
   person decides. The action runs through the same tasks as the rollback and scale-app flows
   and `fly apps restart`, under the app's lock; then /health is watched until it recovers.
3. Communicate: the incident channel when the incident opens (and a decision is needed),
   stakeholders and the channel when it is mitigated, the status page webhook, and an entry in
   `<state>/incident-log.md`.
4. Root cause: a post-mortem draft artifact (timeline from the run's steps and the audit log,
   metrics before and after, blank cause and follow-ups).

One incident per app at a time: a run that finds an earlier incident-response run for the same
app still open (running, pending or paused) ends at once and says which run handles it (an
alert that fires again while people work on it must not start a second response).
"""

from __future__ import annotations

import asyncio
import os
from copy import copy
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from prefect import flow, get_client, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from pydantic import Field, ValidationError, create_model

from hotdash_ops.deploys.release_choice import images_rolled_back_from
from hotdash_ops.errors import FlyError
from hotdash_ops.incidents.log import IncidentLogEntry, append_entry, incident_log_path
from hotdash_ops.incidents.postmortem import (
    PostMortem,
    Step,
    TimelineEntry,
    build_timeline,
    render_postmortem,
)
from hotdash_ops.incidents.response import (
    ACTION_TEXT,
    AUDIT_ACTION,
    AUDIT_CLOSED,
    AUDIT_DECIDED,
    AUDIT_OPENED,
    CAUSE_TEXT,
    RESPONSE_TEXT,
    Action,
    ActionOutcome,
    Decision,
    Diagnosis,
    IncidentFacts,
    IncidentPolicy,
    Severity,
    action_history,
    automatic_decision,
    diagnose,
    incident_policy,
    render_assessment,
    scale_up_count,
    status_after,
)
from hotdash_ops.inventory import AppSpec, Inventory
from hotdash_ops.monitor.metrics import AppMetrics
from hotdash_ops.operator_input import Comment, PersonName, Reason, Requester
from hotdash_ops.scaling import scaling_policy
from hotdash_ops.validation import AppName
from tasks import fly_access
from tasks.announce import tell
from tasks.app_lock import app_lock
from tasks.audit import audit, audit_log
from tasks.fleet_reads import read_error_logs, read_metrics
from tasks.fly_deploys import app_status, list_releases, rollback_app
from tasks.http_checks import check_dependencies, check_health_endpoints
from tasks.reports import publish_markdown
from tasks.restart import restart_app
from tasks.scaling import read_app_scale, scale_count
from tasks.status_page import update_status_page

FLOW_NAME = "incident-response"
DECISION_KEY = "incident-decision"
AUTOMATIC_ACTOR = "incident-response (automatic, P0)"
# How often a paused run asks the API for the decision (tests set 1).
POLL_ENV = "HOTDASH_PAUSE_POLL_SECONDS"
RECOVERY_POLL_SECONDS = 5.0
_OPEN_STATES = [StateType.RUNNING, StateType.PENDING, StateType.PAUSED]

Summary = Annotated[
    Reason, Field(description="What is wrong, in a line (lands in notifications and the log)")
]


class IncidentDecision(RunInput):
    """The Contain & Mitigate decision (the pause form)."""

    action: Action = Field(
        default=Action.NONE,
        description="What to do now; the recommendation is preselected",
    )
    decided_by: PersonName = Field(description="Who decides (name or e-mail)")
    comment: Comment = Field(default="", description="Optional note for the log")


def decision_form(recommended: Action, description: str) -> type[IncidentDecision]:
    """The form with the recommendation as the default, keeping every field's description
    (`with_initial_data` would drop them: docs/prefect.md, "The Resume form")."""
    field = copy(IncidentDecision.model_fields["action"])
    field.default = recommended
    form = create_model("IncidentDecision", __base__=IncidentDecision, action=(Action, field))
    form._description = description
    return form


def _now() -> datetime:
    return datetime.now(UTC)


def _detected_at() -> datetime:
    # The run's scheduled start is when it was created: when the alert fired or a person filed it.
    try:
        return datetime.fromtimestamp(flow_run.get_scheduled_start_time().timestamp(), UTC)
    except Exception:  # outside a deployment run the runtime may not know it
        return _now()


def _inventory_app(inventory: Inventory, app: str) -> AppSpec:
    try:
        return inventory.app(app)
    except KeyError as exc:
        raise ValueError(f"app: {exc.args[0]}") from None


@task(name="find-open-incident", cache_policy=NO_CACHE)
async def find_open_incident(app: str) -> str | None:
    """The name of an earlier incident-response run for `app` that is still open, if any."""
    my_id = flow_run.get_id()
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=_OPEN_STATES))
            ),
        )
        me = await client.read_flow_run(UUID(my_id)) if my_id else None
    mine = (me.created, str(me.id)) if me is not None and me.created else (_now(), my_id or "")
    for run in runs:
        if str(run.id) == my_id or run.parameters.get("app") != app or run.created is None:
            continue
        # The earliest open run handles the incident; ties go to the smaller id.
        if (run.created, str(run.id)) < mine:
            return run.name
    return None


async def identify_and_assess(
    app: str, spec: AppSpec, inventory: Inventory
) -> tuple[IncidentFacts, AppMetrics | None]:
    """Runbook 1. Identify & Assess: status, error logs, metrics, releases, health, deps."""
    facts: dict[str, Any] = {
        "app": app,
        "role": spec.role,
        "thresholds": spec.thresholds,
        "now": _now(),
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
    facts["dependencies"] = await check_dependencies(deps) if deps else []
    return IncidentFacts.model_validate(facts), metrics


async def ask_a_person(diagnosis: Diagnosis, description: str, policy: IncidentPolicy) -> Decision:
    """Pause until a person chooses in the form; an invalid answer asks again."""
    logger = get_run_logger()
    form = decision_form(diagnosis.recommended, description)
    poll = int(os.environ.get(POLL_ENV, "10"))
    timeout = int(policy.decision_timeout_hours * 3600)
    for attempt in range(1, 6):
        key = DECISION_KEY if attempt == 1 else f"{DECISION_KEY}-{attempt}"
        try:
            answer = await pause_flow_run(  # type: ignore[misc]
                wait_for_input=form, timeout=timeout, poll_interval=poll, key=key
            )
        except ValidationError as exc:
            logger.warning("decision refused, asking again: %s", exc.errors()[0]["msg"])
            continue
        return Decision(
            action=Action(answer.action),
            decided_by=answer.decided_by,
            automatic=False,
            at=_now(),
            comment=answer.comment,
        )
    raise ValueError("decided_by: five invalid decisions in a row; the incident needs a person")


async def mitigate(
    app: str, decision: Decision, *, incident: str, summary: str, max_count: int, scale_up_to: int
) -> ActionOutcome:
    """Runbook 2. Contain & Mitigate: rollback, scale up or restart, under the app's lock."""
    started = _now()
    reason = f"incident {incident}: {summary}"
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
    outcome = ActionOutcome(
        action=decision.action, ok=ok, detail=detail, started_at=started, finished_at=_now()
    )
    audit(
        actor=actor,
        action=AUDIT_ACTION,
        target=app,
        detail={
            "incident": incident,
            "action": decision.action.value,
            "automatic": decision.automatic,
            "ok": ok,
            "outcome": detail,
        },
        reason=summary,
    )
    return outcome


async def watch_recovery(spec: AppSpec, policy: IncidentPolicy) -> tuple[bool, str]:
    """Is /health answering as expected again? Checked until the recovery timeout."""
    deadline = asyncio.get_running_loop().time() + policy.recovery_timeout_seconds
    while True:
        health = (await check_health_endpoints([spec]))[spec.name]
        if health.status_ok:
            return True, health.describe()
        if asyncio.get_running_loop().time() >= deadline:
            return False, health.describe()
        await asyncio.sleep(RECOVERY_POLL_SECONDS)


async def post_status(**kwargs: Any) -> None:
    """The status page; a failed update is logged and never stops the response."""
    try:
        await update_status_page(**kwargs)
    except Exception as exc:  # the webhook is down or refuses
        get_run_logger().warning("status page not updated: %s", exc)


@flow(name=FLOW_NAME, log_prints=False)
async def incident_response(
    app: AppName, severity: Severity, summary: Summary, reported_by: Requester
) -> State:
    """Respond to an incident on one app: assess, mitigate, communicate, draft the post-mortem.

    Args:
        app: the Fly app with the incident (must be in the inventory)
        severity: P0 (respond immediately), P1 (under 30 min), P2 (under 2 hours)
        summary: what is wrong, in a line
        reported_by: who reports it (a person, or the monitor for alerts)
    """
    logger = get_run_logger()
    inventory = fly_access.inventory()
    spec = _inventory_app(inventory, app)
    policy = incident_policy(inventory.incident)
    max_count = scaling_policy(inventory.scaling).max_count_for(app)
    severity = Severity(severity)
    incident = flow_run.get_name() or "local"
    run_url = flow_run.get_flow_run_ui_url()
    detected_at = _detected_at()

    open_elsewhere = await find_open_incident(app)
    if open_elsewhere is not None:
        message = f"{app}: an incident is already open in run {open_elsewhere}; nothing done here"
        logger.info(message)
        return Completed(message=message)

    steps = [
        TimelineEntry(
            at=detected_at,
            step=Step.DETECTED,
            detail=f"{severity} reported by {reported_by}: {summary}",
        )
    ]
    audit(
        actor=reported_by,
        action=AUDIT_OPENED,
        target=app,
        detail={"incident": incident, "severity": severity.value},
        reason=summary,
    )

    # 1. Identify & Assess
    facts, metrics_before = await identify_and_assess(app, spec, inventory)
    diagnosis = diagnose(facts, policy, max_count=max_count)
    causes = ", ".join(CAUSE_TEXT[c] for c in diagnosis.causes) or "no cause found"
    steps.append(
        TimelineEntry(
            at=_now(),
            step=Step.ASSESSED,
            detail=f"{causes}; recommended {diagnosis.recommended.value}",
        )
    )
    assessment = render_assessment(
        app=app,
        severity=severity,
        summary=summary,
        reported_by=reported_by,
        detected_at=detected_at,
        facts=facts,
        diagnosis=diagnosis,
    )
    await publish_markdown(f"incident-{app}", assessment, description=f"{severity} {app}: {causes}")
    logger.info("%s: %s; recommended %s", app, causes, diagnosis.recommended.value)

    # 2. Contain & Mitigate: act at once (P0, allowed, within guardrails) or ask a person.
    auto = automatic_decision(
        app,
        severity,
        diagnosis,
        history=action_history(audit_log().records(), app),
        now=_now(),
        policy=policy,
    )
    await post_status(
        incident=incident,
        app=app,
        status="investigating",
        severity=severity.value,
        message=f"We are investigating: {summary}",
    )
    next_step = (
        f"acting now: {diagnosis.recommended.value} ({auto.reason})"
        if auto.act
        else f"DECISION NEEDED ({auto.reason}): resume the run {run_url or incident}"
    )
    await tell(
        f"[{severity}] {app}: incident opened ({incident})",
        f"{summary} (reported by {reported_by}; respond {RESPONSE_TEXT[severity]})\n"
        f"Diagnosis: {causes}\nRecommended: {diagnosis.recommended.value}: "
        f"{diagnosis.rationale}\nNext: {next_step}",
    )
    if auto.act:
        decision = Decision(
            action=diagnosis.recommended, decided_by=AUTOMATIC_ACTOR, automatic=True, at=_now()
        )
    else:
        logger.info("waiting for a decision: %s", auto.reason)
        try:
            decision = await ask_a_person(
                diagnosis, assessment + f"\n**Why a person decides**: {auto.reason}\n", policy
            )
        except FlowPauseTimeout:
            await tell(
                f"[{severity}] {app}: no decision on incident {incident}",
                f"Nobody decided within {policy.decision_timeout_hours:g} h; nothing was done.",
            )
            raise
    steps.append(
        TimelineEntry(
            at=decision.at,
            step=Step.DECIDED,
            detail=f"{decision.action.value} by {decision.decided_by}"
            + (f": {decision.comment}" if decision.comment else ""),
        )
    )
    audit(
        actor=decision.decided_by,
        action=AUDIT_DECIDED,
        target=app,
        detail={
            "incident": incident,
            "action": decision.action.value,
            "recommended": diagnosis.recommended.value,
            "automatic": decision.automatic,
        },
        reason=decision.comment or summary,
    )

    outcome: ActionOutcome | None = None
    recovered: bool | None = None
    if decision.action != Action.NONE:
        outcome = await mitigate(
            app,
            decision,
            incident=incident,
            summary=summary,
            max_count=max_count,
            scale_up_to=policy.scale_up_to,
        )
        steps.append(
            TimelineEntry(
                at=outcome.finished_at,
                step=Step.ACTED,
                detail=("" if outcome.ok else "FAILED: ") + outcome.detail,
            )
        )
        recovered, health_text = await watch_recovery(spec, policy)
        steps.append(
            TimelineEntry(
                at=_now(),
                step=Step.RECOVERED if recovered else Step.NOT_RECOVERED,
                detail=health_text,
            )
        )
    metrics_after = (await read_metrics([app], window_minutes=5)).by_app.get(app)

    # 3. Communicate
    state_text, page_status = status_after(recovered)
    done = ACTION_TEXT[decision.action] if outcome is None else outcome.detail
    await tell(
        f"[{severity}] {app}: {state_text}",
        f"{summary}\nAction: {done} (decided by {decision.decided_by})",
    )
    await tell(
        f"[{severity}] {app}: incident {incident} update",
        f"Diagnosis: {causes}\nDecision: {decision.action.value} by {decision.decided_by}\n"
        f"Outcome: {done}\nRecovered: {recovered}\nPost-mortem draft: artifact postmortem-{app}",
    )
    await post_status(
        incident=incident,
        app=app,
        status=page_status,
        severity=severity.value,
        message=f"{summary}: {state_text}",
    )
    append_entry(
        incident_log_path(fly_access.settings().hotdash_state_dir),
        IncidentLogEntry(
            at=detected_at,
            incident=incident,
            app=app,
            severity=severity.value,
            summary=summary,
            reported_by=reported_by,
            diagnosis=f"{causes}; recommended {diagnosis.recommended.value}",
            action=decision.action.value + ("" if outcome is None else f": {outcome.detail}"),
            decided_by=decision.decided_by,
            outcome=state_text,
            recovered={True: "yes", False: "no", None: "n/a"}[recovered],
            run_url=run_url,
        ),
    )
    audit(
        actor=decision.decided_by,
        action=AUDIT_CLOSED,
        target=app,
        detail={"incident": incident, "recovered": recovered},
        reason=state_text,
    )

    # 4. Root cause: the post-mortem draft
    postmortem = PostMortem(
        incident=incident,
        app=app,
        severity=severity,
        summary=summary,
        reported_by=reported_by,
        detected_at=detected_at,
        diagnosis=diagnosis,
        decision=decision,
        outcome=outcome,
        recovered=recovered,
        metrics_before=metrics_before,
        metrics_after=metrics_after,
        timeline=build_timeline(steps, audit_log().records(), app, since=detected_at),
    )
    await publish_markdown(
        f"postmortem-{app}", render_postmortem(postmortem), description=f"{app}: {state_text}"
    )
    message = f"{app}: {decision.action.value} by {decision.decided_by}; {state_text}"
    if recovered is False or (outcome is not None and not outcome.ok):
        return Failed(message=message)
    return Completed(message=message)


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
