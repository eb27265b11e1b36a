"""The production approval gates: manager, then reliability.

Each ask is a pause key (`manager-approval`, `manager-approval-2` after a refused input, ...)
whose form has exactly `approver`, `approve`, `comment`, with what is being approved shown
above it. The rules live in `hotdash_ops.deploys.approvals`; this module waits, records and tells.

How a gate waits:

* run from a deployment (the normal case): `suspend_flow_run`. No process waits: the run is
  `Suspended` in the Prefect database, so a worker or a server restart does not lose it. On
  resume the flow runs again from the top in a new process: everything before and at the
  gates goes through `replay_safe` tasks (persisted results, cached per flow run), so those
  reads are not repeated and their side effects (notifications, audit records, artifacts)
  happen once; answered keys return their stored input at once.
* run directly (a script, a test): `pause_flow_run` (suspend needs a deployment).

The deadline (`approval_timeout_hours` after the request, for both gates together) is ours,
not Prefect's: Prefect's own pause timeout fails the run with its message and nothing can
tell people (docs/prefect.md, "Approvals and decisions"). So the Prefect timeout is set 15
minutes later, as a backstop only. A blocking pause stops waiting at the deadline itself. A
suspended run is woken at the deadline by a scheduled run of
`deploy-production-approval-deadline`, which resumes it with an input that arrives after the
deadline; either way the gate records "rejected: approval timed out", tells people, and the
run ends Failed saying so. An answer that arrives after the deadline (its stored `created`
time) never counts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from prefect import get_run_logger, task
from prefect.cache_policies import DEFAULT
from prefect.context import FlowRunContext
from prefect.input import RunInput
from prefect.tasks import Task
from pydantic import BaseModel, ValidationError

from hotdash_ops.deploys.approvals import (
    GATES,
    MAX_ATTEMPTS,
    REFUSED_STATE,
    ApprovalFields,
    ApprovalRequest,
    Decision,
    Verdict,
    form_description,
    gate_key,
    invalid_answer,
    judge,
    timed_out,
    too_many_attempts,
    who_may_approve,
)
from hotdash_ops.local_time import shown
from hotdash_ops.validation import field_problems
from tasks.announce import run_url, tell
from tasks.audit import audit
from tasks.deadline_timer import (
    cancel_timer,
    received_at,
    schedule_timer,
    state_name,
    still_waiting,
    wait_for_answer,
    wait_until,
    wake,
)
from tasks.reports import publish_markdown

POLL_ENV = "HOTDASH_APPROVAL_POLL_SECONDS"  # blocking pause only; suspend needs no polling
DEFAULT_POLL_SECONDS = 10
DEADLINE_FLOW = "deploy-production-approval-deadline"
GATED_FLOW = "deploy-production"
DEADLINE_ACTOR = "approval-deadline"
UNNAMED_ACTOR = "(no valid name)"  # an answer refused before its name could be trusted
# What the deadline timer answers: valid for the form's schema (a blank name would be refused
# by the server); it arrives after the deadline, so the gate records a timeout whatever it says.
DEADLINE_ANSWER = {
    "approver": DEADLINE_ACTOR,
    "approve": False,
    "comment": "no decision in time",
}
APPROVAL_ARTIFACT = "deploy-production-approval"

R = TypeVar("R")


class ApprovalInput(RunInput, ApprovalFields):
    """The approval form: `approver`, `approve`, `comment` (fields from ApprovalFields)."""


class GateOutcome(BaseModel):
    """Both gates' result: approved, or the decision that ended the request."""

    approved: bool
    decisions: list[Decision]
    approvers: dict[str, str]  # gate -> approver
    final: Decision
    deadline: datetime


def replay_safe(fn: Task[Any, R]) -> Task[Any, R]:
    """The task with its result persisted and cached for this flow run and these inputs.

    A suspended run re-executes from the top when resumed; through this the steps before the
    gates are not repeated (same reads, one notification, one audit record).
    """
    return fn.with_options(persist_result=True, cache_policy=DEFAULT)


def _poll_seconds() -> int:
    return max(1, int(float(os.environ.get(POLL_ENV, DEFAULT_POLL_SECONDS))))


@task(name="start-approval-clock")
async def start_approval_clock(timeout_hours: float) -> datetime:
    """The approval deadline, fixed when the request is first made (replayed afterwards)."""
    return datetime.now(UTC) + timedelta(hours=timeout_hours)


@task(name="record-approval-request")
async def record_approval_request(request: ApprovalRequest, deadline: datetime) -> None:
    """Audit `approval.requested`: who asks to deploy what, why, until when."""
    audit(
        actor=request.requested_by,
        action="approval.requested",
        target=request.app,
        detail={
            "image": request.image,
            "release_tag": request.release_tag,
            "checklist_url": request.checklist_url,
            "deadline": deadline.isoformat(),
            "deploy_window": request.window,
            "critical": request.critical,
            "build": request.build,
            "untested_image_reason": request.untested_image_reason,
            "run_url": request.run_url,
        },
        reason=request.reason,
    )


