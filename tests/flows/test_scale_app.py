"""scale-app against flysim (real HTTP, flysim-fly as a subprocess) and a real Prefect server."""

from __future__ import annotations

import json

import pytest

from flows.scale_app import scale_app
from hotdash_ops.scaling import AutoStop, ScaleError, VmSize
from tasks import fly_access
from tests.artifacts import artifact_of
from tests.paused_forms import form_saved
from tests.timeline import most_down_at_once

pytestmark = pytest.mark.usefixtures("prefect_server")

APP = "hotdash-staging"


def machines_of(flysim, app: str = APP) -> list[dict]:
    return flysim.state()["apps"][app]["machines"]


def audit_actions(tmp_path) -> list[dict]:
    path = tmp_path / "state" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def report_of(state) -> str:
    return str((await artifact_of(state, f"scale-{APP}")).data)


async def test_count_adds_machines_and_changes_nothing_else(flysim, tmp_path) -> None:
    assert len(machines_of(flysim)) == 1
    state = await scale_app(app=APP, count=3, return_state=True)
    assert state.is_completed(), state.message
    machines = machines_of(flysim)
    assert len(machines) == 3
    # Only the count was asked: size and services are as before on every machine.
    assert {m["config"]["guest"]["memory_mb"] for m in machines} == {512}
    assert {m["config"]["services"][0]["min_machines_running"] for m in machines} == {0}
    kinds = [m["kind"] for m in flysim.state()["mutations"]]
    assert kinds == ["scale_count"]
    report = await report_of(state)
    assert "| machines | 1 | 3 **(changed)** |" in report
    assert "| size | shared-cpu-1x 512 MB | shared-cpu-1x 512 MB |" in report
    [record] = audit_actions(tmp_path)
    assert record["action"] == "scale.count" and record["target"] == APP
    assert record["detail"]["count"] == 3 and record["detail"]["outcome"] == "ok"


async def test_vm_size_and_memory_change_every_machine(flysim) -> None:
    state = await scale_app(
        app="hotdash-production", vm_size=VmSize.PERFORMANCE_1X, memory_mb=4096, return_state=True
    )
    assert state.is_completed(), state.message
    guests = [m["config"]["guest"] for m in machines_of(flysim, "hotdash-production")]
    assert len(guests) == 2
    assert all(g == {"cpu_kind": "performance", "cpus": 1, "memory_mb": 4096} for g in guests), (
        guests
    )
    # flyctl's `scale vm` updates each machine through the Machines API, one after the other.
    assert [m["kind"] for m in flysim.state()["mutations"]] == ["machine_update"] * 2
    assert most_down_at_once(flysim.state()["apps"]["hotdash-production"]["timeline"]) == 1


async def test_min_running_and_auto_stop_set_on_the_services(flysim, tmp_path) -> None:
    state = await scale_app(
        app="hotdash-llamaindex-mcp", min_running=0, auto_stop=AutoStop.STOP, return_state=True
    )
    assert state.is_completed(), state.message
    [machine] = machines_of(flysim, "hotdash-llamaindex-mcp")
    service = machine["config"]["services"][0]
    assert (service["autostop"], service["autostart"], service["min_machines_running"]) == (
        "stop",
        True,
        0,
    )
    assert machine["config"]["guest"]["memory_mb"] == 1024  # untouched
    # A release carrying the app config with the settings (the next deploy keeps them).
    assert [m["kind"] for m in flysim.state()["mutations"]] == ["deploy", "machine_update"]
    assert [r["action"] for r in audit_actions(tmp_path)] == [
        "scale.services.started", "scale.services",
    ]  # fmt: skip


async def test_min_running_set_by_scale_app_survives_the_next_deploy(flysim) -> None:
    app = "hotdash-production"
    state = await scale_app(app=app, min_running=2, return_state=True)
    assert state.is_completed(), state.message

    image = flysim.state()["apps"][app]["current_image"]
    fly_access.flyctl().deploy(app, image)  # e.g. a rollback: no fly.toml, the release's config

    machines = machines_of(flysim, app)
    assert [m["config"]["services"][0]["min_machines_running"] for m in machines] == [2, 2]
    assert most_down_at_once(flysim.state()["apps"][app]["timeline"]) == 1


async def test_count_then_min_running_reaches_the_new_machines(flysim) -> None:
    state = await scale_app(app=APP, count=2, min_running=2, return_state=True)
    assert state.is_completed(), state.message
    machines = machines_of(flysim)
    assert len(machines) == 2
    assert [m["config"]["services"][0]["min_machines_running"] for m in machines] == [2, 2]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"app": APP, "vm_size": VmSize.SHARED_CPU_1X, "memory_mb": 4096},
            "memory_mb: shared-cpu-1x takes 256-2048 MB (shared: 256-2048 MB per CPU), not 4096",
        ),
        (
            {"app": APP, "count": 11},
            "count: 11 is over the maximum of 10 machines for hotdash-staging "
            "(inventory scaling.max_count)",
        ),
        (
            {"app": APP, "count": 3, "max_per_region": 1},
            "max_per_region: 3 machines do not fit in 1 region(s) (ord) with at most 1 per region",
        ),
        (
            {"app": APP, "min_running": 2},
            "min_running: 2 is more than the 1 machines hotdash-staging has",
        ),
    ],
)
async def test_refused_requests_change_nothing(flysim, tmp_path, params, message) -> None:
    before = flysim.state()
    state = await scale_app(**params, return_state=True)
    assert state.is_failed()
    exc = await state.result(raise_on_failure=False)
    assert isinstance(exc, ScaleError)
    assert message in str(exc)
    assert flysim.state() == before
    assert audit_actions(tmp_path) == []


