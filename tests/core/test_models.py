"""Models against Fly's JSON shapes (docs/fly.md: "Machines API", "flyctl", "Metrics")."""

from __future__ import annotations

import json
import math

import pytest

from hotdash_ops.errors import FlyBadRequest
from hotdash_ops.models import (
    App,
    AppStatus,
    ListAppsResponse,
    Machine,
    MachineConfig,
    PromResult,
    Release,
    SecretInfo,
    Volume,
    VolumeExtendResult,
    parse_flyctl_log_stream,
    parse_logs_api,
)

MACHINE = {
    "id": "a5c5de9ce64ca12",
    "name": "aged-wind-2649",
    "state": "started",
    "region": "ord",
    "instance_id": "01H000",
    "private_ip": "fdaa::1",
    "created_at": "2023-10-31T02:30:10Z",
    "updated_at": "2023-10-31T02:35:26Z",
    "image_ref": {
        "registry": "registry.fly.io",
        "repository": "myapp",
        "tag": "deployment-01H",
        "digest": "sha256:abc",
        "labels": {"fly.version": "1"},
    },
    "config": {
        "image": "registry.fly.io/myapp:deployment-01H",
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
        "env": {},
        "metadata": {
            "fly_platform_version": "v2",
            "fly_process_group": "app",
            "fly_release_id": "r1",
            "fly_release_version": "12",
        },
        "services": [
            {
                "protocol": "tcp",
                "internal_port": 8080,
                "autostop": True,
                "autostart": True,
                "min_machines_running": 1,
                "ports": [{"port": 443, "handlers": ["tls", "http"]}],
                "concurrency": {"type": "requests", "soft_limit": 200, "hard_limit": 250},
            }
        ],
        "checks": {"alive": {"type": "http", "port": 8080, "path": "/"}},
        "mounts": [{"volume": "vol_abcd1234", "path": "/data", "name": "data"}],
        "restart": {"policy": "on-failure", "max_retries": 10},
        "auto_destroy": False,
    },
    "checks": [
        {"name": "servicecheck-00-http-8080", "status": "passing", "output": "ok"},
        {"name": "servicecheck-01", "status": "critical", "output": "boom"},
    ],
    "events": [
        {"type": "start", "status": "started", "source": "flyd", "timestamp": 1698719726615}
    ],
    "host_status": "ok",
    "something_new": 1,
}


def test_machine_parses_and_derives() -> None:
    m = Machine.model_validate(MACHINE)
    assert m.process_group == "app"
    assert m.release_version == 12
    assert m.image == "registry.fly.io/myapp:deployment-01H"
    assert m.guest is not None and m.guest.memory_mb == 256
    assert m.config is not None
    assert m.config.services[0].autostop == "stop"
    assert m.check_counts() == {"passing": 1, "warning": 0, "critical": 1}
    assert (
        m.image_ref is not None and m.image_ref.reference == "registry.fly.io/myapp:deployment-01H"
    )


@pytest.mark.parametrize(
    ("raw", "normalised"), [(True, "stop"), (False, "off"), ("suspend", "suspend"), (None, None)]
)
def test_autostop_booleans_normalised(raw: object, normalised: str | None) -> None:
    cfg = MachineConfig.model_validate({"image": "x", "services": [{"autostop": raw}]})
    assert cfg.services[0].autostop == normalised


def test_machine_config_round_trips_unknown_keys() -> None:
    cfg = Machine.model_validate(MACHINE).config
    assert cfg is not None
    cfg.services[0].autostop = "suspend"
    cfg.services[0].min_machines_running = 0
    out = cfg.to_api()
    assert out["checks"] == MACHINE["config"]["checks"]
    assert out["restart"] == {"policy": "on-failure", "max_retries": 10}
    assert out["services"][0]["autostop"] == "suspend"
    assert out["services"][0]["concurrency"]["hard_limit"] == 250
    assert out["mounts"][0]["volume"] == "vol_abcd1234"
    json.dumps(out)


def test_machine_without_config() -> None:
    m = Machine.model_validate(
        {"id": "abc123def", "state": "stopped", "region": "iad", "checks": None, "events": None}
    )
    assert m.config is None and m.image is None and m.process_group is None and m.checks == []


def test_volume_and_extend() -> None:
    raw = {
        "id": "vol_9vw681egy1jj5xm4",
        "name": "disk",
        "state": "created",
        "size_gb": 3,
        "region": "yul",
        "zone": "09cd",
        "encrypted": True,
        "attached_machine_id": "908057ef21e487",
        "attached_alloc_id": None,
        "created_at": "2023-09-01T19:47:14.774Z",
        "blocks": 768250,
        "block_size": 4096,
        "blocks_free": 768244,
        "fstype": "ext4",
        "type": "local",
    }
    vol = Volume.model_validate(raw)
    assert vol.attached and vol.size_gb == 3
    assert Volume.model_validate({**raw, "attached_machine_id": ""}).attached is False
    assert Volume.model_validate({**raw, "attached_machine_id": None}).attached is False
    ext = VolumeExtendResult.model_validate({"needs_restart": True, "volume": raw})
    assert ext.needs_restart and ext.volume.id == raw["id"]