@task(name="announce-gate")
async def announce_gate(subject: str, body: str, description: str) -> None:
    """Show the form's content as an artifact and tell approvers a gate waits for them."""
    await publish_markdown(APPROVAL_ARTIFACT, description, description=subject)
    await tell(subject, body)


@task(name="close-approval")
async def close_approval(app: str, outcome: GateOutcome, ending: str) -> None:
    """The approval artifact, once the deploy is over: who decided, and how the deploy
    ended (it no longer says "awaiting ... approval")."""
    if outcome.approved:
        title = "approved by " + " and ".join(outcome.approvers[g] for g in GATES)
    else:
        title = outcome.final.reason
    lines = [
        f"## Production deploy of `{app}`: {title}",
        "",
        f"**Outcome: {ending}**",
        "",
        "Decisions:",
        *[f"- {' '.join(d.reason.split())}" for d in outcome.decisions],
    ]
    await publish_markdown(APPROVAL_ARTIFACT, "\n".join(lines), description=f"{title}: {ending}")


@task(name="record-approval-decision")
async def record_decision(decision: Decision, *, app: str, url: str) -> Decision:
    """Log and audit (`approval.<verdict>`) one judged answer; announce a rejection."""
    logger = get_run_logger()
    if decision.verdict is Verdict.APPROVED:
        logger.info(decision.reason)
    else:
        logger.warning(decision.reason)
    audit(
        actor=decision.approver
        or (DEADLINE_ACTOR if decision.verdict is Verdict.TIMED_OUT else UNNAMED_ACTOR),
        action=f"approval.{decision.verdict.value}",
        target=app,
        detail={
            "gate": decision.gate,
            "key": decision.key,
            "comment": decision.comment,
            "received_at": decision.received_at.isoformat() if decision.received_at else None,
        },
        reason=decision.reason,
    )
    # A refused input is told with the gate's next ask ("awaiting ... again"), which says why.
    if decision.verdict in (Verdict.REJECTED, Verdict.TIMED_OUT):
        await tell(
            f"deploy-production of {app} rejected",
            f"{decision.reason}\nNothing was deployed. Run: {url}",
        )
    return decision


@task(name="schedule-approval-deadline")
async def schedule_deadline_timer(flow_run_id: UUID, deadline: datetime) -> UUID | None:
    """Schedule `deploy-production-approval-deadline` at the deadline to wake the suspended
    run (tasks.deadline_timer); None (and a warning) when that deployment does not exist."""
    return await schedule_timer(
        DEADLINE_FLOW,
        {"flow_run_id": str(flow_run_id), "deadline": deadline.isoformat()},
        deadline,
        idempotency_key=f"approval-deadline-{flow_run_id}",
    )


@task(name="expire-approval")
async def expire_approval(flow_run_id: UUID, deadline: datetime) -> str:
    """At the deadline: resume the run if it still waits at a gate. The answer arrives after
    the deadline, so the gate records a timeout (it is never taken as a person's decision).
    Only deploy-production runs are touched, and only once their deadline has passed."""
    await wait_until(deadline)
    decided = state_name(await still_waiting(flow_run_id, GATED_FLOW))
    if decided is not None:
        get_run_logger().info("run %s is %s: decided before the deadline", flow_run_id, decided)
        return f"nothing to do: the run is {decided}"
    if not await wake(flow_run_id, DEADLINE_ANSWER):
        return "Prefect had already expired the run"
    get_run_logger().warning("approval deadline %s passed: run %s woken", deadline, flow_run_id)
    return "woken at the deadline: the gate rejects the deploy (approval timed out)"


async def _wait(
    key: str,
    description: str,
    *,
    durable: bool,
    deadline: datetime,
    refused: Decision | None,
    instructions: str,
) -> ApprovalInput | None:
    """The answer at `key` (suspended or paused: tasks.deadline_timer.wait_for_answer), or
    None when a blocking pause reaches the deadline first. After a refused answer the waiting
    state is named REFUSED_STATE, its message the refusal."""
    form = ApprovalInput.with_initial_data(description=description)
    return await wait_for_answer(
        form,
        key,
        durable=durable,
        deadline=deadline,
        poll_seconds=_poll_seconds(),
        name=REFUSED_STATE if refused else None,
        message=refused.reason if refused else None,
        instructions=instructions,
    )


def _instructions(request: ApprovalRequest, gate: str, key: str, deadline: datetime) -> str:
    """What the approver does, in the run's log as it starts waiting."""
    return (
        f"Waiting for {gate} approval ({key}): open this run in the Prefect UI, click Resume, "
        "type your name in approver; switch approve on to approve, or leave it off and say why "
        f"in comment to reject. Decide before {shown(deadline, request.timezone)}. "
        f"{request.run_url or ''}"
    ).rstrip()


