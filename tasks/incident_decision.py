"""Incident Response / Contain & Mitigate, the person's part: the run waits with a form that
offers the actions (rollback, scale up, restart, none) with the recommendation preselected, and
asks who decides. Pause keys `incident-decision`, then `incident-decision-2`... after an answer
the form's rules refuse (a used key would return its old answer: docs/prefect.md).

Waiting holds no process: a run from the deployment is suspended, like deploy-production's
approvals, so a worker or server restart does not lose it; on resume it replays from the top
with the steps before the decision served from persisted results (`replay_safe`). A run started
directly (a script, a test) pauses instead (suspend needs a deployment).

Time is kept by timer runs of `incident-response-deadline` (tasks/deadline_timer.py), scheduled
when the decision is first asked:

* at the response target (P1 30 minutes, P2 2 hours; P0 escalates at once, before waiting),
  an incident still undecided is escalated: the `hotdash-escalation` notification block and
  the incident channel are told, and the run keeps waiting;
* at the decision deadline (`incident.decision_timeout_hours`), the run is woken with an
  answer that arrives after the deadline: "no decision in time", nothing is done to the app.
"""

from __future__ import annotations

import os
from copy import copy
from datetime import datetime
from uuid import UUID

from prefect import get_run_logger
from prefect.context import FlowRunContext
from prefect.input import RunInput
from pydantic import Field, ValidationError, create_model

from hotdash_ops.incidents.response import Action, Decision
from hotdash_ops.operator_input import Comment, PersonName
from tasks.deadline_timer import received_at, wait_for_answer

DECISION_KEY = "incident-decision"
MAX_ASKS = 5
# How often a paused (not suspended) run asks the API for the decision (tests set 1).
POLL_ENV = "HOTDASH_PAUSE_POLL_SECONDS"
DEADLINE_FLOW = "incident-response-deadline"
DEADLINE_ACTOR = "incident-deadline"
# What the deadline timer answers: valid for the form's schema; it arrives after the deadline,
# so it is read as "no decision in time" whatever it says.
DEADLINE_ANSWER = {"action": "none", "decided_by": DEADLINE_ACTOR, "comment": "no decision in time"}


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


def waiting_run() -> tuple[UUID, bool]:
    """This flow run's id, and whether it can suspend (it runs from a deployment)."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("a decision is asked inside a flow run")
    return context.flow_run.id, context.flow_run.deployment_id is not None


async def ask_a_person(
    recommended: Action, description: str, *, deadline: datetime
) -> Decision | None:
    """Wait until a person chooses in the form (an invalid answer asks again with a fresh
    key); None when no decision came before `deadline`. Call from the flow body."""
    logger = get_run_logger()
    flow_run_id, durable = waiting_run()
    form = decision_form(recommended, description)
    poll = max(1, int(os.environ.get(POLL_ENV, "10")))
    for attempt in range(1, MAX_ASKS + 1):
        key = DECISION_KEY if attempt == 1 else f"{DECISION_KEY}-{attempt}"
        try:
            answer = await wait_for_answer(
                form, key, durable=durable, deadline=deadline, poll_seconds=poll
            )
        except ValidationError as exc:
            logger.warning("decision refused, asking again: %s", exc.errors()[0]["msg"])
            continue
        if answer is None:
            return None
        at = await received_at(flow_run_id, key, durable=durable)
        if at >= deadline:
            return None
        return Decision(
            action=Action(answer.action),
            decided_by=answer.decided_by,
            automatic=False,
            at=at,
            comment=answer.comment,
        )
    raise ValueError("decided_by: five invalid decisions in a row; the incident needs a person")
