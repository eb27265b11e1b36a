"""``flysim-fly deploy`` as flyctl deploys (flysim/README.md, "Deploys"): a release carrying
its config, machines updated over the Machines API with leases, each strategy's waits, and
SIGINT/SIGTERM versus SIGKILL. flysim-fly runs as a real subprocess; the timing is the tests'
(boot 0.1 s, checks 0.1 s, flyctl's --wait-timeout 1.5 s)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.flysim.conftest import FLYSIM_FLY, Sim
from tests.timeline import most_down_at_once

STAGING = "hotdash-staging"
PROD = "hotdash-production"
NEW = "registry.fly.io/hotdash-production:deployment-01JB00000000000000000NEW1"
SLOW = "registry.fly.io/hotdash-staging:slow-start"  # boots for 10 minutes
STAGING_V3 = "registry.fly.io/hotdash-staging:deployment-01J9FJ0E00H4QX4FR84G98PBSK"


def app_state(sim: Sim, app: str) -> dict[str, Any]:
    return sim.state()["apps"][app]


def test_rolling_updates_one_machine_at_a_time_and_waits_for_each(sim: Sim) -> None:
    before = {m["id"] for m in app_state(sim, PROD)["machines"]}
    r = sim.fly("deploy", "-a", PROD, "--image", NEW, "--yes")
    assert r.returncode == 0, r.stderr
    assert "with rolling strategy" in r.stdout and r.stdout.count("update succeeded") == 2
    prod = app_state(sim, PROD)
    # rolling waited: when flyctl returns every machine is started with its checks passing
    assert {m["id"] for m in prod["machines"]} == before
    assert all(m["state"] == "started" for m in prod["machines"])
    assert all(c["status"] == "passing" for m in prod["machines"] for c in m["checks"])
    assert {m["config"]["image"] for m in prod["machines"]} == {NEW}
    assert most_down_at_once(prod["timeline"]) == 1
    release = prod["releases"][-1]
    assert (release["version"], release["status"], release["strategy"]) == (
        5,
        "complete",
        "rolling",
    )
    assert prod["leases"] == {}  # released at the end
    kinds = [m["kind"] for m in sim.state()["mutations"]]
    assert kinds == ["deploy", "machine_update", "machine_update"]


def test_immediate_returns_while_the_machines_still_boot(sim: Sim) -> None:
    started = time.monotonic()
    r = sim.fly("deploy", "-a", STAGING, "--image", SLOW, "--strategy", "immediate", "--yes")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 30  # the machine boots for 10 minutes
    staging = app_state(sim, STAGING)
    assert [m["state"] for m in staging["machines"]] == ["starting"]
    assert staging["releases"][-1]["status"] == "complete"
    assert sim.ctl.get(f"/_apps/{STAGING}/health").status_code == 503


def test_a_rolling_deploy_whose_checks_never_pass_fails_at_the_wait_timeout(sim: Sim) -> None:
    r = sim.fly("deploy", "-a", STAGING, "--image", "registry.fly.io/hotdash-staging:bad", "-y")
    assert r.returncode == 1
    machine_id = app_state(sim, STAGING)["machines"][0]["id"]
    assert r.stderr.strip() == (
        f"Error: timeout reached waiting for health checks to pass for machine {machine_id}: "
        "context deadline exceeded"
    )
    staging = app_state(sim, STAGING)
    assert staging["releases"][-1]["status"] == "failed"
    # flyctl does not undo the machine it updated: the spearhead runs the bad image
    assert staging["machines"][0]["config"]["image"] == "registry.fly.io/hotdash-staging:bad"


def test_a_deploy_that_fails_before_machines_move_keeps_the_old_image(sim: Sim) -> None:
    before = app_state(sim, STAGING)["current_image"]
    r = sim.fly(
        "deploy", "-a", STAGING, "--image", "registry.fly.io/hotdash-staging:deploy-fails", "--yes"
    )
    assert r.returncode == 1
    assert r.stderr.startswith("Error: release v4 failed: smoke checks")
    staging = app_state(sim, STAGING)
    assert staging["current_image"] == before and staging["current_release"] == 3
    assert staging["releases"][-1]["status"] == "failed"


def machine_images(sim: Sim, app: str) -> list[dict[str, Any]]:
    """Each machine's `image_ref`, as the Machines API answers."""
    machines = sim.api.get(f"/v1/apps/{app}/machines").json()
    return [m["image_ref"] for m in machines]


