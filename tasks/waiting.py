"""How a run waits for a person at a form, and what its state and its log say meanwhile.

Prefect's `suspend_flow_run` and `pause_flow_run` (prefect/flow_runs.py, 3.9.1) name the
waiting state `Suspended` or `Paused` and take no name. A gate that asks again after a refused
answer must say so where people look, the run's header and the runs list, within seconds: so
`wait_at_form` does what those two do, with a state name and message of our choosing:

* it proposes a PAUSED state carrying the pause key and the form's run-input keyset
  (`reschedule` for a suspend), and saves the form's JSON schema under that keyset;
* a key that already fired answers Running: its stored answer is returned at once (this is
  how a resumed suspended run gets the answer on its replay);
* suspend: the process ends with Prefect's `Pause` signal (the flow engine records the state;
  the worker starts the run again when it is resumed); pause: poll until resumed.

The run-input keys stay Prefect's own (`suspended-<key>-schema`, ...: input keys allow only
letters, digits and dashes, so they cannot follow a free state name), so the UI's Resume form
and Prefect's reads of the answer work unchanged. The server only looks at the state's type
and `pause_reschedule`, never its name, to resume it (prefect/server/api/flow_runs.py
`resume_flow_run`, orchestration/core_policy.py `HandleResumingPausedFlows`).

When the process ends at a suspend, Prefect's flow engine logs `Finished in state
Suspended(...)` at ERROR (flow_engine.py logs every final state but Completed so). Waiting for
a person is no error: `WaitingIsNotAnError` (on the flow-run logger, installed with the
redacting filter) logs that line at INFO; the caller logs, just before, what the person must do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TypeVar

from prefect import get_client, get_run_logger
from prefect.context import FlowRunContext
from prefect.exceptions import Abort, FlowPauseTimeout, Pause
from prefect.input import RunInput
from prefect.input.run_input import keyset_from_base_key, run_input_subclass_from_type
from prefect.states import Paused
from prefect.utilities.engine import propose_state

F = TypeVar("F", bound=RunInput)


async def wait_at_form(
    form: type[F],
    key: str,
    *,
    durable: bool,
    timeout: int,
    poll_seconds: int = 10,
    name: str | None = None,
    message: str | None = None,
    instructions: str | None = None,
) -> F:
    """The answer at pause `key`: suspended (`durable`, a deployment run: this process ends
    the first time, the answer comes back on the replay) or paused (polls every
    `poll_seconds`; FlowPauseTimeout after `timeout`). The waiting state is named `name`
    (default Prefect's: `Suspended` or `Paused`) with `message`; Prefect fails the run after
    `timeout` seconds either way. `instructions` (what the person must do) are logged when
    the run starts waiting, not when a replay finds the answer."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("a run waits at a form only inside a flow run")
    flow_run_id = context.flow_run.id
    kind = "Suspended" if durable else "Paused"
    proposed = Paused(
        name=name or kind,
        message=message,
        reschedule=durable,
        timeout_seconds=timeout,
        pause_key=key,
    )
    model = run_input_subclass_from_type(form)
    keyset = keyset_from_base_key(f"{kind.lower()}-{key}")  # as Prefect names them
    proposed.state_details.run_input_keyset = keyset
    async with get_client() as client:
        try:
            state = await propose_state(client=client, state=proposed, flow_run_id=flow_run_id)
        except Abort as exc:
            raise RuntimeError(f"the run cannot wait at {key}: {exc}") from None
        if state.is_running():  # this key fired before: its stored answer
            answer: F = await model.aload(keyset)
            return answer
        if not state.is_paused():
            raise RuntimeError(f"the run cannot wait at {key}: the server answered {state}")
        await model.asave(keyset)
        if instructions:
            get_run_logger().info("%s", instructions)
        if durable:
            raise Pause(state=state)  # the flow engine ends this process; resume replays
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            await asyncio.sleep(max(0.0, min(poll_seconds, until - time.monotonic())))
            run = await client.read_flow_run(flow_run_id)
            if run.state is not None and run.state.is_running():
                resumed: F = await model.aload(keyset)
                return resumed
    raise FlowPauseTimeout("Flow run was paused and never resumed.")


class WaitingIsNotAnError(logging.Filter):
    """Prefect's `Finished in state <a PAUSED state>` is logged at INFO, not ERROR: the run
    waits for a person (its previous line says what to do)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and _is_waiting(record):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _is_waiting(record: logging.LogRecord) -> bool:
    # str(state): `Suspended(type=PAUSED)`, `Refused: ask again('why', type=PAUSED)`, or
    # `Paused()` (the type is left out when it is the name).
    message = record.getMessage()
    return message.startswith("Finished in state ") and (
        "type=PAUSED)" in message or message.startswith("Finished in state Paused(")
    )


def install_waiting_filter() -> None:
    """On the flow-run logger (where the engine logs a run's final state), idempotently."""
    logger = logging.getLogger("prefect.flow_runs")
    if not any(isinstance(f, WaitingIsNotAnError) for f in logger.filters):
        logger.addFilter(WaitingIsNotAnError())
