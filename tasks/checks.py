"""A check that fails ends its task run Failed, so the flow run's graph shows where it broke.

A check task (smoke test, tests, parity) returns its report; when the report's verdict is
"failed" it returns `verdict(report, why)` instead: a Failed state named `Failed check`,
its message the verdict, carrying the report (Prefect uses a state a task returns as the
task run's final state, and keeps what it carries as its result: `return_value_to_state` in
prefect/states.py). The flow reads the report either way with `await checked(task, ...)`,
and decides: roll back, stop, or go on with an override. An error of the task itself (the
check could not be made) is raised as before. (A plain `await task(...)` of a failed check
raises: every caller goes through `checked`.)
"""

from __future__ import annotations

from typing import Any, TypeVar

from prefect.client.schemas.objects import State
from prefect.states import Failed
from prefect.tasks import Task

FAILED_CHECK = "Failed check"
R = TypeVar("R")


class Carried:
    """A failed check's report, as its Failed state carries it: Prefect logs the state's repr
    ("Task run failed with state: ..."), which must not spell out the whole report."""

    def __init__(self, report: object) -> None:
        self.report = report

    def __repr__(self) -> str:
        return f"<the check's report: {type(self.report).__name__}>"


def verdict(report: R, failed: str | None) -> R | State[Any]:
    """`report` when the check passed (`failed` is None), else a Failed state named
    FAILED_CHECK whose message is `failed` and whose result carries `report`."""
    if failed is None:
        return report
    return Failed(name=FAILED_CHECK, message=failed, data=Carried(report))


async def checked(task: Task[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run the check task and return its report, passed or failed."""
    state = await task(*args, return_state=True, **kwargs)
    result = await state.aresult(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    return result.report if isinstance(result, Carried) else result
