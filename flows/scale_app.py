"""Scaling Operations (runbook): vertical (vm size), horizontal (machine count) and min/max
running (auto-stop, Fly's replacement for the removed `fly autoscale`), on demand.

Only the settings given are changed. A request Fly would refuse (an unknown size, memory
outside the per-CPU rules, a count above the configured maximum, machines that do not fit
`--max-per-region`) is refused with the reason before any fly command and before the lock;
nothing is changed. The change runs under the app's lock, is audited, and the run's artifact
shows every setting before and after.

Scaling production to 0 machines, or below its `min_running`, first pauses for a confirmation
whose form says what goes down (how many machines, where, that production would serve
nothing); until someone confirms with their name nothing changes, and the change is audited
with who confirmed.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from pydantic import Field, ValidationError

from hotdash_ops.inventory import Inventory
from hotdash_ops.operator_input import PersonName
from hotdash_ops.run_forms import DIGITS, InventoryApp, optional, optional_choice
from hotdash_ops.scaling import (
    ABSOLUTE_MAX_COUNT,
    AutoStop,
    ScaleError,
    ScaleRequest,
    VmSize,
    check_request,
    diff,
    plan_scale,
    render_diff,
    scaling_policy,
    what_goes_down,
)
from hotdash_ops.validation import field_problems
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.deadline_timer import wait_for_answer
from tasks.reports import publish_markdown
from tasks.scaling import apply_scale_plan, read_app_scale


def known_app(inventory: Inventory, app: str) -> None:
    """Refuse an app that is not in the inventory (its limits and owners are unknown)."""
    if app not in {a.name for a in inventory.apps}:
        known = ", ".join(a.name for a in inventory.apps)
        raise ScaleError([f"app: {app!r} is not in the inventory (known: {known})"])


def artifact_key(app: str) -> str:
    return f"scale-{app}"


CONFIRM_KEY = "confirm-scale-down"


class ConfirmScaleDown(RunInput):
    """The confirmation of a production scale-down; what goes down is described above it."""

    confirm: bool = Field(default=False, description="On: scale down as described. Off: keep.")
    confirmed_by: PersonName = Field(description="Your name (recorded in the audit log).")


async def confirm_scale_down(text: str, timeout_minutes: int) -> ConfirmScaleDown | str:
    """The confirmation, or why nothing is changed (refused, not given in time)."""
    deadline = datetime.now(UTC) + timedelta(minutes=timeout_minutes)
    poll = max(1, int(os.environ.get("HOTDASH_PAUSE_POLL_SECONDS", "10")))
    try:
        answer = await wait_for_answer(
            ConfirmScaleDown.with_initial_data(description=text),
            CONFIRM_KEY,
            durable=False,
            deadline=deadline,
            poll_seconds=poll,
        )
    except ValidationError as exc:  # a blank name: the schema takes it, PersonName not
        return f"confirmation refused ({field_problems(exc)})"
    if answer is None:
        return f"no confirmation within {timeout_minutes} min"
    if not answer.confirm:
        return f"not confirmed by {answer.confirmed_by}"
    return answer


@flow(name="scale-app")
async def scale_app(
    app: InventoryApp,
    vm_size: optional_choice(VmSize) = "",
    memory_mb: optional(Annotated[int, Field(ge=256, le=131072)], pattern=DIGITS) = "",
    count: optional(Annotated[int, Field(ge=0, le=ABSOLUTE_MAX_COUNT)], pattern=DIGITS) = "",
    max_per_region: optional(
        Annotated[int, Field(ge=1, le=ABSOLUTE_MAX_COUNT)], pattern=DIGITS
    ) = "",
    min_running: optional(Annotated[int, Field(ge=0, le=ABSOLUTE_MAX_COUNT)], pattern=DIGITS) = "",
    auto_stop: optional_choice(AutoStop) = "",
    confirm_timeout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 60,
) -> State:
    """Scale a Fly app; only the settings given change (leave the others empty).

    Args:
        app: the Fly app (must be in the inventory)
        vm_size: a Fly VM preset (`fly scale vm SIZE`)
        memory_mb: memory per machine in MB; shared: 256-2048 per CPU in steps of 256,
            performance: 2048-8192 per CPU in steps of 2048 (alone: keeps the current size)
        count: number of machines (`fly scale count N`), 0 to the inventory's maximum
        max_per_region: at most this many machines per region (only with count)
        min_running: machines Fly Proxy keeps running (`min_machines_running`)
        auto_stop: what Fly Proxy does with idle machines: off, stop or suspend
        confirm_timeout_minutes: (expert) how long a production scale-down waits for its
            confirmation
    """
    logger = get_run_logger()
    request = ScaleRequest(
        app=app,
        vm_size=vm_size,
        memory_mb=memory_mb,
        count=count,
        max_per_region=max_per_region,
        min_running=min_running,
        auto_stop=auto_stop,
    )
    try:
        # The rules that need no read of the app first: no HTTP call, no lock.
        inventory = fly_access.inventory()
        known_app(inventory, app)
        policy = scaling_policy(inventory.scaling)
        check_request(request, policy)
        # Check current size, then Fly's rules against the machines as they are.
        before = await read_app_scale(app)
        plan_scale(request, before, policy)
    except ScaleError as exc:
        await publish_markdown(
            artifact_key(app),
            f"# Scale {app}: refused\n\nNothing was changed.\n\n"
            + "\n".join(f"- {p}" for p in exc.problems)
            + "\n",
            description=f"refused: {exc}",
        )
        raise

    actor = f"scale-app/{flow_run.get_name() or 'local'}"
    reason = "scale-app: " + ", ".join(f"{k}={v}" for k, v in request.given().items())
    # Production to 0 machines or below min_running: a person confirms what goes down first.
    down = what_goes_down(request, before, inventory.environment_of(app))
    if down is not None:
        await publish_markdown(artifact_key(app), down, description="waiting for a confirmation")
        answer = await confirm_scale_down(down, confirm_timeout_minutes)
        if isinstance(answer, str):
            summary = f"{app}: {answer}: nothing changed"
            await publish_markdown(
                artifact_key(app), f"{down}\n\n**{summary}**\n", description=summary
            )
            logger.warning(summary)
            return (
                Completed(message=summary) if answer.startswith("not ") else Failed(message=summary)
            )
        actor = answer.confirmed_by
        reason += f"; scale-down confirmed by {answer.confirmed_by}"
    async with app_lock(app):
        # Read again under the lock: another change may have landed while we waited.
        before = await read_app_scale(app)
        plan = plan_scale(request, before, policy)
        logger.info("%s: %s", app, "; ".join(plan.commands()))
        await apply_scale_plan(plan, actor=actor, reason=reason)
        after = await read_app_scale(app)

    rows = diff(before, after)
    changed = [f"{r.setting} {r.before} -> {r.after}" for r in rows if r.changed]
    summary = f"{app}: " + ("; ".join(changed) if changed else "already as asked, nothing changed")
    await publish_markdown(artifact_key(app), render_diff(request, plan, rows), description=summary)
    logger.info(summary)
    return Completed(message=summary)


if __name__ == "__main__":
    import asyncio
    import sys

    asyncio.run(scale_app(app=sys.argv[1], count=int(sys.argv[2])))
