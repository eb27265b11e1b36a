"""Deadlines for runs that wait for a person (deploy-production's approvals, incident-response's
decision): a scheduled run of a small timer deployment, not a process that waits.

A waiting run is suspended (no process holds it; docs/prefect.md, "Approvals and decisions").
Prefect's own pause timeout fails such a run with its message and nothing can tell people,
so our deadlines are timer runs instead: the waiting run schedules a run of its timer
deployment at the moment that matters (`schedule_timer`), with an idempotency key so a replay
of the waiting run schedules nothing twice. When it starts, the timer run

* waits out the few seconds a worker may start it early (`wait_until`),
* finds whether the run still waits at a pause (`still_waiting`; a run of another flow, or
  one decided meanwhile, is left alone),
* and acts: tells people (an escalation), or wakes the run with an answer that arrives after
  its deadline (`wake`), which the run reads as "no decision in time".

`received_at` is when an answer was stored (server time): that, not the time the run replays,
is what meets a deadline. Once decided, the run cancels timers not yet started
(`cancel_timer`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from prefect import get_client, get_run_logger
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.objects import FlowRun, State
from prefect.deployments import arun_deployment
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import aresume_flow_run
from prefect.input import RunInput
from prefect.input.run_input import keyset_from_paused_state
from prefect.states import Cancelled, Paused, Suspended

from tasks.waiting import wait_at_form

MAX_EARLY_SECONDS = 600  # how early a timer run may start and still wait for its time
# Prefect's own pause timeout, after our deadline: a backstop only (docs/prefect.md).
PREFECT_TIMEOUT_GRACE = timedelta(minutes=15)
F = TypeVar("F", bound=RunInput)


async def wait_for_answer(
    form: type[F],
    key: str,
    *,
    durable: bool,
    deadline: datetime,
    poll_seconds: int,
    name: str | None = None,
    message: str | None = None,
    instructions: str | None = None,
) -> F | None:
    """The answer at pause `key`: suspended (`durable`: a deployment run; the process exits
    the first time and the stored answer comes back on the replay, whenever that is), or a
    blocking pause that stops waiting at `deadline` (None). Whether a stored answer came in
    time is `received_at`'s to say. The waiting state is named `name` (default Prefect's)
    with `message`, and `instructions` are logged as it starts waiting (tasks.waiting)."""
    remaining = (deadline - datetime.now(UTC)).total_seconds()
    backstop = int(max(remaining, 0) + PREFECT_TIMEOUT_GRACE.total_seconds())
    said = {"name": name, "message": message, "instructions": instructions}
    if durable:
        return await wait_at_form(form, key, durable=True, timeout=backstop, **said)
    if remaining <= 0:
        return None
    try:
        return await asyncio.wait_for(
            wait_at_form(
                form, key, durable=False, timeout=backstop, poll_seconds=poll_seconds, **said
            ),
            timeout=remaining,
        )
    except TimeoutError:
        return None


async def schedule_timer(
    flow_name: str, parameters: dict[str, Any], at: datetime, idempotency_key: str
) -> UUID | None:
    """Schedule a run of the deployment of `flow_name` at `at`; None (and a warning) when
    that deployment does not exist (the waiting run is then not woken by us)."""
    async with get_client() as client:
        deployments = await client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])), limit=1
        )
    if not deployments:
        get_run_logger().warning(
            "no deployment of %s: nothing will act at %s", flow_name, at.isoformat()
        )
        return None
    timer = await arun_deployment(
        deployments[0].id,
        parameters=parameters,
        scheduled_time=at,
        timeout=0,
        as_subflow=False,
        idempotency_key=idempotency_key,
    )
    get_run_logger().info("%s at %s: timer run %s", flow_name, at.isoformat(), timer.id)
    return timer.id


async def cancel_timer(timer_id: UUID | None, why: str) -> None:
    """A timer run not started yet is not needed any more (it would find nothing to do)."""
    if timer_id is None:
        return
    async with get_client() as client:
        timer = await client.read_flow_run(timer_id)
        if timer.state is not None and timer.state.is_scheduled():
            await client.set_flow_run_state(timer_id, Cancelled(message=why), force=True)


async def wait_until(at: datetime, field: str = "deadline") -> None:
    """Sleep until `at` if a worker started this timer run a little early; ValueError when
    it is far from due (a timer started by hand)."""
    early = (at - datetime.now(UTC)).total_seconds()
    if early > MAX_EARLY_SECONDS:
        raise ValueError(f"{field}: {at.isoformat()} is still {early:.0f} s away")
    if early > 0:
        await asyncio.sleep(early)


async def still_waiting(flow_run_id: UUID, flow_name: str) -> FlowRun:
    """The run of `flow_name`, read now (`.state.is_paused()`: it still waits). ValueError
    for a run of another flow: a timer never touches those."""
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
        flow = await client.read_flow(run.flow_id)
    if flow.name != flow_name:
        raise ValueError(f"flow_run_id: {flow_run_id} is a {flow.name} run, not {flow_name}")
    return run


def state_name(run: FlowRun) -> str | None:
    """None while the run waits at a pause; else its state's name (decided meanwhile)."""
    if run.state is not None and run.state.is_paused():
        return None
    return run.state.name if run.state else "unknown"


async def wake(flow_run_id: UUID, answer: dict[str, Any]) -> bool:
    """Resume the waiting run with `answer` (valid for its form's schema); False when Prefect
    had already expired it."""
    try:
        await aresume_flow_run(flow_run_id, run_input=answer)
    except FlowPauseTimeout:
        return False
    return True


async def received_at(flow_run_id: UUID, key: str, *, durable: bool) -> datetime:
    """When the answer at pause `key` was stored (server time)."""
    state: State[Any] = Suspended(pause_key=key) if durable else Paused(pause_key=key)
    response_key = keyset_from_paused_state(state)["response"]
    async with get_client() as client:
        found = await client.filter_flow_run_input(
            flow_run_id, key_prefix=response_key, limit=1, exclude_keys=set()
        )
    stamped = [f.created for f in found if f.key == response_key and f.created is not None]
    return stamped[0] if stamped else datetime.now(UTC)