def test_a_deploy_by_digest_runs_that_digest_and_the_tags_image(sim: Sim) -> None:
    # Staging runs an image by tag; production gets it by digest, as deploy-production does.
    bad = "registry.fly.io/hotdash-staging:bad"
    r = sim.fly("deploy", "-a", STAGING, "--image", bad, "--strategy", "immediate", "-y")
    assert r.returncode == 0, r.stderr
    (staging_ref,) = machine_images(sim, STAGING)
    assert staging_ref["tag"] == "bad" and staging_ref["digest"].startswith("sha256:")
    pinned = f"registry.fly.io/hotdash-staging@{staging_ref['digest']}"
    r = sim.fly("deploy", "-a", PROD, "--image", pinned, "--strategy", "immediate", "-y")
    assert r.returncode == 0, r.stderr
    refs = machine_images(sim, PROD)
    assert len(refs) == 2
    for ref in refs:
        assert ref["digest"] == staging_ref["digest"]
        assert (ref["registry"], ref["repository"]) == ("registry.fly.io", "hotdash-staging")
        assert "tag" not in ref  # a reference by digest has none (fly-go omits empty fields)
    # One image under two names: the digest runs what the tag runs (the scenario's bad image).
    for machine in sim.api.get(f"/v1/apps/{PROD}/machines").json():
        waited = sim.api.get(
            f"/v1/apps/{PROD}/machines/{machine['id']}/wait", params={"state": "started"}
        )
        assert waited.status_code == 200, waited.text
    assert sim.ctl.get(f"/_apps/{PROD}/health").status_code == 503


def test_a_deploy_waits_for_a_lease_someone_else_holds(sim: Sim) -> None:
    machine = app_state(sim, STAGING)["machines"][0]["id"]
    held = sim.api.post(f"/v1/apps/{STAGING}/machines/{machine}/lease", params={"ttl": "0.4"})
    assert held.status_code == 201
    started = time.monotonic()
    r = sim.fly("deploy", "-a", STAGING, "--image", STAGING_V3, "--yes")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started >= 0.3  # it asked again until the lease expired


def test_canary_boots_one_new_machine_destroys_it_then_rolls(sim: Sim) -> None:
    before = {m["id"] for m in app_state(sim, PROD)["machines"]}
    r = sim.fly("deploy", "-a", PROD, "--image", NEW, "--strategy", "canary", "--yes")
    assert r.returncode == 0, r.stderr
    kinds = [m["kind"] for m in sim.state()["mutations"]]
    assert kinds == ["deploy", "machine_create", "machine_destroy", "machine_update",
                     "machine_update"]  # fmt: skip
    prod = app_state(sim, PROD)
    assert {m["id"] for m in prod["machines"]} == before
    assert {m["config"]["image"] for m in prod["machines"]} == {NEW}


def test_canary_and_bluegreen_refuse_apps_with_volumes(sim: Sim) -> None:
    image = "registry.fly.io/hotdash-chatwoot:deployment-01JB0000000000000000000NEW"
    canary = sim.fly("deploy", "-a", "hotdash-chatwoot", "--image", image, "--strategy", "canary")
    assert canary.returncode == 1 and canary.stderr.strip() == (
        "Error: error canary deployment strategy is not supported when using mounted volumes"
    )
    blue = sim.fly("deploy", "-a", "hotdash-chatwoot", "--image", image, "--strategy", "bluegreen")
    assert blue.returncode == 1 and "not supported when using mounted volumes" in blue.stderr


def test_bluegreen_boots_new_machines_then_destroys_the_old_ones(sim: Sim) -> None:
    before = {m["id"] for m in app_state(sim, PROD)["machines"]}
    r = sim.fly("deploy", "-a", PROD, "--image", NEW, "--strategy", "bluegreen", "--yes")
    assert r.returncode == 0, r.stderr
    prod = app_state(sim, PROD)
    after = {m["id"] for m in prod["machines"]}
    assert len(after) == 2 and not after & before
    assert all(m["state"] == "started" and m["config"]["image"] == NEW for m in prod["machines"])
    kinds = [m["kind"] for m in sim.state()["mutations"]]
    assert kinds.count("machine_create") == 2 and kinds.count("machine_destroy") == 2
    # the old machines served until the new ones were started and passing
    greens_up = max(c["time"] for c in prod["timeline"]
                    if c["machine"] in after and c["state"] == "started")  # fmt: skip
    first_blue_down = min(c["time"] for c in prod["timeline"] if c["machine"] in before)
    assert first_blue_down > greens_up
    assert sim.ctl.get(f"/_apps/{PROD}/health").status_code == 200


