"""Scale requests against Fly's rules and our limits (pure, no Prefect)."""

from __future__ import annotations

import pytest

from hotdash_ops.inventory import load_inventory
from hotdash_ops.models import VM_PRESETS, Machine
from hotdash_ops.scaling import (
    AppScale,
    AutoStop,
    ScaleError,
    ScalePlan,
    ScaleRequest,
    ScalingPolicy,
    VmSize,
    check_request,
    describe_app,
    diff,
    plan_scale,
    render_diff,
    scaling_policy,
)
from tests.conftest import ROOT

POLICY = ScalingPolicy(max_count=10, apps={"big": {"max_count": 20}})


def machine(
    mid: str,
    *,
    region: str = "ord",
    cpu_kind: str = "shared",
    cpus: int = 1,
    memory_mb: int = 256,
    services: bool = True,
    state: str = "started",
    group: str = "app",
) -> Machine:
    config = {
        "image": "registry.fly.io/app:v1",
        "guest": {"cpu_kind": cpu_kind, "cpus": cpus, "memory_mb": memory_mb},
        "metadata": {"fly_process_group": group},
        "services": (
            [
                {
                    "internal_port": 8080,
                    "autostop": "off",
                    "autostart": True,
                    "min_machines_running": 0,
                }
            ]
            if services
            else []
        ),  # fmt: skip
        "restart": {"policy": "on-failure"},
    }
    return Machine.model_validate({"id": mid, "state": state, "region": region, "config": config})


def current(*machines: Machine, app: str = "app") -> AppScale:
    return describe_app(app, list(machines))


def refused(request: ScaleRequest, scale: AppScale | None = None) -> str:
    with pytest.raises(ScaleError) as info:
        if scale is None:
            check_request(request, POLICY)
        else:
            plan_scale(request, scale, POLICY)
    return str(info.value)


def test_vm_size_enum_is_exactly_flys_presets() -> None:
    assert [s.value for s in VmSize] == list(VM_PRESETS)


def test_shared_cpu_1x_with_4096_mb_is_refused_naming_the_rule() -> None:
    msg = refused(ScaleRequest(app="app", vm_size=VmSize.SHARED_CPU_1X, memory_mb=4096))
    assert (
        msg == "memory_mb: shared-cpu-1x takes 256-2048 MB (shared: 256-2048 MB per CPU), not 4096"
    )


def test_performance_memory_must_be_a_multiple_of_2048() -> None:
    msg = refused(ScaleRequest(app="app", vm_size=VmSize.PERFORMANCE_2X, memory_mb=5000))
    assert msg == "memory_mb: performance sizes need a multiple of 2048 MB, not 5000"


def test_count_over_the_configured_maximum_is_refused() -> None:
    assert refused(ScaleRequest(app="app", count=11)) == (
        "count: 11 is over the maximum of 10 machines for app (inventory scaling.max_count)"
    )
    check_request(ScaleRequest(app="big", count=20), POLICY)  # its own limit
    assert "maximum of 20" in refused(ScaleRequest(app="big", count=21))


def test_count_zero_is_allowed() -> None:
    plan = plan_scale(ScaleRequest(app="app", count=0), current(machine("m1")), POLICY)
    assert plan.count == 0


def test_nothing_to_change_is_refused() -> None:
    assert refused(ScaleRequest(app="app")) == (
        "app: nothing to change; give at least one of vm_size, memory_mb, count, min_running, "
        "auto_stop"
    )


def test_max_per_region_needs_count_and_room() -> None:
    assert "max_per_region: only applies with count" in refused(
        ScaleRequest(app="app", max_per_region=1)
    )
    scale = current(machine("m1", region="ord"), machine("m2", region="lhr"))
    assert refused(ScaleRequest(app="app", count=5, max_per_region=2), scale) == (
        "max_per_region: 5 machines do not fit in 2 region(s) (lhr, ord) with at most 2 per region"
    )
    plan = plan_scale(ScaleRequest(app="app", count=4, max_per_region=2), scale, POLICY)
    assert plan.commands() == ["fly scale count 4 -a app --max-per-region 2 --yes"]


def test_every_problem_is_reported_at_once() -> None:
    err = refused(ScaleRequest(app="app", vm_size=VmSize.SHARED_CPU_1X, memory_mb=100, count=50))
    assert err.startswith("memory_mb: shared-cpu-1x takes 256-2048 MB")
    assert "; count: 50 is over the maximum" in err


def test_memory_alone_keeps_the_current_preset() -> None:
    scale = current(machine("m1", cpus=2, memory_mb=512), machine("m2", cpus=2, memory_mb=512))
    plan = plan_scale(ScaleRequest(app="app", memory_mb=2048), scale, POLICY)
    assert plan.vm_size == VmSize.SHARED_CPU_2X
    assert plan.commands() == ["fly scale vm shared-cpu-2x -a app --vm-memory 2048"]
    assert "memory_mb: shared-cpu-2x takes 512-4096 MB" in refused(
        ScaleRequest(app="app", memory_mb=8192), scale
    )
    mixed = current(machine("m1", cpus=1), machine("m2", cpus=2, memory_mb=512))
    assert "memory_mb: the machines of app have different or custom sizes" in refused(
        ScaleRequest(app="app", memory_mb=1024), mixed
    )


