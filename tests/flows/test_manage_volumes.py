"""manage-volumes against flysim's cost-known scenario (flysim-fly as flyctl) and a real
Prefect server; the confirmation is given through the API, as the UI's resume form does."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.flow_runs import aresume_flow_run
from prefect.input.actions import read_flow_run_input

from flows.manage_volumes import manage_volumes
from tests.flows.cost_sim import (  # noqa: F401  (fixtures)
    artifacts_of,
    cost_sim_fixture,
    cost_sim_server_fixture,
    prices,
    volumes_of,
)
from tests.paused_forms import form_saved

pytestmark = pytest.mark.usefixtures("prefect_server")

UNUSED = "vol_stgold000000001"


def audit_records() -> list[dict]:
    path = Path(os.environ["HOTDASH_STATE_DIR"]) / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def paused_run_id(seen: set[str], timeout: float = 60) -> str:
    """The manage-volumes run that paused (and was not seen before)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with get_client() as client:
        while asyncio.get_running_loop().time() < deadline:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["manage-volumes"])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                ),
                sort=FlowRunSort.START_TIME_DESC,
            )
            fresh = [r for r in runs if str(r.id) not in seen]
            if fresh and await form_saved(client, fresh[0]):
                return str(fresh[0].id)
            await asyncio.sleep(0.2)
    raise TimeoutError("manage-volumes never paused")


async def paused_delete_unused(**params: Any) -> tuple[asyncio.Task[Any], str]:
    """Start delete-unused for real (not a dry run) and wait until it pauses for confirmation."""
    async with get_client() as client:
        seen = {
            str(r.id)
            for r in await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["manage-volumes"]))
            )
        }
    params.setdefault("app", "*")
    run = asyncio.create_task(
        manage_volumes(action="delete-unused", dry_run=False, return_state=True, **params)
    )
    return run, await paused_run_id(seen)


async def test_list_shows_every_volume_with_its_cost(cost_sim) -> None:
    state = await manage_volumes(return_state=True)
    assert state.is_completed(), state.message
    rows = {r["id"]: r for r in (await artifacts_of(state))["manage-volumes-list"]}
    vol = prices().volume_per_gb_month
    assert {
        k: (r["size_gb"], r["attached_machine"], r["monthly_cost"]) for k, r in rows.items()
    } == {
        "vol_stgdata00000001": (3, "stgrun000001", round(3 * vol, 2)),
        UNUSED: (5, "", round(5 * vol, 2)),
        "vol_mcpindex0000001": (10, "mcprun000001", round(10 * vol, 2)),
        "vol_cwtstore0000001": (10, "cwtrun000001", round(10 * vol, 2)),
    }
    assert state.message == f"4 volume(s), ${28 * vol:,.2f}/month"


async def test_volumes_in_flys_destroy_pipeline_are_gone_for_the_list_cost_and_deletion(
    cost_sim,
) -> None:
    # The raw Machines API still lists them; fly-go's GetVolumes (fly volumes list) does not.
    cost_sim.patch_app(
        "hotdash-staging",
        volumes_add=[
            {"id": "vol_forkclean000001", "name": "fork", "size_gb": 7, "state": "fork_cleanup"},
            {"id": "vol_detaching000001", "name": "old", "size_gb": 6,
             "state": "waiting_for_detach"},
            {"id": "vol_destroying00001", "name": "bye", "size_gb": 4, "state": "destroying"},
        ],
    )  # fmt: skip
    listed = await manage_volumes(return_state=True)
    vol = prices().volume_per_gb_month
    assert listed.message == f"4 volume(s), ${28 * vol:,.2f}/month"
    ids = {r["id"] for r in (await artifacts_of(listed))["manage-volumes-list"]}
    assert not ids & {"vol_forkclean000001", "vol_detaching000001", "vol_destroying00001"}
    unused = await manage_volumes(action="delete-unused", app="hotdash-staging", return_state=True)
    assert [r["id"] for r in (await artifacts_of(unused))["manage-volumes-unused"]] == [UNUSED]