def _awaiting_body(
    request: ApprovalRequest, gate: str, key: str, note: str, deadline: datetime
) -> str:
    return (
        f"{note}Production deploy of {request.app} waits for {gate} approval ({key}).\n"
        f"image: {request.image}\nrelease tag: {request.release_tag}\n"
        f"reason: {request.reason}\nrequested by: {request.requested_by}\n"
        f"checklist: {request.checklist_url}\n"
        f"decide before {shown(deadline, request.timezone)} at {request.run_url}"
    )


async def request_approvals(
    request: ApprovalRequest,
    *,
    allowed: dict[str, list[str]],
    timeout_hours: float,
) -> GateOutcome:
    """Ask the manager gate, then the reliability gate, until approved, rejected or out of
    time. Call from the flow body (a pause cannot happen inside a task)."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("approval gates run inside a flow run")
    flow_run_id = context.flow_run.id
    durable = context.flow_run.deployment_id is not None
    deadline = await replay_safe(start_approval_clock)(timeout_hours)
    request = request.model_copy(update={"deadline": deadline, "run_url": run_url(flow_run_id)})
    await replay_safe(record_approval_request)(request, deadline)
    timer = await replay_safe(schedule_deadline_timer)(flow_run_id, deadline) if durable else None

    logger = get_run_logger()
    for gate in GATES:
        rule = who_may_approve(gate, allowed.get(gate, []))
        (logger.info if allowed.get(gate) else logger.warning)("%s gate: %s", gate, rule)

    decisions: list[Decision] = []
    approvers: dict[str, str] = {}
    ended: Decision | None = None
    for gate in GATES:
        ended = await _one_gate(
            request,
            gate,
            allowed=allowed.get(gate, []),
            other_approver=next(iter(approvers.values()), None),
            decisions=decisions,
            deadline=deadline,
            durable=durable,
            flow_run_id=flow_run_id,
        )
        if ended.verdict is not Verdict.APPROVED:
            break
        approvers[gate] = ended.approver
    assert ended is not None
    await cancel_timer(timer, "approval decided before the deadline")
    approved = ended.verdict is Verdict.APPROVED
    if approved:
        names = " and ".join(approvers[g] for g in GATES)
        await tell(
            f"deploy-production of {request.app} approved",
            f"Approved by {names}: deploying {request.image} as {request.release_tag}.\n"
            f"Run: {request.run_url}",
        )
    return GateOutcome(
        approved=approved, decisions=decisions, approvers=approvers, final=ended, deadline=deadline
    )


async def _one_gate(
    request: ApprovalRequest,
    gate: str,
    *,
    allowed: Sequence[str],
    other_approver: str | None,
    decisions: list[Decision],
    deadline: datetime,
    durable: bool,
    flow_run_id: UUID,
) -> Decision:
    """Ask one gate until an input counts (approved or rejected) or time runs out."""
    url = request.run_url or ""
    note = f"{decisions[-1].reason}\n" if decisions else ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        key = gate_key(gate, attempt)
        description = form_description(
            request, gate=gate, key=key, allowed=allowed, decisions=decisions
        )
        subject = (
            f"deploy-production: awaiting {gate} approval ({request.release_tag})"
            if attempt == 1
            else f"deploy-production: awaiting {gate} approval again ({key})"
        )
        await replay_safe(announce_gate)(
            subject, _awaiting_body(request, gate, key, note, deadline), description
        )
        last = decisions[-1] if decisions else None
        refused = last if last and last.gate == gate and last.verdict is Verdict.REFUSED else None
        try:
            answer = await _wait(
                key,
                description,
                durable=durable,
                deadline=deadline,
                refused=refused,
                instructions=_instructions(request, gate, key, deadline),
            )
        except ValidationError as exc:  # the server's schema took it, the form's rules did not
            decision = invalid_answer(gate, key, field_problems(exc))
        else:
            if answer is None:
                decision = timed_out(gate, key, deadline, tz=request.timezone)
            else:
                decision = judge(
                    answer,
                    gate=gate,
                    key=key,
                    requester=request.requested_by,
                    allowed=allowed,
                    other_approver=other_approver,
                    received_at=await received_at(flow_run_id, key, durable=durable),
                    deadline=deadline,
                    tz=request.timezone,
                )
        decision = await replay_safe(record_decision)(decision, app=request.app, url=url)
        decisions.append(decision)
        if decision.final:
            return decision
        note = f"{decision.reason}\n"
    decision = too_many_attempts(gate, gate_key(gate, MAX_ATTEMPTS))
    return await replay_safe(record_decision)(decision, app=request.app, url=url)
