"""Cost Management / Enable Auto-Stop, pure: the exact service changes and their saving.

The runbook's `fly autoscale set min=0 max=1` no longer exists (docs/fly.md, "flyctl"); its
replacement is Fly Proxy's autostop on the app's services:
`autostop: "stop"`, `autostart: true` and `min_machines_running: N`. The plan shows each
machine's services before and after; the change itself is a release carrying the app config
with these settings (hotdash_ops.fly.app_config says why). Machines without a service are
never stopped by the proxy, so they are reported and left alone.

Estimated saving: a machine the proxy may stop pays its root filesystem instead of its
compute while stopped. How long it stays stopped depends on traffic, which we cannot know in
advance, so the estimate takes an expected idle share (default one half) of each machine the
change newly allows to stop (machines beyond `min_machines_running`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pydantic import BaseModel, Field

from hotdash_ops.cost.estimate import GONE_STATES, RUNNING_STATES, started_prices
from hotdash_ops.cost.pricing import PriceTable
from hotdash_ops.fly.app_config import ServiceSettings
from hotdash_ops.models import Machine, MachineService

DEFAULT_IDLE_SHARE = 0.5


class ServiceChange(BaseModel):
    """One service of one machine: before and after."""

    index: int
    internal_port: int | None = None
    before: ServiceSettings
    after: ServiceSettings


class MachineChange(BaseModel):
    """What enabling auto-stop does to one machine (no changes: already configured)."""

    app: str
    machine_id: str
    state: str
    region: str
    changes: list[ServiceChange] = Field(default_factory=list)
    skipped: str | None = None  # why the machine is left alone

    @property
    def configured(self) -> bool:
        """Already set as asked: nothing to send."""
        return self.skipped is None and not self.changes


class AutoStopPlan(BaseModel):
    """Enable Auto-Stop for one app: every machine's changes and the estimated saving."""

    app: str
    min_machines_running: int
    machines: list[MachineChange]
    saving: float  # per month; negative when the change keeps more machines running
    idle_share: float

    @property
    def to_change(self) -> list[MachineChange]:
        return [m for m in self.machines if m.changes]

    @property
    def done(self) -> bool:
        """Nothing left to change (a re-run is a no-op)."""
        return not self.to_change


def target(min_machines_running: int) -> ServiceSettings:
    """The settings every service gets."""
    if min_machines_running < 0:
        raise ValueError("min_machines_running: must be 0 or more")
    return ServiceSettings(
        autostop="stop", autostart=True, min_machines_running=min_machines_running
    )


def machine_change(app: str, machine: Machine, min_machines_running: int) -> MachineChange:
    """The services of `machine` that differ from the target, before and after."""
    want = target(min_machines_running)
    change = MachineChange(
        app=app,
        machine_id=machine.id,
        state=machine.state,
        region=machine.region,
    )
    if machine.state in GONE_STATES:
        change.skipped = f"machine is {machine.state}"
        return change
    if machine.config is None:
        # Without the full config an update would replace it with a partial one.
        change.skipped = "config unknown (host unreachable): not safe to update"
        return change
    if not machine.config.services:
        change.skipped = "no services: Fly Proxy only stops machines behind a service"
        return change
    for index, service in enumerate(machine.config.services):
        before = ServiceSettings(
            autostop=service.autostop,
            autostart=service.autostart,
            min_machines_running=service.min_machines_running,
        )
        if (before.autostop, before.autostart, before.min_machines_running or 0) != (
            want.autostop,
            want.autostart,
            want.min_machines_running,
        ):
            change.changes.append(
                ServiceChange(
                    index=index, internal_port=service.internal_port, before=before, after=want
                )
            )
    return change


def _services(machine: Machine) -> list[MachineService]:
    return machine.config.services if machine.config else []


def _stoppable(running: Sequence[Machine], min_running: int, autostop_on: int) -> int:
    """How many of the running machines the proxy may stop: those whose services auto-stop,
    but never below `min_machines_running` (an app-wide floor in Fly Proxy)."""
    return min(autostop_on, max(0, len(running) - min_running))


def estimated_saving(
    machines: Sequence[Machine],
    prices: PriceTable,
    min_machines_running: int,
    idle_share: float = DEFAULT_IDLE_SHARE,
) -> float:
    """Monthly saving of setting auto-stop with `min_machines_running` on these machines.

    (machines newly allowed to stop) x (average started price - stopped price) x idle share.
    """
    if not 0 <= idle_share <= 1:
        raise ValueError("idle_share: must be between 0 and 1")
    served = [m for m in machines if m.config is not None and m.config.services]
    running = [m for m in served if m.state in RUNNING_STATES]
    if not running:
        return 0.0
    services = [s for m in served for s in _services(m)]
    min_now = max((s.min_machines_running or 0) for s in services)
    on_now = len(
        [m for m in running if all(s.autostop in ("stop", "suspend") for s in _services(m))]
    )
    newly = _stoppable(running, min_machines_running, len(running)) - _stoppable(
        running, min_now, on_now
    )
    guests = pd.DataFrame(
        [
            {
                "cpu_kind": m.guest.cpu_kind if m.guest else "shared",
                "cpus": m.guest.cpus if m.guest else 1,
                "memory_mb": m.guest.memory_mb if m.guest else 256,
                "region": m.region,
            }
            for m in running
        ]
    )
    per_machine = float(started_prices(guests, prices).mean()) - prices.stopped_machine()
    return newly * per_machine * idle_share


def plan(
    app: str,
    machines: Sequence[Machine],
    prices: PriceTable,
    min_machines_running: int = 0,
    idle_share: float = DEFAULT_IDLE_SHARE,
) -> AutoStopPlan:
    """Enable Auto-Stop for `app`: the exact changes, machine by machine, and the saving."""
    return AutoStopPlan(
        app=app,
        min_machines_running=min_machines_running,
        machines=[machine_change(app, m, min_machines_running) for m in machines],
        saving=estimated_saving(machines, prices, min_machines_running, idle_share),
        idle_share=idle_share,
    )
