"""``flysim-fly`` as a real subprocess: flyctl's flags, JSON shapes and exit codes."""

from __future__ import annotations

import json

from tests.flysim.conftest import Sim

STAGING = "hotdash-staging"


def test_status_releases_and_lists(sim: Sim) -> None:
    status = json.loads(sim.fly("status", "-a", "hotdash-production", "--json").stdout)
    assert status["Name"] == "hotdash-production" and status["Version"] == 4
    assert status["Organization"]["Slug"] == "personal" and len(status["Machines"]) == 2
    releases = json.loads(sim.fly("releases", "--app=hotdash-production", "--json").stdout)
    assert [r["Version"] for r in releases] == [4, 3, 2, 1]
    assert releases[1]["Status"] == "failed" and releases[0]["ImageRef"].startswith(
        "registry.fly.io/hotdash-production:deployment-"
    )
    assert set(releases[0]) >= {"ID", "Stable", "InProgress", "User", "CreatedAt", "ImageRef"}
    apps = json.loads(sim.fly("apps", "list", "--json").stdout)
    assert len(apps) == 5 and apps[0]["Organization"]["Slug"] == "personal"
    machines = json.loads(sim.fly("machines", "list", "--app", STAGING, "--json").stdout)
    assert machines[0]["config"]["guest"]["memory_mb"] == 512
    volumes = json.loads(sim.fly("volumes", "list", "-a", STAGING, "--json").stdout)
    assert volumes[0]["attached_machine_id"] is None
    secrets = json.loads(sim.fly("secrets", "list", "-a", STAGING, "--json").stdout)
    assert {"name", "digest", "status"} == set(secrets[0])
    assert "DATABASE_URL" in {s["name"] for s in secrets}
    show = json.loads(sim.fly("scale", "show", "-a", "hotdash-production", "--json").stdout)
    assert show == [{"Process": "app", "Count": 2, "CPUKind": "shared", "CPUs": 2,
                     "Memory": 1024, "Regions": {"ord": 2}}]  # fmt: skip
    sizes = json.loads(sim.fly("platform", "vm-sizes", "--json").stdout)
    assert sizes["performance-2x"] == {"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096}


def test_logs_json_stream(sim: Sim) -> None:
    out = sim.fly("logs", "-a", STAGING, "--no-tail", "--json").stdout
    decoder, entries, pos = json.JSONDecoder(), [], 0
    while pos < len(out.rstrip()):
        entry, pos = decoder.raw_decode(out, pos)
        entries.append(entry)
        while pos < len(out) and out[pos].isspace():
            pos += 1
    assert len(entries) == 5 and entries[2]["level"] == "error"
    assert set(entries[0]) == {"level", "instance", "message", "region", "timestamp", "meta"}


def test_unknown_app_and_bad_token(sim: Sim) -> None:
    r = sim.fly("status", "-a", "nope", "--json")
    assert r.returncode == 1 and r.stderr.strip() == 'Error: Could not find App "nope"'
    r = sim.fly("status", "-a", STAGING, token="wrong")
    assert r.returncode == 1 and r.stderr.startswith("Error: ")


def test_deploy_good_then_bad_image(sim: Sim) -> None:
    good = "registry.fly.io/hotdash-staging:deployment-01JB0000000000000000000000"
    r = sim.fly("deploy", "-a", STAGING, "--image", good, "--strategy", "immediate", "--yes")
    assert r.returncode == 0, r.stderr
    state = sim.state()["apps"][STAGING]
    assert state["current_image"] == good and state["current_release"] == 4
    release = json.loads(sim.fly("releases", "-a", STAGING, "--json").stdout)[0]
    assert (release["Version"], release["Status"], release["ImageRef"]) == (4, "complete", good)
    assert release["User"]["Email"] == "ci@hotdash.test"
    machine = sim.api.get(f"/v1/apps/{STAGING}/machines").json()[0]
    assert machine["config"]["metadata"]["fly_release_version"] == "4"

    r = sim.fly("deploy", "-a", STAGING, "--image", "registry.fly.io/hotdash-staging:bad", "-y")
    assert r.returncode == 0
    assert sim.ctl.get(f"/_apps/{STAGING}/health").status_code == 503
    cpu = sim.api.get(
        "/prometheus/personal/api/v1/query",
        params={"query": f'fly_instance_cpu{{app="{STAGING}"}}'},
    ).json()["data"]["result"][0]["value"][1]
    assert float(cpu) > 90
    kinds = [(m["kind"], m["detail"]["status"]) for m in sim.state()["mutations"]]
    assert kinds == [("deploy", "complete"), ("deploy", "complete")]


def test_deploy_that_fails_keeps_the_old_image(sim: Sim) -> None:
    before = sim.state()["apps"][STAGING]["current_image"]
    r = sim.fly(
        "deploy", "-a", STAGING, "--image", "registry.fly.io/hotdash-staging:deploy-fails", "--yes"
    )
    assert r.returncode == 1
    assert "Updating existing machines" in r.stdout
    assert r.stderr.startswith("Error: release v4 failed: smoke checks")
    state = sim.state()["apps"][STAGING]
    assert state["current_image"] == before and state["current_release"] == 3
    assert state["releases"][-1]["status"] == "failed"


def test_deploy_from_source(sim: Sim, tmp_path) -> None:
    r = sim.fly("deploy", "-a", STAGING, "--remote-only", str(tmp_path))
    assert r.returncode == 0, r.stderr
    image = sim.state()["apps"][STAGING]["current_image"]
    assert image.startswith("registry.fly.io/hotdash-staging:deployment-") and len(image) > 50


def test_a_build_is_tagged_with_its_image_label_and_carries_its_labels(sim: Sim, tmp_path) -> None:
    # flyctl: --image-label names the tag, --label KEY=VALUE (repeatable) writes Docker
    # labels, which the Machines API shows in each machine's image_ref.labels.
    sha = "3f2c1d9a0b1c" + "0" * 28
    r = sim.fly("deploy", str(tmp_path), "-a", STAGING, "--remote-only", "--image-label",
                f"git-{sha}", "--label", f"org.opencontainers.image.revision={sha}",
                "--label", "team=ops", "--yes")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"--> Build complete: registry.fly.io/hotdash-staging:git-{sha}" in r.stdout
    assert sim.state()["apps"][STAGING]["current_image"] == f"registry.fly.io/{STAGING}:git-{sha}"
    [machine] = json.loads(sim.fly("machines", "list", "-a", STAGING, "--json").stdout)
    assert machine["image_ref"]["tag"] == f"git-{sha}"
    assert machine["image_ref"]["labels"]["org.opencontainers.image.revision"] == sha
    assert machine["image_ref"]["labels"]["team"] == "ops"
    bad = sim.fly("deploy", str(tmp_path), "-a", STAGING, "--remote-only", "--label", "oops")
    assert bad.returncode == 1
    assert bad.stderr.strip() == "Error: 'oops': must be in the format NAME=VALUE"


def test_scale_count_and_vm(sim: Sim) -> None:
    app = "hotdash-production"
    r = sim.fly("scale", "count", "3", "-a", app)
    assert r.returncode == 1 and "--yes" in r.stderr
    assert sim.fly("scale", "count", "3", "-a", app, "--yes").returncode == 0
    assert len(sim.api.get(f"/v1/apps/{app}/machines").json()) == 3
    r = sim.fly("scale", "count", "2", "-a", app, "--max-per-region", "1", "--yes")
    assert r.returncode == 1 and "--max-per-region 1" in r.stderr
    assert sim.fly("scale", "count", "1", "--app", app, "--yes").returncode == 0
    assert len(sim.api.get(f"/v1/apps/{app}/machines").json()) == 1

    r = sim.fly("scale", "vm", "performance-1x", "-a", app, "--vm-memory", "4096")
    assert r.returncode == 0, r.stderr
    guest = sim.api.get(f"/v1/apps/{app}/machines").json()[0]["config"]["guest"]
    assert guest == {"cpu_kind": "performance", "cpus": 1, "memory_mb": 4096}
    r = sim.fly("scale", "vm", "shared-cpu-1x", "-a", app, "--vm-memory", "4096")
    assert r.returncode == 1 and "2048MB is the maximum" in r.stderr
    r = sim.fly("scale", "vm", "shared-cpu-3x", "-a", app)
    assert r.returncode == 1 and "not valid" in r.stderr
    kinds = [m["kind"] for m in sim.state()["mutations"]]
    assert kinds == ["scale_count", "scale_count", "scale_vm"]


def test_volumes_extend_delete_and_restart(sim: Sim) -> None:
    r = sim.fly("volumes", "extend", "vol_chatwoot0storage01", "-s", "20", "-a",
                "hotdash-chatwoot", "--yes", "--json")  # fmt: skip
    assert r.returncode == 0 and json.loads(r.stdout)["size_gb"] == 20
    r = sim.fly("volumes", "extend", "vol_chatwoot0storage01", "-s", "5", "-a", "hotdash-chatwoot")
    assert r.returncode == 1 and "greater than the current size" in r.stderr
    r = sim.fly("volumes", "delete", "vol_staging0old0data1", "-a", STAGING, "--yes")
    assert r.returncode == 0 and "vol_staging0old0data1" in r.stdout
    assert sim.api.get(f"/v1/apps/{STAGING}/volumes").json() == []
    r = sim.fly("apps", "restart", "hotdash-production")
    assert r.returncode == 0
    assert [m["kind"] for m in sim.state()["mutations"]] == [
        "volume_extend", "volume_delete", "restart",
    ]  # fmt: skip