async def test_delete_unused_dry_run_changes_nothing(cost_sim) -> None:
    before = cost_sim.state()
    state = await manage_volumes(action="delete-unused", app="*", return_state=True)
    assert state.is_completed(), state.message
    after = cost_sim.state()
    assert after["apps"] == before["apps"] and after["mutations"] == []
    artifacts = await artifacts_of(state)
    assert [r["id"] for r in artifacts["manage-volumes-unused"]] == [UNUSED]
    assert f"`{UNUSED}`" in artifacts["manage-volumes"]
    assert state.message == "dry run: 1 unattached volume(s) would be deleted, saving $0.75"


async def test_delete_unused_snapshots_then_deletes_only_the_volumes_chosen(cost_sim) -> None:
    # A second unattached volume, in another app: the person chooses one of the two.
    cost_sim.patch_app("hotdash-chatwoot", volumes_add=[
        {"id": "vol_cwtold000000001", "name": "chatwoot_old", "size_gb": 2}])  # fmt: skip
    before = cost_sim.state()
    run = asyncio.create_task(
        manage_volumes(
            action="delete-unused",
            app="*",
            dry_run=False,
            requested_by="Sam Lead",
            return_state=True,
        )  # fmt: skip
    )
    run_id = await paused_run_id(set())
    # Waiting: nothing is deleted yet; the form lists what could go, one switch each, all off.
    assert cost_sim.state()["mutations"] == []
    description = await read_flow_run_input("paused-delete-volumes-description", flow_run_id=run_id)
    assert f"`{UNUSED}`" in description and "$0.75" in description
    assert "`vol_cwtold000000001`" in description and "snapshotted first" in description
    for kept in ("vol_stgdata00000001", "vol_mcpindex0000001", "vol_cwtstore0000001"):
        assert kept not in description
    schema = await read_flow_run_input("paused-delete-volumes-schema", flow_run_id=run_id)
    switches = {k: v for k, v in schema["properties"].items() if k.startswith("vol_")}
    assert set(switches) == {UNUSED, "vol_cwtold000000001"}
    assert all(v["type"] == "boolean" and v["default"] is False for v in switches.values())
    assert switches[UNUSED]["description"].startswith("hotdash-staging: staging_old, 5 GB in")

    await aresume_flow_run(run_id, run_input={UNUSED: True, "confirmed_by": "Dana Ops"})
    state = await asyncio.wait_for(run, 60)
    assert state.is_completed(), state.message
    assert state.message.startswith(
        f"deleted 1 of 2 volume(s), chosen by Dana Ops: {UNUSED} (snapshot vs_"
    )

    after = cost_sim.state()
    # The snapshot first, then the deletion; the other volume untouched.
    assert [(m["app"], m["kind"], m["detail"]["volume"]) for m in after["mutations"]] == [
        ("hotdash-staging", "volume_snapshot", UNUSED),
        ("hotdash-staging", "volume_delete", UNUSED),
    ]
    staging = volumes_of(after, "hotdash-staging")
    # Fly's destroy pipeline: scheduling_destroy, then pending_destroy (0.1 s in the tests)
    assert staging[UNUSED]["state"] in ("scheduling_destroy", "pending_destroy")
    assert (
        staging["vol_stgdata00000001"]
        == volumes_of(before, "hotdash-staging")["vol_stgdata00000001"]
    )
    for app in ("hotdash-llamaindex-mcp", "hotdash-chatwoot"):
        assert volumes_of(after, app) == volumes_of(before, app)
    snapshot, delete = audit_records()
    assert [(r["actor"], r["action"], r["target"]) for r in (snapshot, delete)] == [
        ("Dana Ops", "volume.snapshot", "hotdash-staging"),
        ("Dana Ops", "volume.delete", "hotdash-staging"),
    ]
    assert delete["detail"]["snapshot_id"] == snapshot["detail"]["snapshot_id"]
    assert delete["detail"]["volume_id"] == UNUSED and "Sam Lead" in delete["reason"]


async def test_delete_unused_never_acts_on_every_app_unless_star_is_given(cost_sim) -> None:
    with pytest.raises(ValueError, match=r"app: required for delete-unused: .* or \* for every"):
        await manage_volumes(action="delete-unused", dry_run=False)
    one = await manage_volumes(action="delete-unused", app="hotdash-chatwoot", return_state=True)
    assert one.message == "no unattached volumes: nothing to delete"
    assert cost_sim.state()["mutations"] == []


