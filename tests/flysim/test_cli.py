"""``flysim-fly`` as a real subprocess: flyctl's flags, JSON shapes and exit codes."""

from __future__ import annotations

import json

import pytest

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

    # `fly scale vm` updates each machine through the Machines API, leased, one at a time.
    r = sim.fly("scale", "vm", "performance-1x", "-a", app, "--vm-memory", "4096")
    assert r.returncode == 0, r.stderr
    machine = sim.api.get(f"/v1/apps/{app}/machines").json()[0]
    assert machine["config"]["guest"] == {"cpu_kind": "performance", "cpus": 1, "memory_mb": 4096}
    assert machine["state"] == "started"  # flyctl waited for it
    r = sim.fly("scale", "vm", "shared-cpu-1x", "-a", app, "--vm-memory", "4096")
    assert r.returncode == 1 and "2048MB is the maximum" in r.stderr
    r = sim.fly("scale", "vm", "shared-cpu-3x", "-a", app)
    assert r.returncode == 1 and "not valid" in r.stderr
    kinds = [m["kind"] for m in sim.state()["mutations"]]
    assert kinds == ["scale_count", "scale_count", "machine_update"]


def test_volumes_extend_destroy_and_restart(sim: Sim) -> None:
    r = sim.fly("volumes", "extend", "vol_chatwoot0storage01", "-s", "20", "-a",
                "hotdash-chatwoot", "--yes", "--json")  # fmt: skip
    volume = json.loads(r.stdout)
    assert r.returncode == 0 and volume["size_gb"] == 20
    assert "needs_restart" not in volume  # flyctl prints the Volume alone
    r = sim.fly("volumes", "extend", "vol_chatwoot0storage01", "-s", "5", "-a", "hotdash-chatwoot")
    assert r.returncode == 1 and "greater than the current size" in r.stderr
    r = sim.fly("volumes", "delete", "vol_staging0old0data1", "-a", STAGING, "--yes")
    assert r.returncode == 0 and "vol_staging0old0data1" in r.stdout
    # Destroyed volumes leave `fly volumes list` (fly-go GetVolumes); `--all` shows them.
    assert json.loads(sim.fly("volumes", "list", "-a", STAGING, "--json").stdout) == []
    every = json.loads(sim.fly("volumes", "list", "-a", STAGING, "--all", "--json").stdout)
    assert [v["state"] for v in every] in (["scheduling_destroy"], ["pending_destroy"])
    r = sim.fly("apps", "restart", "hotdash-production")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("restarted successfully!") == 2
    assert [m["kind"] for m in sim.state()["mutations"]] == [
        "volume_extend", "volume_delete", "machine_restart", "machine_restart",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "-a", STAGING, "--yes"], "Error: unknown flag: --yes"),
        (["scale", "vm", "shared-cpu-1x", "-a", STAGING, "--yes"], "Error: unknown flag: --yes"),
        (["apps", "restart", "-a", STAGING], "Error: unknown shorthand flag: 'a' in -a"),
        (["releases", "-a", STAGING, "-y"], "Error: unknown shorthand flag: 'y' in -y"),
        (["deploy", "--ap", STAGING, "--image", "x:y"], "Error: unknown flag: --ap"),
        (["logs", "-a", STAGING, "--follow"], "Error: unknown flag: --follow"),
        (["deploy", "-a", STAGING, "--image"], "Error: flag needs an argument: --image"),
    ],
)
def test_flags_flyctl_lacks_are_refused_as_flyctl_refuses_them(
    sim: Sim, argv: list[str], message: str
) -> None:
    r = sim.fly(*argv)
    assert (r.returncode, r.stderr.strip()) == (1, message)
    assert sim.state()["mutations"] == []


def test_fly_access_token_is_read_before_fly_api_token(sim: Sim) -> None:
    # internal/config/config.go: env.First(FLY_ACCESS_TOKEN, FLY_API_TOKEN)
    wrong_first = sim.fly("status", "-a", STAGING, "--json", FLY_ACCESS_TOKEN="someone-else")
    assert wrong_first.returncode == 1
    assert wrong_first.stderr.strip() == "Error: token validation error"
    right_first = sim.fly("status", "-a", STAGING, "--json", token="wrong",
                          FLY_ACCESS_TOKEN="flysim-token")  # fmt: skip
    assert right_first.returncode == 0, right_first.stderr
    flag = sim.fly("status", "-a", STAGING, "--json", "-t", "flysim-token", token="wrong")
    assert flag.returncode == 0, flag.stderr


def test_config_show_prints_the_current_releases_config(sim: Sim) -> None:
    config = json.loads(sim.fly("config", "show", "-a", "hotdash-chatwoot").stdout)
    assert config["app"] == "hotdash-chatwoot" and config["primary_region"] == "ord"
    assert config["http_service"]["auto_stop_machines"] == "stop"
    assert config["http_service"]["min_machines_running"] == 1
    assert config["mounts"] == [{"source": "chatwoot_storage", "destination": "/data"}]


def test_volume_snapshot_create_and_list_as_flyctl_does(sim: Sim) -> None:
    vol = "vol_staging0old0data1"
    sim.ctl.patch("/_sim/timing", json={"snapshot_seconds": 60}).raise_for_status()
    made = sim.fly("volumes", "snapshots", "create", vol, "-a", STAGING, "--json")
    # flyctl prints this line, not JSON, even with --json (snapshots/create.go).
    assert made.returncode == 0 and made.stdout == f"Scheduled to snapshot volume {vol}\n"

    def snapshots() -> list[dict]:
        out = sim.fly("volumes", "snapshots", "list", vol, "-a", STAGING, "--json").stdout
        return json.loads(out)

    [snap] = snapshots()
    # Docs volumes/snapshots: waiting, running, then created (flysim: once the timing's
    # snapshot_seconds have passed; here none are left).
    assert snap["id"].startswith("vs_") and snap["status"] == "running"
    sim.ctl.patch("/_sim/timing", json={"snapshot_seconds": 0}).raise_for_status()
    listed = snapshots()
    assert listed[0]["status"] == "created"
    assert snap["retention_days"] == 5 and snap["volume_size"] == 1024**3
    assert len(listed) == 1
    assert sim.api.get(f"/v1/apps/{STAGING}/volumes/{vol}/snapshots").json() == listed
    # flyctl's create takes no --yes: refused like an unknown flag.
    refused = sim.fly("volumes", "snapshots", "create", vol, "-a", STAGING, "--yes")
    assert (refused.returncode, refused.stderr.strip()) == (1, "Error: unknown flag: --yes")
    # The snapshot outlives the volume's deletion (kept for its retention days).
    assert sim.fly("volumes", "delete", vol, "-a", STAGING, "--yes").returncode == 0
    assert sim.api.get(f"/v1/apps/{STAGING}/volumes/{vol}/snapshots").json() == listed
