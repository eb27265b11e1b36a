"""Machines API: auth, the openapi contract, machine and volume changes, logs API."""

from __future__ import annotations

import time

import httpx
import pytest
from openapi_core import OpenAPI

from tests.flysim.conftest import Sim
from tests.openapi_contract import assert_valid_response, load_spec


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return load_spec()


def assert_valid(openapi: OpenAPI, response: httpx.Response) -> None:
    """Validate a real exchange as if it were with https://api.machines.dev/v1."""
    assert_valid_response(openapi, response)


def test_token_is_required(sim: Sim) -> None:
    no_token = httpx.get(f"{sim.url}/v1/apps/hotdash-staging")
    assert no_token.status_code == 401
    assert "authenticated" in no_token.json()["error"]
    wrong = httpx.get(
        f"{sim.url}/v1/apps/hotdash-staging", headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401 and wrong.json() == {"error": "token validation error"}
    flyv1 = httpx.get(
        f"{sim.url}/v1/apps/hotdash-staging", headers={"Authorization": "FlyV1 flysim-token"}
    )
    assert flyv1.status_code == 200
    for path in ("/prometheus/personal/api/v1/query?query=up", "/api/v1/apps/x/logs",
                 "/_flyctl/apps"):  # fmt: skip
        assert httpx.get(f"{sim.url}{path}").status_code == 401, path
    assert httpx.get(f"{sim.url}/_apps/hotdash-staging/health").status_code == 200


def test_responses_validate_against_the_spec(sim: Sim, openapi: OpenAPI) -> None:
    apps = sim.api.get("/v1/apps", params={"org_slug": "personal"})
    assert apps.json()["total_apps"] == 5
    assert_valid(openapi, apps)
    assert_valid(openapi, sim.api.get("/v1/apps/hotdash-chatwoot"))
    for app in ("hotdash-production", "hotdash-chatwoot", "hotdash-staging"):
        machines = sim.api.get(f"/v1/apps/{app}/machines")
        assert_valid(openapi, machines)
        mid = machines.json()[0]["id"]
        assert_valid(openapi, sim.api.get(f"/v1/apps/{app}/machines/{mid}"))
        volumes = sim.api.get(f"/v1/apps/{app}/volumes")
        assert_valid(openapi, volumes)
        for volume in volumes.json():
            assert_valid(openapi, sim.api.get(f"/v1/apps/{app}/volumes/{volume['id']}"))
        assert_valid(openapi, sim.api.get(f"/v1/apps/{app}/secrets"))
    extended = sim.api.put(
        "/v1/apps/hotdash-chatwoot/volumes/vol_chatwoot0storage01/extend", json={"size_gb": 20}
    )
    assert_valid(openapi, extended)
    refused = sim.api.post("/v1/apps/hotdash-staging/machines/" + mid, json={"nope": 1})
    assert refused.status_code == 400
    assert_valid(openapi, refused)


def test_machine_shape(sim: Sim) -> None:
    machines = sim.api.get("/v1/apps/hotdash-production/machines").json()
    assert len(machines) == 2
    m = machines[0]
    assert len(m["id"]) == 14 and m["state"] == "started" and m["region"] == "ord"
    assert m["config"]["guest"] == {"cpu_kind": "shared", "cpus": 2, "memory_mb": 1024}
    assert m["config"]["metadata"]["fly_platform_version"] == "v2"
    assert m["config"]["metadata"]["fly_release_version"] == "4"
    service = m["config"]["services"][0]
    assert (service["autostop"], service["autostart"], service["min_machines_running"]) == (
        "stop", True, 1,
    )  # fmt: skip
    assert m["image_ref"]["repository"] == "hotdash-production"
    assert m["checks"][0]["status"] == "passing"
    assert m["events"] and isinstance(m["events"][0]["timestamp"], int)


def test_machine_update_stop_start(sim: Sim) -> None:
    m = sim.api.get("/v1/apps/hotdash-staging/machines").json()[0]
    config = m["config"] | {"image": "registry.fly.io/hotdash-staging:manual"}
    updated = sim.api.post(
        f"/v1/apps/hotdash-staging/machines/{m['id']}",
        json={"config": config, "current_version": m["instance_id"]},
    )
    assert updated.status_code == 200
    assert updated.json()["instance_id"] != m["instance_id"]
    assert updated.json()["config"]["image"] == "registry.fly.io/hotdash-staging:manual"
    assert sim.api.post(f"/v1/apps/hotdash-staging/machines/{m['id']}/stop").status_code == 200
    got = sim.api.get(f"/v1/apps/hotdash-staging/machines/{m['id']}").json()
    assert got["state"] == "stopped"
    start = sim.api.post(f"/v1/apps/hotdash-staging/machines/{m['id']}/start")
    assert start.json()["previous_state"] == "stopped"
    kinds = [x["kind"] for x in sim.state()["mutations"]]
    assert kinds == ["machine_update", "machine_stop", "machine_start"]


def test_not_found(sim: Sim) -> None:
    r = sim.api.get("/v1/apps/nope/machines")
    assert r.status_code == 404 and r.json() == {"error": 'Could not find App "nope"'}
    r = sim.api.get("/v1/apps/hotdash-staging/machines/000")
    assert r.status_code == 404 and "machine not found" in r.json()["error"]


def test_volume_extend_and_delete(sim: Sim) -> None:
    base = "/v1/apps/hotdash-chatwoot/volumes/vol_chatwoot0storage01"
    small = sim.api.put(f"{base}/extend", json={"size_gb": 10})
    assert small.status_code == 400 and "greater than the current size" in small.json()["error"]
    grown = sim.api.put(f"{base}/extend", json={"size_gb": 15}).json()
    assert grown["needs_restart"] is True and grown["volume"]["size_gb"] == 15
    attached = sim.api.delete(base)
    assert attached.status_code == 409
    gone = sim.api.delete("/v1/apps/hotdash-staging/volumes/vol_staging0old0data1")
    assert gone.status_code == 200 and gone.json()["state"] == "scheduling_destroy"
    assert (
        sim.api.delete("/v1/apps/hotdash-staging/volumes/vol_staging0old0data1").status_code == 404
    )


def test_a_deleted_volume_passes_through_flys_destroy_states(sim: Sim, openapi: OpenAPI) -> None:
    """docs volumes/volume-states: Destroy a volume: scheduling_destroy -> pending_destroy; the
    raw list keeps answering them (fly-go's GetVolumes leaves them out, client side)."""
    vol = "/v1/apps/hotdash-staging/volumes/vol_staging0old0data1"
    assert sim.api.delete(vol).json()["state"] == "scheduling_destroy"
    listed = sim.api.get("/v1/apps/hotdash-staging/volumes")
    assert_valid(openapi, listed)
    assert [v["state"] for v in listed.json()] in (["scheduling_destroy"], ["pending_destroy"])
    deadline = time.monotonic() + 5
    while sim.api.get(vol).json()["state"] != "pending_destroy":  # volume_destroy_seconds: 0.1
        assert time.monotonic() < deadline, "never reached pending_destroy"
        time.sleep(0.05)
    assert sim.api.get("/v1/apps/hotdash-staging").json()["volume_count"] == 0
    extend = sim.api.put(f"{vol}/extend", json={"size_gb": 5})
    assert extend.status_code == 404


def test_scenario_volumes_in_other_destroy_states_are_listed_raw(sim: Sim) -> None:
    sim.ctl.patch(
        "/_sim/apps/hotdash-staging",
        json={"volumes_add": [{"name": "fork", "size_gb": 3, "state": "fork_cleanup"},
                              {"name": "bye", "size_gb": 2, "state": "destroying"}]},
    )  # fmt: skip
    states = {v["name"]: v["state"] for v in sim.api.get("/v1/apps/hotdash-staging/volumes").json()}
    assert states == {"hotdash_staging_data": "created", "fork": "fork_cleanup",
                      "bye": "destroying"}  # fmt: skip


def test_logs_api(sim: Sim) -> None:
    body = sim.api.get("/api/v1/apps/hotdash-staging/logs").json()
    assert len(body["data"]) == 5
    first = body["data"][0]
    assert set(first["attributes"]) >= {"timestamp", "message", "level", "instance", "region"}
    assert any(e["attributes"]["level"] == "error" for e in body["data"])
    later = sim.api.get(
        "/api/v1/apps/hotdash-staging/logs", params={"next_token": body["meta"]["next_token"]}
    ).json()
    assert later["data"] == [] and later["meta"]["next_token"] == body["meta"]["next_token"]
