"""JSON shapes: the Machines API's (snake_case, as in the openapi spec) and flyctl's
(PascalCase where flyctl prints Go structs without json tags: flyctl's `internal/render/render.go`
encodes them with Go's encoding/json, which keeps the field names).

Two departures from what Fly's servers send, made so every answer validates against the spec:
``attached_machine_id`` is left out of a Machines API Volume that is not attached (the spec
types it as a non-nullable string), and ``autostop`` is always a string (``"off"``, ``"stop"``,
``"suspend"``) where Fly still sends booleans. flyctl JSON (``volumes list --json``) carries
``"attached_machine_id": null`` as flyctl does.
"""

from __future__ import annotations

from typing import Any

from flysim.ids import image_digest
from flysim.state import App, Backend, LogEntry, Machine, Release, Volume, iso


def image_ref(image: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """``registry.fly.io/app:tag`` or ``registry.fly.io/app@sha256:...`` -> ImageRef
    ``{registry, repository, tag, digest, labels}`` (fly-go machine_types.go
    `MachineImageRef`; every field `omitempty`, so a reference by digest has no tag);
    ``digest`` is the content's (``ids.image_digest``: a deploy by digest shows the digest it
    was given); ``labels`` are the image's Docker labels (flyctl `fly image show` prints them)."""
    name, at, _ = image.partition("@")
    tag: str | None = None
    if not at:
        if ":" in image.rsplit("/", 1)[-1]:
            name, tag = image.rsplit(":", 1)
        else:
            name, tag = image, "latest"
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = "docker.io", name
    ref: dict[str, Any] = {"registry": registry, "repository": repository}
    if tag is not None:
        ref["tag"] = tag
    ref["digest"] = image_digest(image)
    ref["labels"] = {"fly.flysim": "true", **(labels or {})}
    return ref


def machine_json(backend: Backend, app: App, machine: Machine) -> dict[str, Any]:
    """A ``Machine`` as ``GET /v1/apps/{app}/machines/{id}`` answers (the spec's Machine: its
    version is ``instance_id``, new on every update; there is no ``version`` field)."""
    checks = []
    if machine.config.get("services"):
        status, output = backend.check_status(app, machine)
        port = machine.config["services"][0].get("internal_port", 8080)
        checks.append(
            {
                "name": f"servicecheck-00-http-{port}",
                "status": status,
                "output": output,
                "updated_at": iso(machine.updated_at),
            }
        )
    return {
        "id": machine.id,
        "name": machine.name,
        "state": machine.state,
        "region": machine.region,
        "instance_id": machine.instance_id,
        "private_ip": machine.private_ip,
        "created_at": iso(machine.created_at),
        "updated_at": iso(machine.updated_at),
        "image_ref": image_ref(machine.image, backend.image_labels(machine.image)),
        "config": machine.config,
        "checks": checks,
        "events": list(machine.events),
        "host_status": "ok",
    }


def volume_json(volume: Volume, *, null_unattached: bool = False) -> dict[str, Any]:
    """A ``Volume`` (Machines API; flyctl's when ``null_unattached``)."""
    blocks = volume.size_gb * 262144
    data: dict[str, Any] = {
        "id": volume.id,
        "name": volume.name,
        "state": volume.state,
        "size_gb": volume.size_gb,
        "region": volume.region,
        "zone": volume.zone,
        "encrypted": volume.encrypted,
        "created_at": iso(volume.created_at),
        "blocks": blocks,
        "block_size": 4096,
        "blocks_free": blocks // 2,
        "blocks_avail": blocks // 2,
        "fstype": "ext4",
        "snapshot_retention": 5,
        "auto_backup_enabled": True,
        "host_status": "ok",
        "type": "local",
    }
    if volume.attached_machine_id or null_unattached:
        data["attached_machine_id"] = volume.attached_machine_id
    return data


def app_json(backend: Backend, app: App) -> dict[str, Any]:
    """An ``App`` as ``GET /v1/apps/{app}`` answers."""
    return {
        "id": app.id,
        "name": app.name,
        "status": "deployed" if app.machines else "pending",
        "machine_count": len(app.machines),
        "volume_count": len(app.live_volumes()),
        "network": "default",
        "internal_numeric_id": app.internal_numeric_id,
        "organization": {"name": backend.org, "slug": backend.org, "internal_numeric_id": 4242},
    }


def secrets_json(app: App) -> dict[str, Any]:
    """``AppSecrets`` (names and digests, never values)."""
    from flysim.ids import digest

    return {
        "secrets": [
            {
                "name": name,
                "digest": digest(f"{app.name}:{name}"),
                "created_at": iso(ts),
                "updated_at": iso(ts),
            }
            for name, ts in sorted(app.secrets.items())
        ]
    }


def log_json(app: App, entry: LogEntry) -> dict[str, Any]:
    """A logs API ``data[]`` element (JSON:API)."""
    return {
        "id": entry.id,
        "type": "logs",
        "attributes": {
            "timestamp": entry.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "message": entry.message,
            "level": entry.level,
            "instance": entry.instance,
            "region": entry.region,
            "meta": {
                "event": {"provider": "app"},
                "host": "flysim",
                "app": {"name": app.name},
            },
        },
    }


# -- flyctl (PascalCase Go structs) ---------------------------------------------------------


def _user(email: str) -> dict[str, Any]:
    return {"ID": email, "Name": email.split("@")[0], "Email": email, "EnablePaidHobby": False}


def release_flyctl(release: Release, current: Release | None) -> dict[str, Any]:
    """A ``fly releases --json`` element."""
    return {
        "ID": release.id,
        "Version": release.version,
        "Stable": current is not None and release.version == current.version,
        "InProgress": release.status in ("running", "pending"),
        "Reason": "",
        "Description": release.description,
        "Status": release.status,
        "DeploymentStrategy": release.strategy.upper(),
        "Metadata": None,
        "User": _user(release.user),
        "EvaluationID": "",
        "CreatedAt": iso(release.created_at),
        "ImageRef": release.image,
    }


def organization_flyctl(backend: Backend) -> dict[str, Any]:
    return {
        "ID": backend.org,
        "InternalNumericID": "4242",
        "Name": backend.org,
        "Slug": backend.org,
        "RawSlug": backend.org,
        "PaidPlan": True,
    }


def status_flyctl(backend: Backend, app: App) -> dict[str, Any]:
    """``fly status --json``: v2 machines sorted by id, descending."""
    current = app.current_release
    machines = sorted(
        (
            m
            for m in app.machines.values()
            if m.config.get("metadata", {}).get("fly_platform_version") == "v2"
        ),
        key=lambda m: m.id,
        reverse=True,
    )
    return {
        "ID": app.name,
        "Name": app.name,
        "Deployed": current is not None,
        "Status": "deployed" if app.machines else "pending",
        "Hostname": f"{app.name}.fly.dev",
        "Version": current.version if current else 0,
        "AppURL": f"https://{app.name}.fly.dev",
        "Organization": organization_flyctl(backend),
        "PlatformVersion": "machines",
        "Machines": [machine_json(backend, app, m) for m in machines],
    }


def app_flyctl(backend: Backend, app: App) -> dict[str, Any]:
    """A ``fly apps list --json`` element (fly-go ``App``)."""
    current = app.current_release
    return {
        "ID": app.name,
        "InternalNumericID": str(app.internal_numeric_id),
        "Name": app.name,
        "State": "",
        "Status": "deployed" if app.machines else "pending",
        "Deployed": current is not None,
        "Hostname": f"{app.name}.fly.dev",
        "AppURL": "",
        "Version": 0,
        "NetworkID": 0,
        "Network": "default",
        "Release": None,
        "Organization": organization_flyctl(backend),
        "Secrets": None,
        "CurrentRelease": (
            {"CreatedAt": iso(current.created_at), "Status": current.status} if current else None
        ),
        "Releases": {"Nodes": None},
        "IPAddresses": {"Nodes": None},
        "PlatformVersion": "machines",
        "Machines": {"Nodes": None},
        "CurrentLock": None,
    }


def scale_show_flyctl(app: App) -> list[dict[str, Any]]:
    """``fly scale show --json``: one group per process group."""
    groups: dict[str, dict[str, Any]] = {}
    for m in app.machines.values():
        guest = m.config.get("guest", {})
        group = groups.setdefault(
            m.process_group,
            {
                "Process": m.process_group,
                "Count": 0,
                "CPUKind": guest.get("cpu_kind", "shared"),
                "CPUs": guest.get("cpus", 1),
                "Memory": guest.get("memory_mb", 256),
                "Regions": {},
            },
        )
        group["Count"] += 1
        group["Regions"][m.region] = group["Regions"].get(m.region, 0) + 1
    return list(groups.values())


def secrets_flyctl(app: App) -> list[dict[str, Any]]:
    """``fly secrets list --json``."""
    return [
        {"name": s["name"], "digest": s["digest"], "status": "Deployed"}
        for s in secrets_json(app)["secrets"]
    ]


# -- control API ----------------------------------------------------------------------------


def state_json(backend: Backend) -> dict[str, Any]:
    """``GET /_sim/state``."""
    apps = {}
    for app in backend.apps.values():
        current = app.current_release
        apps[app.name] = {
            "name": app.name,
            "region": app.region,
            "role": app.role,
            "current_image": app.current_image,
            "current_release": current.version if current else None,
            "config": backend.current_config(app.name),
            "releases": [
                {
                    "version": r.version,
                    "status": r.status,
                    "image": r.image,
                    "created_at": iso(r.created_at),
                    "user": r.user,
                    "strategy": r.strategy,
                    "config": r.config,
                }
                for r in app.releases
            ],
            "machines": [machine_json(backend, app, m) for m in app.machines.values()],
            "leases": {m.id: m.lease.to_json()["data"] for m in app.machines.values() if m.lease},
            "timeline": list(app.timeline),
            "volumes": [volume_json(v, null_unattached=True) for v in app.volumes.values()],
            "secrets": sorted(app.secrets),
            "endpoints": {p: e.to_json() for p, e in backend.effective_endpoints(app).items()},
            "metrics": backend.effective_metrics(app),
            "fault": app.fault.to_json() if app.fault else None,
            "log_count": len(app.logs),
        }
    return {
        "org": backend.org,
        "timing": backend.timing.model_dump(),
        "apps": apps,
        "images": {ref: spec.model_dump() for ref, spec in backend.images.items()},
        "external": {
            name: {p: e.to_json() for p, e in eps.items()} for name, eps in backend.external.items()
        },
        "mutations": [m.to_json() for m in backend.mutations],
    }
