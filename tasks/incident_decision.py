"""Incident Response / Contain & Mitigate, the person's part: the run pauses with a form that
offers the actions (rollback, scale up, restart, none) with the recommendation preselected, and
asks who decides. Pause keys `incident-decision`, then `incident-decision-2`... after an answer
the form's rules refuse (a used key would return its old answer: docs/prefect.md).
"""

from __future__ import annotations

import os
from copy import copy
from datetime import UTC, datetime

from prefect import get_run_logger
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field, ValidationError, create_model

from hotdash_ops.incidents.response import Action, Decision, IncidentPolicy
from hotdash_ops.operator_input import Comment, PersonName

DECISION_KEY = "incident-decision"
MAX_ASKS = 5
# How often a paused run asks the API for the decision (tests set 1).
POLL_ENV = "HOTDASH_PAUSE_POLL_SECONDS"


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


async def ask_a_person(recommended: Action, description: str, policy: IncidentPolicy) -> Decision:
    """Pause until a person chooses in the form; an invalid answer asks again. Raises
    FlowPauseTimeout when nobody answers within the policy's decision timeout."""
    logger = get_run_logger()
    form = decision_form(recommended, description)
    poll = int(os.environ.get(POLL_ENV, "10"))
    timeout = int(policy.decision_timeout_hours * 3600)
    for attempt in range(1, MAX_ASKS + 1):
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
            at=datetime.now(UTC),
            comment=answer.comment,
        )
    raise ValueError("decided_by: five invalid decisions in a row; the incident needs a person")