async def test_nothing_chosen_deletes_nothing(cost_sim) -> None:
    run, run_id = await paused_delete_unused()
    await aresume_flow_run(run_id, run_input={"confirmed_by": "Dana Ops"})  # all switches off
    state = await asyncio.wait_for(run, 60)
    assert state.is_completed()
    assert state.message == "no volume chosen by Dana Ops: nothing deleted"
    assert cost_sim.state()["mutations"] == []
    assert audit_records() == []


async def test_a_forged_or_blank_name_deletes_nothing(cost_sim) -> None:
    run, run_id = await paused_delete_unused()
    # A second line in the name: the server refuses it against the form's schema.
    with pytest.raises(RuntimeError, match="confirmed_by"):
        await aresume_flow_run(
            run_id, run_input={UNUSED: True, "confirmed_by": "Dana\nApproved by the CTO"}
        )
    # A blank name passes the schema; the flow's own rule refuses it.
    await aresume_flow_run(run_id, run_input={UNUSED: True, "confirmed_by": "   "})
    state = await asyncio.wait_for(run, 60)
    assert state.is_failed()
    assert state.message == (
        "confirmation refused (confirmed_by: must not be empty): nothing deleted"
    )
    assert cost_sim.state()["mutations"] == []
    assert audit_records() == []


async def test_extend_refuses_a_smaller_or_equal_size_before_any_fly_command(
    cost_sim, monkeypatch
) -> None:
    # A fly command would fail with "cannot run": the refusal must come first.
    monkeypatch.setenv("FLYCTL", "/nonexistent/fly")
    for size in (2, 3):
        with pytest.raises(ValueError, match=rf"size_gb: {size} GB is not bigger than volume "
                           r"vol_stgdata00000001's current 3 GB"):  # fmt: skip
            await manage_volumes(
                action="extend", app="hotdash-staging", volume_id="vol_stgdata00000001",
                size_gb=size,
            )  # fmt: skip
    assert cost_sim.state()["mutations"] == []
    assert audit_records() == []


async def test_extend_grows_the_volume_and_says_a_restart_is_needed(cost_sim) -> None:
    state = await manage_volumes(
        action="extend",
        app="hotdash-staging",
        volume_id="vol_stgdata00000001",
        size_gb=6,
        return_state=True,
    )
    assert state.is_completed(), state.message
    assert volumes_of(cost_sim.state(), "hotdash-staging")["vol_stgdata00000001"]["size_gb"] == 6
    assert "extended 3 -> 6 GB; restart machine stgrun000001 to see the new size" in state.message
    [record] = audit_records()
    assert record["action"] == "volume.extend" and record["detail"]["to_gb"] == 6


async def test_extend_goes_through_the_machines_api_which_says_needs_restart(
    cost_sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `fly volumes extend --json` drops needs_restart; the Machines API's extend answers it.
    monkeypatch.setenv("FLYCTL", "/nonexistent/fly")  # no flyctl involved
    state = await manage_volumes(
        action="extend", app="hotdash-llamaindex-mcp", volume_id="vol_mcpindex0000001",
        size_gb=12, return_state=True,
    )  # fmt: skip
    assert state.is_completed(), state.message
    assert "extended 10 -> 12 GB; restart machine mcprun000001 to see the new size" in (
        state.message
    )
    [record] = audit_records()
    assert record["detail"]["needs_restart"] is True


async def test_extend_needs_a_size(cost_sim) -> None:
    with pytest.raises(ValueError, match="size_gb: required for action extend"):
        await manage_volumes(action="extend", app="hotdash-staging", volume_id=UNUSED)
    assert cost_sim.state()["mutations"] == []


async def test_a_volume_whose_snapshot_fails_is_kept(cost_sim) -> None:
    cost_sim.patch_app("hotdash-staging", fault={"mode": "503", "scope": "mutations", "times": 1})
    run, run_id = await paused_delete_unused(app="hotdash-staging")
    await aresume_flow_run(run_id, run_input={UNUSED: True, "confirmed_by": "Dana Ops"})
    state = await asyncio.wait_for(run, 60)
    assert state.is_failed()
    assert state.message.startswith(
        f"deleted 0 of 1 volume(s), chosen by Dana Ops: none; kept {UNUSED} (kept, no snapshot: "
    )
    assert cost_sim.state()["mutations"] == []  # neither a snapshot nor a deletion
    [record] = audit_records()
    assert (record["action"], record["detail"]["outcome"]) == ("volume.snapshot", "failed")
