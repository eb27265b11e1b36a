"""Enable Auto-Stop, pure (hotdash_ops.cost.autostop): exact service changes and the saving."""

from __future__ import annotations

from typing import Any

import pytest

from hotdash_ops.cost import autostop
from hotdash_ops.models import Machine
from tests.core.cost.test_estimate import PRICES

ROOTFS = 0.15


def m(
    mid: str,
    state: str = "started",
    services: list[dict[str, Any]] | None = None,
    memory_mb: int = 256,
) -> Machine:
    config: dict[str, Any] = {
        "image": "registry.fly.io/app:deployment-1",
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": memory_mb},
        "metadata": {"fly_process_group": "app"},
        "restart": {"policy": "on-failure"},
    }
    if services is not None:
        config["services"] = services
    return Machine.model_validate({"id": mid, "state": state, "region": "ord",
                                   "instance_id": "01H0000000000000000000V001",
                                   "config": config})  # fmt: skip


def svc(autostop_: Any = "off", autostart: bool | None = True, min_running: int | None = 1, port: int = 8080) -> dict[str, Any]:  # fmt: skip
    return {
        "protocol": "tcp", "internal_port": port, "autostop": autostop_, "autostart": autostart,
        "min_machines_running": min_running,
        "ports": [{"port": 443, "handlers": ["tls", "http"]}],
        "checks": [{"type": "http", "path": "/health"}], "custom_key": "kept",
    }  # fmt: skip


def test_only_the_services_that_differ_are_changed() -> None:
    machine = m("m1", services=[svc("off", True, 1, 8080), svc(True, True, 0, 9090)])  # True = stop
    change = autostop.machine_change("app", machine, 0)
    assert [c.index for c in change.changes] == [0]
    [c] = change.changes
    assert c.internal_port == 8080
    assert c.before.text() == "autostop=off, autostart=True, min_machines_running=1"
    assert c.after.text() == "autostop=stop, autostart=True, min_machines_running=0"
    assert not change.configured and change.skipped is None


def test_already_configured_gone_unknown_and_serviceless_machines() -> None:
    assert autostop.machine_change("app", m("m1", services=[svc("stop", True, 0)]), 0).configured
    # autostart unset is not "on": it is written explicitly
    assert autostop.machine_change("app", m("m1", services=[svc("stop", None, 0)]), 0).changes
    assert autostop.machine_change("app", m("m2", services=[]), 0).skipped == (
        "no services: Fly Proxy only stops machines behind a service"
    )
    assert (
        autostop.machine_change("app", m("m3", "destroyed", [svc()]), 0).skipped
        == "machine is destroyed"
    )
    blind = Machine.model_validate({"id": "m4", "state": "started", "region": "ord"})
    assert "not safe to update" in (autostop.machine_change("app", blind, 0).skipped or "")


def test_saving_counts_machines_newly_allowed_to_stop() -> None:
    price = 1.94 + 0.75 * 5.0  # shared-cpu-1x with 1024 MB
    off = [m("a", services=[svc("off", True, 1)], memory_mb=1024),
           m("b", services=[svc("off", True, 1)], memory_mb=1024)]  # fmt: skip
    assert autostop.estimated_saving(off, PRICES, 0, 0.5) == pytest.approx(
        2 * (price - ROOTFS) * 0.5
    )
    assert autostop.estimated_saving(off, PRICES, 1, 1.0) == pytest.approx(1 * (price - ROOTFS))
    on = [m("a", services=[svc("stop", True, 2)], memory_mb=1024),
          m("b", services=[svc("stop", True, 2)], memory_mb=1024)]  # fmt: skip
    assert autostop.estimated_saving(on, PRICES, 0, 0.5) == pytest.approx(
        2 * (price - ROOTFS) * 0.5
    )
    assert autostop.estimated_saving(on, PRICES, 2, 0.5) == 0.0
    # raising min_machines_running keeps machines running: a negative saving (a cost)
    low = [m("a", services=[svc("stop", True, 0)])]
    assert autostop.estimated_saving(low, PRICES, 1, 0.5) == pytest.approx(-(1.94 - ROOTFS) * 0.5)
    stopped = [m("a", "stopped", services=[svc("off", True, 0)])]
    assert autostop.estimated_saving(stopped, PRICES, 0, 0.5) == 0.0
    with pytest.raises(ValueError, match="idle_share: must be between 0 and 1"):
        autostop.estimated_saving(off, PRICES, 0, 1.5)


def test_plan_lists_every_machine() -> None:
    plan = autostop.plan(
        "app", [m("a", services=[svc("off")]), m("b", services=[svc("stop", True, 0)]), m("c", services=[])],
        PRICES, 0, 0.5,
    )  # fmt: skip
    assert [c.machine_id for c in plan.to_change] == ["a"]
    assert [c.machine_id for c in plan.machines if c.configured] == ["b"]
    assert [c.machine_id for c in plan.machines if c.skipped] == ["c"]
    assert not plan.done and plan.saving == pytest.approx((1.94 - ROOTFS) * 0.5)
    with pytest.raises(ValueError, match="min_machines_running: must be 0 or more"):
        autostop.target(-1)