def test_a_release_carries_its_config_and_the_next_deploy_rebuilds_services_from_it(
    sim: Sim, tmp_path: Path
) -> None:
    def min_running() -> int:
        return app_state(sim, STAGING)["machines"][0]["config"]["services"][0][
            "min_machines_running"
        ]

    # A setting changed only through the Machines API ...
    m = sim.api.get(f"/v1/apps/{STAGING}/machines").json()[0]
    m["config"]["services"][0]["min_machines_running"] = 1
    sim.api.post(f"/v1/apps/{STAGING}/machines/{m['id']}", json={"config": m["config"]})
    assert min_running() == 1
    # ... is gone after the next deploy, which rebuilds services from the release's config.
    assert sim.fly("deploy", "-a", STAGING, "--image", STAGING_V3, "--yes").returncode == 0
    assert min_running() == 0

    # A release carrying the changed config keeps it, also through the deploy after it.
    shown = sim.fly("config", "show", "-a", STAGING)
    config = json.loads(shown.stdout)
    assert config["http_service"]["min_machines_running"] == 0
    config["http_service"]["min_machines_running"] = 1
    (tmp_path / "fly.json").write_text(json.dumps(config))
    r = sim.fly("deploy", "-a", STAGING, "-c", str(tmp_path / "fly.json"), "--image", STAGING_V3,
                "--yes")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert min_running() == 1
    assert json.loads(sim.fly("config", "show", "-a", STAGING).stdout) == config
    assert sim.fly("deploy", "-a", STAGING, "--image", STAGING_V3, "--yes").returncode == 0
    assert min_running() == 1


def test_a_fly_toml_in_the_source_directory_is_the_deploys_config(sim: Sim, tmp_path: Path) -> None:
    (tmp_path / "fly.toml").write_text(
        'app = "hotdash-staging"\n\n[http_service]\n  internal_port = 3000\n'
        '  auto_stop_machines = "off"\n  min_machines_running = 1\n'
    )
    r = sim.fly("deploy", "-a", STAGING, "--remote-only", "--yes", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    service = app_state(sim, STAGING)["machines"][0]["config"]["services"][0]
    assert (service["autostop"], service["min_machines_running"]) == ("off", 1)
    assert app_state(sim, STAGING)["current_image"].startswith(
        "registry.fly.io/hotdash-staging:deployment-"
    )


def _slow_deploy(sim: Sim) -> subprocess.Popen[str]:
    """A rolling deploy of an image whose machines boot for 10 minutes, waiting for one."""
    proc = subprocess.Popen(
        [str(FLYSIM_FLY), "deploy", "-a", STAGING, "--image", SLOW, "--yes"],
        env=sim.fly_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        staging = app_state(sim, STAGING)
        if staging["machines"][0]["state"] == "starting":
            assert staging["releases"][-1]["status"] == "running"
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the deploy never reached the machine update")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_marks_the_release_interrupted_and_exits_127(
    sim: Sim, sig: signal.Signals
) -> None:
    proc = _slow_deploy(sim)
    proc.send_signal(sig)
    assert proc.wait(10) == 127
    assert app_state(sim, STAGING)["releases"][-1]["status"] == "interrupted"
    assert app_state(sim, STAGING)["leases"] == {}  # released on the way out


def test_sigkill_leaves_the_release_running(sim: Sim) -> None:
    proc = _slow_deploy(sim)
    proc.kill()
    assert proc.wait(10) == -signal.SIGKILL
    release = app_state(sim, STAGING)["releases"][-1]
    assert (release["version"], release["status"]) == (4, "running")
    listed = json.loads(sim.fly("releases", "-a", STAGING, "--json").stdout)[0]
    assert (listed["Status"], listed["InProgress"]) == ("running", True)