def test_min_running_rules() -> None:
    scale = current(machine("m1"), machine("m2"))
    assert refused(ScaleRequest(app="app", min_running=3), scale) == (
        "min_running: 3 is more than the 2 machines app has"
    )
    assert refused(ScaleRequest(app="app", count=1, min_running=2)) == (
        "min_running: 2 is more than the 1 machines asked for (count)"
    )
    bare = current(machine("m1", services=False))
    assert refused(ScaleRequest(app="app", auto_stop=AutoStop.STOP), bare).startswith(
        "auto_stop: 1 machine(s) of app have no services; auto-stop and min running act through "
        "Fly Proxy services"
    )
    plan = plan_scale(ScaleRequest(app="app", count=3, min_running=3), scale, POLICY)
    assert plan.changes_services and plan.count == 3


def test_steps_run_vm_then_count_then_services() -> None:
    plan = plan_scale(
        ScaleRequest(
            app="app",
            vm_size=VmSize.SHARED_CPU_2X,
            count=2,
            min_running=1,
            auto_stop=AutoStop.SUSPEND,
        ),
        current(machine("m1")),
        POLICY,
    )
    assert plan.commands() == [
        "fly scale vm shared-cpu-2x -a app",
        "fly scale count 2 -a app --yes",
        "fly config show -a app, set autostop=suspend, autostart=true, min_machines_running=1 "
        "on its services, fly deploy -a app -c <that config> --image <the running image> "
        "--strategy rolling --max-unavailable 1 --yes",
    ]


def test_service_settings_are_what_was_given_and_auto_stop_turns_auto_start_on() -> None:
    def settings(**given: object) -> tuple[object, object, object]:
        want = ScalePlan(app="app", **given).service_settings()
        return want.autostop, want.autostart, want.min_machines_running

    assert settings(min_running=2) == (None, None, 2)  # the rest is left as it is
    assert settings(auto_stop=AutoStop.STOP) == ("stop", True, None)
    assert settings(auto_stop=AutoStop.OFF, min_running=0) == ("off", None, 0)


def test_describe_and_diff_show_before_and_after() -> None:
    before = current(machine("m1"), machine("x", group="fly_app_release_command"))
    assert before.machines == 1  # flyctl's release-command machine is not scaled
    after = current(
        machine("m1", cpus=2, memory_mb=512), machine("m2", region="lhr", cpus=2, memory_mb=512)
    )
    rows = {r.setting: r for r in diff(before, after)}
    assert (rows["machines"].before, rows["machines"].after) == ("1", "2")
    assert rows["size"].after == "shared-cpu-2x 512 MB"
    assert rows["regions"].after == "lhr ×1, ord ×1"
    assert not rows["auto-stop"].changed
    text = render_diff(ScaleRequest(app="app", count=2), None, list(rows.values()))
    assert "| machines | 1 | 2 **(changed)** |" in text
    assert "Asked: `count=2`" in text


def test_policy_from_the_inventory_and_bad_policies() -> None:
    inventory = load_inventory(ROOT / "deployments/inventory.yaml")
    assert scaling_policy(inventory.scaling).max_count >= 1
    with pytest.raises(ValueError, match=r"scaling\.max_count: Input should be less than or equal"):
        scaling_policy({"max_count": 1000})
    with pytest.raises(ValueError, match=r"scaling\.maxcount: Extra inputs are not permitted"):
        scaling_policy({"maxcount": 3})


def test_what_goes_down_only_for_production_to_zero_or_below_min_running() -> None:
    from hotdash_ops.scaling import AppScale, ScaleRequest, what_goes_down

    prod = AppScale(app="web", machines=3, started=3, regions={"ord": 2, "iad": 1},
                    min_running={"2": 3})  # fmt: skip
    assert what_goes_down(ScaleRequest(app="web", count=0), prod, "staging") is None
    assert (
        what_goes_down(ScaleRequest(app="web", vm_size="shared-cpu-2x"), prod, "production") is None
    )
    assert what_goes_down(ScaleRequest(app="web", count=2), prod, "production") is None
    below = what_goes_down(ScaleRequest(app="web", count=1), prod, "production")
    assert below is not None
    assert "1 is fewer than min_running 2" in below and "serves nothing" not in below
    assert "2 machine(s) are destroyed (now 3 started; regions ord: 2, iad: 1)" in below
    down = what_goes_down(ScaleRequest(app="web", count=0), prod, "production")
    assert down is not None and "Production is DOWN" in down
    # A new min_running given with the count is the floor that counts.
    assert (
        what_goes_down(ScaleRequest(app="web", count=1, min_running=1), prod, "production") is None
    )