def test_apps() -> None:
    body = {
        "total_apps": 1,
        "apps": [
            {
                "id": "x1",
                "name": "hotdash-staging",
                "status": "deployed",
                "machine_count": 2,
                "volume_count": 1,
                "network": "default",
                "organization": {"name": "Personal", "slug": "personal"},
            }
        ],
    }
    apps = ListAppsResponse.model_validate(body).apps
    assert apps[0].organization is not None and apps[0].organization.slug == "personal"
    assert App.model_validate({"name": "a"}).machine_count is None


def test_fly_status_json() -> None:
    raw = {
        "ID": "app1",
        "Name": "myapp",
        "Deployed": True,
        "Status": "deployed",
        "Hostname": "myapp.fly.dev",
        "Version": 42,
        "AppURL": "",
        "Organization": {"ID": "o", "Slug": "personal", "Name": "Personal", "PaidPlan": True},
        "PlatformVersion": "machines",
        "Machines": [MACHINE],
    }
    st = AppStatus.model_validate(raw)
    assert st.name == "myapp" and st.version == 42 and st.deployed
    assert st.organization is not None and st.organization.slug == "personal"
    assert st.machines[0].id == MACHINE["id"]
    assert AppStatus.model_validate({**raw, "Machines": None}).machines == []


def test_fly_releases_json() -> None:
    raw = [
        {
            "ID": "r43",
            "Version": 43,
            "Stable": False,
            "InProgress": False,
            "Reason": "deploy",
            "Description": "Deploy image",
            "Status": "failed",
            "DeploymentStrategy": "",
            "Metadata": None,
            "User": {
                "ID": "u",
                "Name": "Ops",
                "Email": "ops@example.com",
                "EnablePaidHobby": False,
            },
            "EvaluationID": "",
            "CreatedAt": "2025-08-12T16:21:00Z",
            "ImageRef": "registry.fly.io/myapp:deployment-43",
        },
        {
            "ID": "r42",
            "Version": 42,
            "Stable": True,
            "InProgress": False,
            "Reason": "",
            "Description": "",
            "Status": "complete",
            "User": {"ID": "u", "Name": "", "Email": ""},
            "CreatedAt": "2025-08-11T16:21:00Z",
            "ImageRef": "registry.fly.io/myapp:deployment-42",
        },
    ]
    rels = [Release.model_validate(r) for r in raw]
    assert rels[0].version == 43 and rels[0].user_email == "ops@example.com"
    assert rels[0].status == "failed" and not rels[0].complete
    assert rels[1].complete and rels[1].user_email is None
    assert rels[1].created_at.year == 2025 and rels[1].image_ref.endswith("42")


LOG_ENTRY = {
    "level": "error",
    "instance": "3d8d9e1b2c4f87",
    "message": "ERROR db timeout",
    "region": "iad",
    "timestamp": "2025-10-14T09:00:00Z",
    "meta": {"Instance": "3d8", "Region": "iad", "Event": {"Provider": "app"}},
}


def test_flyctl_log_stream_of_indented_objects() -> None:
    second = {**LOG_ENTRY, "level": "info", "message": "GET / 200 {not json}"}
    text = json.dumps(LOG_ENTRY, indent=4) + "\n" + json.dumps(second, indent=4) + "\n\n"
    entries = parse_flyctl_log_stream(text)
    assert [e.level for e in entries] == ["error", "info"]
    assert entries[0].is_error and not entries[1].is_error
    assert entries[1].message == "GET / 200 {not json}"
    assert parse_flyctl_log_stream("") == []
    with pytest.raises(json.JSONDecodeError):
        parse_flyctl_log_stream('{"message": "x"} {broken')


def test_logs_api_json_api_shape() -> None:
    body = {"data": [{"id": "1", "attributes": LOG_ENTRY}], "meta": {"next_token": "123"}}
    entries = parse_logs_api(body)
    assert entries[0].instance == "3d8d9e1b2c4f87" and entries[0].region == "iad"
    assert parse_logs_api({"data": None}) == []


def test_secrets() -> None:
    s = SecretInfo.model_validate({"name": "DATABASE_URL", "digest": "abc", "status": "Deployed"})
    assert s.status == "Deployed"
    leaked = SecretInfo.model_validate({"name": "X", "digest": "d", "value": "plaintext"})
    assert "plaintext" not in leaked.model_dump_json()


def test_prometheus_vector_matrix_nan() -> None:
    vector = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"app": "a1"}, "value": [1700000000.5, "12.5"]}],
        },
    }
    r = PromResult.parse(vector)
    assert r.result_type == "vector" and r.series[0].values == [(1700000000.5, 12.5)]
    matrix = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"app": "a1"}, "values": [[1, "1"], [2, "NaN"], [3, "+Inf"], [4, "3"]]}
            ],
        },
    }
    series = PromResult.parse(matrix).by_label("app")["a1"]
    assert math.isnan(series.values[1][1]) and series.values[2][1] == math.inf
    assert series.finite_values() == [1.0, 3.0]
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1, "2"]}}
    assert PromResult.parse(scalar).series[0].values == [(1.0, 2.0)]


def test_prometheus_error_raises_bad_request() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected"}
    with pytest.raises(FlyBadRequest, match="bad_data: 1:5: parse error"):
        PromResult.parse(body)