async def test_an_unknown_app_is_refused_by_the_form_with_the_known_apps(flysim, tmp_path) -> None:
    before = flysim.state()
    state = await scale_app(app="hotdash-nope", count=2, return_state=True)
    assert state.is_failed()
    assert "app: app 'hotdash-nope' is not in the inventory (known: hotdash-staging" in (
        state.message
    )
    assert flysim.state() == before and audit_actions(tmp_path) == []


async def test_refusal_is_explained_in_the_artifact(flysim) -> None:
    state = await scale_app(app=APP, count=11, return_state=True)
    assert state.is_failed()
    report = await report_of(state)
    assert "refused" in report and "Nothing was changed" in report
    assert "count: 11 is over the maximum of 10" in report


PROD = "hotdash-production"


async def paused_scale(**params) -> tuple:
    """scale-app started in the background; its run once it waits for the confirmation."""
    import asyncio

    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    run = asyncio.create_task(scale_app(return_state=True, **params))
    for _ in range(300):
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["scale-app"]))
            )
            waiting = [r for r in runs if r.state and r.state.is_paused()]
            if waiting and await form_saved(client, waiting[0]):
                return run, waiting[0]
        await asyncio.sleep(0.2)
    raise AssertionError("scale-app never paused")


async def test_production_to_zero_waits_for_a_confirmation_that_says_what_goes_down(
    flysim, tmp_path, monkeypatch
) -> None:
    import asyncio

    from prefect.flow_runs import aresume_flow_run
    from prefect.input.actions import read_flow_run_input

    monkeypatch.setenv("HOTDASH_PAUSE_POLL_SECONDS", "1")
    run, paused = await paused_scale(app=PROD, count=0)
    assert len(machines_of(flysim, PROD)) == 2  # nothing happens while it waits
    text = await read_flow_run_input("paused-confirm-scale-down-description", flow_run_id=paused.id)
    assert text.startswith(f"**Scale {PROD} (production) from 2 machine(s) to 0?**")
    assert "2 machine(s) are destroyed (now 2 started; regions ord: 2)" in text
    assert "serves nothing" in text and "fewer than min_running 1" in text
    await aresume_flow_run(paused.id, run_input={"confirm": False, "confirmed_by": "Dana Ops"})
    state = await asyncio.wait_for(run, 60)
    assert state.is_completed()
    assert state.message == f"{PROD}: not confirmed by Dana Ops: nothing changed"
    assert len(machines_of(flysim, PROD)) == 2 and audit_actions(tmp_path) == []

    run, paused = await paused_scale(app=PROD, count=0)
    await aresume_flow_run(paused.id, run_input={"confirm": True, "confirmed_by": "Dana Ops"})
    state = await asyncio.wait_for(run, 60)
    assert state.is_completed(), state.message
    assert machines_of(flysim, PROD) == []
    [record] = audit_actions(tmp_path)
    assert (record["actor"], record["action"]) == ("Dana Ops", "scale.count")
    assert "scale-down confirmed by Dana Ops" in record["reason"]


async def test_below_min_running_on_production_asks_and_staging_does_not(
    flysim, tmp_path, monkeypatch
) -> None:
    import asyncio

    from prefect.flow_runs import aresume_flow_run

    monkeypatch.setenv("HOTDASH_PAUSE_POLL_SECONDS", "1")
    from prefect.input.actions import read_flow_run_input

    # Staging to 0: no confirmation (not production).
    assert (await scale_app(app=APP, count=0, return_state=True)).is_completed()
    # Production kept at 2 running; then 2 -> 1 is below min_running: a confirmation.
    assert (await scale_app(app=PROD, min_running=2, return_state=True)).is_completed()
    run, paused = await paused_scale(app=PROD, count=1)
    text = await read_flow_run_input("paused-confirm-scale-down-description", flow_run_id=paused.id)
    assert "1 is fewer than min_running 2" in text and "serves nothing" not in text
    await aresume_flow_run(paused.id, run_input={"confirm": True, "confirmed_by": "   "})
    state = await asyncio.wait_for(run, 60)
    assert state.is_failed()
    assert state.message == (
        f"{PROD}: confirmation refused (confirmed_by: must not be empty): nothing changed"
    )
    assert len(machines_of(flysim, PROD)) == 2
