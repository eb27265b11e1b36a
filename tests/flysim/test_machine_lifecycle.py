"""Machines behave as Fly's do (flysim/README.md, "Machines"): an update reboots a running
machine, which answers nothing while it boots; a stopped one starts unless ``skip_launch``;
``current_version`` is checked against ``instance_id``; leases guard every change; Fly Proxy
wakes a stopped machine whose service autostarts. The scenario's timing is the tests' (boot
0.1 s, checks 0.1 s after)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI

from tests.flysim.conftest import Sim
from tests.openapi_contract import assert_valid_response, load_spec

STAGING = "hotdash-staging"
AGENT = "hotdash-agent-service"


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return load_spec()


def machine(sim: Sim, app: str = STAGING) -> dict[str, Any]:
    return sim.api.get(f"/v1/apps/{app}/machines").json()[0]


def path(app: str, mid: str, tail: str = "") -> str:
    return f"/v1/apps/{app}/machines/{mid}{tail}"


def wait(sim: Sim, app: str, mid: str, state: str = "started") -> httpx.Response:
    return sim.api.get(path(app, mid, "/wait"), params={"state": state, "timeout": 5})


def test_machine_json_is_the_specs_without_version(sim: Sim, openapi: OpenAPI) -> None:
    response = sim.api.get(f"/v1/apps/{STAGING}/machines")
    assert_valid_response(openapi, response)
    m = response.json()[0]
    assert "version" not in m  # the spec's Machine has instance_id, no version
    assert len(m["instance_id"]) == 26


def test_an_update_reboots_the_machine_which_answers_nothing_while_it_boots(sim: Sim) -> None:
    m = machine(sim)
    config = m["config"] | {"image": "registry.fly.io/hotdash-staging:manual"}
    updated = sim.api.post(
        path(STAGING, m["id"]), json={"config": config, "current_version": m["instance_id"]}
    )
    assert updated.status_code == 200
    assert updated.json()["state"] == "starting"
    assert updated.json()["instance_id"] != m["instance_id"]  # a new version on every update
    down = sim.ctl.get(f"/_apps/{STAGING}/health")
    assert down.status_code == 503 and down.text == "no machine is started to serve the request"
    assert wait(sim, STAGING, m["id"]).json()["ok"] is True
    assert sim.ctl.get(f"/_apps/{STAGING}/health").status_code == 200
    checks = machine(sim)["checks"]
    if checks[0]["status"] != "passing":  # the 0.1 s grace period may not be over yet
        assert checks[0]["status"] == "warning"
        time.sleep(0.15)
        checks = machine(sim)["checks"]
    assert checks[0]["status"] == "passing"
    timeline = [(t["machine"], t["state"]) for t in sim.state()["apps"][STAGING]["timeline"]]
    assert timeline == [(m["id"], "starting"), (m["id"], "started")]


def test_a_stale_current_version_is_refused_with_412_and_changes_nothing(
    sim: Sim, openapi: OpenAPI
) -> None:
    m = machine(sim)
    first = sim.api.post(path(STAGING, m["id"]), json={"config": m["config"]})
    assert first.status_code == 200
    stale = sim.api.post(
        path(STAGING, m["id"]),
        json={"config": m["config"] | {"image": "x:y"}, "current_version": m["instance_id"]},
    )
    assert stale.status_code == 412
    assert stale.json() == {
        "error": f"machine {m['id']}: current_version {m['instance_id']} is not its latest "
        f"instance_id {first.json()['instance_id']}; read the machine again"
    }
    assert machine(sim)["config"]["image"] == m["config"]["image"]


@pytest.mark.parametrize("skip_launch", [False, True])
def test_a_stopped_machine_starts_on_update_unless_skip_launch(sim: Sim, skip_launch: bool) -> None:
    m = machine(sim, AGENT)
    assert sim.api.post(path(AGENT, m["id"], "/stop")).status_code == 200
    updated = sim.api.post(
        path(AGENT, m["id"]), json={"config": m["config"], "skip_launch": skip_launch}
    ).json()
    assert updated["state"] == ("stopped" if skip_launch else "starting")
    if not skip_launch:
        assert wait(sim, AGENT, m["id"]).status_code == 200


def test_leases_guard_every_change_and_answer_flys_status_codes(sim: Sim, openapi: OpenAPI) -> None:
    m = machine(sim)
    lease_path = path(STAGING, m["id"], "/lease")
    assert sim.api.get(lease_path).status_code == 404
    created = sim.api.post(lease_path, json={"ttl": 30, "description": "test"})
    assert created.status_code == 201
    assert_valid_response(openapi, created)
    data = created.json()["data"]
    nonce = data["nonce"]
    assert (created.json()["status"], data["version"]) == ("success", m["instance_id"])

    held = sim.api.post(lease_path, json={"ttl": 30})
    assert held.status_code == 409
    assert held.json()["error"].startswith(
        f"machine ID {m['id']} lease currently held by flysim@example.com, expires at "
    )
    for blocked in (
        sim.api.post(path(STAGING, m["id"]), json={"config": m["config"]}),
        sim.api.post(path(STAGING, m["id"], "/stop")),
        sim.api.post(path(STAGING, m["id"], "/restart")),
    ):
        assert blocked.status_code == 409 and "lease currently held by" in blocked.json()["error"]
    assert sim.state()["mutations"] == []

    header = {"fly-machine-lease-nonce": nonce}
    updated = sim.api.post(path(STAGING, m["id"]), json={"config": m["config"]}, headers=header)
    assert updated.status_code == 200
    refreshed = sim.api.post(lease_path, json={"ttl": 60}, headers=header)
    assert refreshed.status_code == 201 and refreshed.json()["data"]["nonce"] == nonce
    assert sim.api.get(lease_path).json()["data"]["nonce"] == nonce
    wrong = sim.api.delete(lease_path, headers={"fly-machine-lease-nonce": "nope"})
    assert wrong.status_code == 400
    assert sim.api.delete(lease_path, headers=header).status_code == 200
    assert sim.api.get(lease_path).status_code == 404


def test_a_lease_expires_after_its_ttl(sim: Sim) -> None:
    m = machine(sim)
    lease_path = path(STAGING, m["id"], "/lease")
    assert sim.api.post(lease_path, params={"ttl": "0.2"}).status_code == 201
    assert sim.api.post(path(STAGING, m["id"], "/stop")).status_code == 409
    time.sleep(0.25)
    assert sim.api.post(path(STAGING, m["id"], "/stop")).status_code == 200


def test_wait_answers_408_when_the_state_is_not_reached(sim: Sim) -> None:
    m = machine(sim)
    sim.api.post(path(STAGING, m["id"], "/stop"))
    late = sim.api.get(path(STAGING, m["id"], "/wait"), params={"state": "started", "timeout": 0.2})
    assert late.status_code == 408
    assert late.json() == {
        "error": f"timed out waiting for machine {m['id']} to be started (it is stopped)"
    }
    bad = sim.api.get(path(STAGING, m["id"], "/wait"), params={"state": "sleepy"})
    assert bad.status_code == 400 and "state must be one of" in bad.json()["error"]


def test_fly_proxy_wakes_a_stopped_machine_whose_service_autostarts(sim: Sim) -> None:
    m = machine(sim, AGENT)
    sim.api.post(path(AGENT, m["id"], "/stop"))
    started = time.monotonic()
    answer = sim.ctl.get(f"/_apps/{AGENT}/health")
    assert answer.status_code == 200 and time.monotonic() - started >= 0.1  # waited for the boot
    assert machine(sim, AGENT)["state"] == "started"
    woke = [x for x in sim.state()["mutations"] if x["kind"] == "machine_start"]
    assert woke[-1]["detail"] == {"machine": m["id"], "by": "fly-proxy autostart"}


def test_no_machine_to_take_a_request_is_503(sim: Sim) -> None:
    m = machine(sim, AGENT)
    config = m["config"]
    config["services"][0]["autostart"] = False
    sim.api.post(path(AGENT, m["id"]), json={"config": config, "skip_launch": True})
    sim.api.post(path(AGENT, m["id"], "/stop"))
    assert sim.ctl.get(f"/_apps/{AGENT}/health").status_code == 503
    assert machine(sim, AGENT)["state"] == "stopped"


def test_create_cordon_and_destroy_a_machine(sim: Sim, openapi: OpenAPI) -> None:
    template = machine(sim)["config"]
    created = sim.api.post(
        f"/v1/apps/{STAGING}/machines",
        json={"config": template, "skip_service_registration": True, "lease_ttl": 30},
    )
    assert_valid_response(openapi, created)
    new = created.json()
    assert new["state"] == "starting" and new["nonce"]
    assert wait(sim, STAGING, new["id"]).status_code == 200
    header = {"fly-machine-lease-nonce": new["nonce"]}
    assert sim.api.delete(path(STAGING, new["id"])).status_code == 409  # leased
    running = sim.api.delete(path(STAGING, new["id"]), headers=header)
    assert running.status_code == 412 and "not currently stopped" in running.json()["error"]
    assert sim.api.post(path(STAGING, new["id"], "/uncordon"), headers=header).status_code == 200
    gone = sim.api.delete(path(STAGING, new["id"]), params={"force": "true"}, headers=header)
    assert gone.status_code == 200
    assert wait(sim, STAGING, new["id"], "destroyed").json()["state"] == "destroyed"
    assert len(sim.api.get(f"/v1/apps/{STAGING}/machines").json()) == 1
