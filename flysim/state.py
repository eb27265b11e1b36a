"""The simulated organisation's state and the logic that changes it (moto's ``models.py``).

One :class:`Backend` holds Org -> App -> machines, volumes, releases, secrets, endpoints,
metrics, logs and faults, built from a :class:`~flysim.scenario.Scenario`. ``reset()`` rebuilds
it from the scenario. Every read and change goes through ``backend.lock`` (a threading lock:
the HTTP handlers run in the event loop, tests may call in from other threads).

Effective endpoints and metrics of an app are layered: the app's own values, then the
overrides of the image it currently runs (``images:`` in the scenario), then values set through
the control API (``PATCH /_sim/apps/<app>``), which win until ``reset``.
"""

from __future__ import annotations

import copy
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flysim import ids
from flysim.errors import BadRequest, Conflict, NotFound
from flysim.scenario import (
    METRIC_NAMES,
    AppSpec,
    EndpointSpec,
    ImageSpec,
    LogSpec,
    MachineSpec,
    ReleaseSpec,
    Scenario,
    VolumeSpec,
)
from flysim.vmsizes import guest_for

DEFAULT_USER = "flysim@example.com"
FAULT_MODES = ("500", "503", "429", "timeout")
FAULT_SCOPES = ("reads", "mutations", "all")


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """RFC 3339 with a Z, second precision (like Fly's API)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Endpoint:
    """What one HTTP path answers."""

    status: int = 200
    latency_ms: float = 0
    body: Any = ""
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: EndpointSpec) -> Endpoint:
        return cls(**spec.model_dump())

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "latency_ms": self.latency_ms,
            "body": self.body,
            "location": self.location,
            "headers": dict(self.headers),
        }


@dataclass
class Fault:
    """Make the API fail for one app: ``mode`` 500|503|429|timeout, on reads|mutations|all."""

    mode: str
    scope: str = "all"
    times: int | None = None
    hang_seconds: float = 30.0

    @classmethod
    def parse(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise BadRequest("fault must be an object or null")
        unknown = set(data) - {"mode", "scope", "times", "hang_seconds"}
        if unknown:
            raise BadRequest(f"unknown fault fields: {sorted(unknown)}")
        mode = str(data.get("mode", ""))
        scope = data.get("scope", "all")
        times = data.get("times")
        hang = data.get("hang_seconds", 30.0)
        if mode not in FAULT_MODES:
            raise BadRequest(f"fault.mode must be one of {list(FAULT_MODES)}, got {mode!r}")
        if scope not in FAULT_SCOPES:
            raise BadRequest(f"fault.scope must be one of {list(FAULT_SCOPES)}, got {scope!r}")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise BadRequest("fault.times must be a positive integer or null (forever)")
        if not isinstance(hang, int | float) or hang < 0:
            raise BadRequest("fault.hang_seconds must be a number >= 0")
        return cls(mode=mode, scope=scope, times=times, hang_seconds=float(hang))

    def applies_to(self, mutation: bool) -> bool:
        return self.scope == "all" or (self.scope == "mutations") == mutation

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "scope": self.scope,
            "times": self.times,
            "hang_seconds": self.hang_seconds,
        }


@dataclass
class Machine:
    """A Fly Machine; ``config`` is the full MachineConfig as the API returns it."""

    id: str
    name: str
    state: str
    region: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: str
    instance_id: str
    private_ip: str
    check_status: str | None = None  # None: derived from the app's /health endpoint
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def image(self) -> str:
        return str(self.config.get("image", ""))

    @property
    def process_group(self) -> str:
        return str(self.config.get("metadata", {}).get("fly_process_group", "app"))

    def touch(self, event: str, status: str, rng: random.Random, new_version: bool) -> None:
        """Record an event; a config change gets a new version and instance id."""
        ts = now()
        self.updated_at = ts
        if new_version:
            self.version = ids.ulid(rng)
            self.instance_id = self.version
        self.events.insert(
            0,
            {
                "id": ids.ulid(rng),
                "type": event,
                "status": status,
                "source": "flyd" if event != "launch" else "user",
                "timestamp": int(ts.timestamp() * 1000),
            },
        )
        del self.events[10:]


@dataclass
class Volume:
    """A Fly volume."""

    id: str
    name: str
    size_gb: int
    region: str
    created_at: datetime
    attached_machine_id: str | None = None
    state: str = "created"
    zone: str = "a1b2"
    encrypted: bool = True


@dataclass
class Release:
    """A release record (what ``fly releases`` lists)."""

    id: str
    version: int
    status: str
    image: str
    created_at: datetime
    user: str = DEFAULT_USER
    description: str = ""
    strategy: str = "rolling"


@dataclass
class LogEntry:
    """One log line."""

    id: str
    timestamp: datetime
    message: str
    level: str
    instance: str
    region: str


@dataclass
class App:
    """A Fly app and everything in it."""

    name: str
    id: str
    internal_numeric_id: int
    region: str
    role: str
    machines: dict[str, Machine] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    secrets: dict[str, datetime] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    endpoint_patch: dict[str, Endpoint] = field(default_factory=dict)
    metric_patch: dict[str, float | None] = field(default_factory=dict)
    logs: list[LogEntry] = field(default_factory=list)
    fault: Fault | None = None
    template: dict[str, Any] = field(default_factory=dict)  # config for new machines
    rng: random.Random = field(default_factory=random.Random)

    @property
    def current_release(self) -> Release | None:
        """The newest complete release."""
        done = [r for r in self.releases if r.status == "complete"]
        return max(done, key=lambda r: r.version) if done else None

    @property
    def current_image(self) -> str:
        """The image most machines run (else the current release's)."""
        counts = Counter(m.image for m in self.machines.values())
        if counts:
            return counts.most_common(1)[0][0]
        rel = self.current_release
        return rel.image if rel else ""

    def live_volumes(self) -> list[Volume]:
        return [v for v in self.volumes.values() if v.state != "pending_destroy"]

    def add_log(self, message: str, level: str = "info", instance: str = "") -> None:
        self.logs.append(
            LogEntry(
                id=ids.ulid(self.rng),
                timestamp=now(),
                message=message,
                level=level,
                instance=instance or next(iter(self.machines), ""),
                region=self.region,
            )
        )


@dataclass
class Mutation:
    """One applied change (for ``GET /_sim/state``)."""

    time: datetime
    app: str
    kind: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"time": iso(self.time), "app": self.app, "kind": self.kind, "detail": self.detail}


def _service_config(spec: dict[str, Any]) -> dict[str, Any]:
    autostop = spec.get("autostop", "off")
    if isinstance(autostop, bool):
        autostop = "stop" if autostop else "off"
    port = spec.get("internal_port", 8080)
    return {
        "protocol": "tcp",
        "internal_port": port,
        "autostop": autostop,
        "autostart": spec.get("autostart", True),
        "min_machines_running": spec.get("min_machines_running", 0),
        "ports": [
            {"port": 80, "handlers": ["http"], "force_https": True},
            {"port": 443, "handlers": ["tls", "http"]},
        ],
        "concurrency": {"type": "requests", "soft_limit": 200, "hard_limit": 250},
        "checks": [
            {
                "type": "http",
                "port": port,
                "method": "GET",
                "path": "/health",
                "interval": "15s",
                "timeout": "2s",
                "grace_period": "5s",
            }
        ],
    }


def machine_config(
    *,
    image: str,
    guest: dict[str, Any],
    process_group: str,
    release: Release | None,
    services: dict[str, Any] | None,
) -> dict[str, Any]:
    """A MachineConfig as ``fly deploy`` would write it."""
    metadata = {"fly_platform_version": "v2", "fly_process_group": process_group}
    if release is not None:
        metadata["fly_release_id"] = release.id
        metadata["fly_release_version"] = str(release.version)
    config: dict[str, Any] = {
        "image": image,
        "guest": dict(guest),
        "env": {"FLY_PROCESS_GROUP": process_group, "PRIMARY_REGION": ""},
        "metadata": metadata,
        "restart": {"policy": "on-failure", "max_retries": 10},
        "stop_config": {"signal": "SIGINT", "timeout": "5s"},
        "auto_destroy": False,
    }
    if services is not None:
        config["services"] = [_service_config(services)]
    return config


class Backend:
    """The whole simulated Fly.io organisation."""

    def __init__(self, scenario: Scenario, *, token: str | None = None) -> None:
        self.scenario = scenario.with_generated()
        self._token_override = token
        self.lock = threading.RLock()
        self.apps: dict[str, App] = {}
        self.images: dict[str, ImageSpec] = {}
        self.external: dict[str, dict[str, Endpoint]] = {}
        self.mutations: list[Mutation] = []
        self.reset()

    # -- setup ---------------------------------------------------------------------------

    @property
    def org(self) -> str:
        return self.scenario.org

    @property
    def token(self) -> str:
        """The token the server accepts (``FLY_API_TOKEN`` of the server wins)."""
        return self._token_override or self.scenario.token

    def reset(self) -> None:
        """Back to the scenario's starting state."""
        with self.lock:
            self.apps = {}
            for index, (name, spec) in enumerate(self.scenario.apps.items(), start=1):
                self.apps[name] = self._build_app(name, spec, index)
            self.images = {
                ref: spec.model_copy(deep=True) for ref, spec in self.scenario.images.items()
            }
            self.external = {
                name: {p: Endpoint.from_spec(e) for p, e in ext.endpoints.items()}
                for name, ext in self.scenario.external.items()
            }
            self.mutations = []

    def _build_app(self, name: str, spec: AppSpec, index: int) -> App:
        rng = random.Random(f"flysim:{name}")
        app = App(
            name=name,
            id=name,
            internal_numeric_id=100000 + index,
            region=spec.region,
            role=spec.role,
            rng=rng,
        )
        self._add_releases(app, spec.releases)
        rel = app.current_release
        image = rel.image if rel else f"registry.fly.io/{name}:deployment-initial"
        app.template = machine_config(
            image=image,
            guest={"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
            process_group="app",
            release=rel,
            services=None,
        )
        for mspec in spec.machines:
            self._add_machines(app, mspec)
        for vspec in spec.volumes:
            self._add_volume(app, vspec)
        now_ = now()
        for secret in spec.secrets:
            app.secrets[secret] = now_ - timedelta(days=30)
        app.endpoints = {p: Endpoint.from_spec(e) for p, e in spec.endpoints.items()}
        app.metrics = {str(k): v for k, v in spec.metrics.items()}
        self._add_logs(app, spec.logs)
        return app

    def _add_releases(self, app: App, specs: list[ReleaseSpec]) -> None:
        existing = {r.version for r in app.releases}
        clash = existing & {s.version for s in specs}
        if clash:
            raise Conflict(f"release versions already exist in {app.name}: {sorted(clash)}")
        now_ = now()
        count = len(specs)
        for i, spec in enumerate(specs):
            minutes = spec.created_minutes_ago
            if minutes is None:  # one release a day, the newest a day ago
                minutes = (count - i) * 1440.0
            app.releases.append(
                Release(
                    id=ids.ulid(app.rng),
                    version=spec.version,
                    status=spec.status,
                    image=spec.image,
                    created_at=now_ - timedelta(minutes=minutes),
                    user=spec.user or DEFAULT_USER,
                    description=spec.description,
                )
            )
        app.releases.sort(key=lambda r: r.version)

    def _add_machines(self, app: App, spec: MachineSpec) -> list[Machine]:
        rel = app.current_release
        added = []
        for n in range(spec.count):
            mid = spec.id if spec.id and spec.count == 1 else ids.machine_id(app.rng)
            if spec.id and spec.count > 1:
                mid = f"{spec.id}{n}"
            if mid in app.machines:
                raise Conflict(f"machine {mid} already exists in {app.name}")
            config = machine_config(
                image=app.current_image or app.template["image"],
                guest={"cpu_kind": spec.cpu_kind, "cpus": spec.cpus, "memory_mb": spec.memory_mb},
                process_group=spec.process_group,
                release=rel,
                services=spec.services.model_dump() if spec.services else None,
            )
            machine = self._new_machine(app, config, spec.region or app.region, spec.state)
            machine.id = mid
            machine.check_status = spec.check_status
            app.machines[mid] = machine
            app.template = copy.deepcopy(config)
            added.append(machine)
        return added

    def _new_machine(self, app: App, config: dict[str, Any], region: str, state: str) -> Machine:
        rng = app.rng
        ts = now()
        version = ids.ulid(rng)
        words = ("aged", "bold", "calm", "dark", "late", "misty", "quiet", "wild")
        nouns = ("wind", "pond", "leaf", "snow", "dew", "sun", "moon", "fire")
        machine = Machine(
            id=ids.machine_id(rng),
            name=f"{rng.choice(words)}-{rng.choice(nouns)}-{rng.randint(1000, 9999)}",
            state=state,
            region=region,
            config=config,
            created_at=ts,
            updated_at=ts,
            version=version,
            instance_id=version,
            private_ip=ids.private_ip(rng),
        )
        machine.touch("launch", "created", rng, new_version=False)
        if state == "started":
            machine.touch("start", "started", rng, new_version=False)
        return machine

    def _add_volume(self, app: App, spec: VolumeSpec) -> Volume:
        vid = spec.id or ids.volume_id(app.rng)
        if vid in app.volumes:
            raise Conflict(f"volume {vid} already exists in {app.name}")
        attached: str | None = None
        if spec.attached is True:
            taken = {v.attached_machine_id for v in app.volumes.values()}
            free = [m for m in app.machines if m not in taken]
            if not free:
                raise BadRequest(f"volume {spec.name}: no machine without a volume in {app.name}")
            attached = free[0]
        elif isinstance(spec.attached, str):
            if spec.attached not in app.machines:
                raise BadRequest(f"volume {spec.name}: no machine {spec.attached} in {app.name}")
            attached = spec.attached
        volume = Volume(
            id=vid,
            name=spec.name,
            size_gb=spec.size_gb,
            region=spec.region or app.region,
            created_at=now() - timedelta(days=60),
            attached_machine_id=attached,
        )
        app.volumes[vid] = volume
        if attached:
            app.machines[attached].config["mounts"] = [
                {"volume": vid, "name": spec.name, "path": "/data", "size_gb": spec.size_gb}
            ]
        return volume

    def _add_logs(self, app: App, specs: list[LogSpec]) -> None:
        now_ = now()
        machine_ids = list(app.machines)
        count = len(specs)
        for i, spec in enumerate(specs):
            minutes = spec.minutes_ago if spec.minutes_ago is not None else (count - i) * 10.0
            instance = spec.instance or (machine_ids[i % len(machine_ids)] if machine_ids else "")
            app.logs.append(
                LogEntry(
                    id=ids.ulid(app.rng),
                    timestamp=now_ - timedelta(minutes=minutes),
                    message=spec.message,
                    level="warn" if spec.level == "warning" else spec.level,
                    instance=instance,
                    region=app.region,
                )
            )
        app.logs.sort(key=lambda e: e.timestamp)

    # -- lookups -------------------------------------------------------------------------

    def app(self, name: str) -> App:
        """The app, or ``NotFound``."""
        try:
            return self.apps[name]
        except KeyError:
            raise NotFound(f'Could not find App "{name}"') from None

    def machine(self, app_name: str, machine_id: str) -> Machine:
        app = self.app(app_name)
        try:
            return app.machines[machine_id]
        except KeyError:
            raise NotFound(f"machine not found: {machine_id}") from None

    def volume(self, app_name: str, volume_id: str) -> Volume:
        app = self.app(app_name)
        try:
            return app.volumes[volume_id]
        except KeyError:
            raise NotFound(f"volume not found: {volume_id}") from None

    def image_spec(self, app: App) -> ImageSpec | None:
        return self.images.get(app.current_image)

    def effective_endpoints(self, app: App) -> dict[str, Endpoint]:
        """App endpoints, then the current image's overrides, then control-API patches."""
        endpoints = dict(app.endpoints)
        spec = self.image_spec(app)
        if spec:
            endpoints.update({p: Endpoint.from_spec(e) for p, e in spec.endpoints.items()})
        endpoints.update(app.endpoint_patch)
        return endpoints

    def effective_metrics(self, app: App) -> dict[str, float | None]:
        """Metric figures (None = no data), layered like endpoints."""
        metrics = {k: app.metrics.get(k) for k in METRIC_NAMES}
        spec = self.image_spec(app)
        if spec:
            metrics.update({str(k): v for k, v in spec.metrics.items()})
        metrics.update(app.metric_patch)
        return metrics

    def check_status(self, app: App, machine: Machine) -> str:
        """A machine's health check: set explicitly, else from the app's /health endpoint."""
        if machine.check_status:
            return machine.check_status
        if machine.state != "started":
            return "warning"
        health = self.effective_endpoints(app).get("/health")
        if health is not None and health.status >= 400:
            return "critical"
        return "passing"

    def take_fault(self, app_name: str, mutation: bool) -> Fault | None:
        """The app's fault if it applies to this call (counting down ``times``)."""
        with self.lock:
            app = self.apps.get(app_name)
            if app is None or app.fault is None or not app.fault.applies_to(mutation):
                return None
            fault = copy.copy(app.fault)
            if app.fault.times is not None:
                app.fault.times -= 1
                if app.fault.times <= 0:
                    app.fault = None
            return fault

    def _record(self, app: App, kind: str, **detail: Any) -> None:
        self.mutations.append(Mutation(now(), app.name, kind, detail))

    # -- mutations (Machines API) --------------------------------------------------------

    def update_machine(self, app_name: str, machine_id: str, body: Any) -> Machine:
        """``POST /apps/{app}/machines/{id}``: full config replace, new version."""
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
            raise BadRequest("invalid request: config is required")
        with self.lock:
            app = self.app(app_name)
            machine = self.machine(app_name, machine_id)
            current = body.get("current_version")
            if current and current != machine.version:
                raise Conflict(
                    f"machine {machine_id} is at version {machine.version}, not {current}"
                )
            machine.config = copy.deepcopy(body["config"])
            machine.touch("update", "replacing", app.rng, new_version=True)
            machine.state = "started" if not body.get("skip_launch") else machine.state
            machine.touch("start", "started", app.rng, new_version=False)
            app.template = copy.deepcopy(machine.config)
            self._record(app, "machine_update", machine=machine_id, image=machine.image)
            return machine

    def set_machine_state(self, app_name: str, machine_id: str, action: str) -> str:
        """start | stop | restart a machine; returns the previous state."""
        with self.lock:
            app = self.app(app_name)
            machine = self.machine(app_name, machine_id)
            previous = machine.state
            if action == "start":
                machine.state = "started"
                machine.touch("start", "started", app.rng, new_version=False)
            elif action == "stop":
                machine.state = "stopped"
                machine.touch("exit", "stopped", app.rng, new_version=False)
            else:
                if previous != "started":
                    raise Conflict(f"machine {machine_id} is {previous}, cannot restart")
                machine.touch("restart", "started", app.rng, new_version=False)
            app.add_log(f"Machine {machine_id} {action} requested", instance=machine_id)
            self._record(app, f"machine_{action}", machine=machine_id, previous_state=previous)
            return previous

    def delete_volume(self, app_name: str, volume_id: str) -> Volume:
        """``DELETE /apps/{app}/volumes/{id}``: the volume goes to ``pending_destroy``."""
        with self.lock:
            app = self.app(app_name)
            volume = self.volume(app_name, volume_id)
            if volume.state == "pending_destroy":
                raise NotFound(f"volume not found: {volume_id}")
            if volume.attached_machine_id:
                raise Conflict(
                    f"volume {volume_id} is attached to machine {volume.attached_machine_id}; "
                    "destroy the machine before deleting the volume"
                )
            volume.state = "pending_destroy"
            self._record(app, "volume_delete", volume=volume_id, size_gb=volume.size_gb)
            return volume

    def extend_volume(self, app_name: str, volume_id: str, body: Any) -> tuple[Volume, bool]:
        """``PUT /apps/{app}/volumes/{id}/extend``: grow only; returns (volume, needs_restart)."""
        size = body.get("size_gb") if isinstance(body, dict) else None
        if not isinstance(size, int) or isinstance(size, bool):
            raise BadRequest("size_gb must be an integer")
        with self.lock:
            app = self.app(app_name)
            volume = self.volume(app_name, volume_id)
            if volume.state == "pending_destroy":
                raise NotFound(f"volume not found: {volume_id}")
            if size <= volume.size_gb:
                raise BadRequest(
                    f"size_gb ({size}) must be greater than the current size ({volume.size_gb})"
                )
            old = volume.size_gb
            volume.size_gb = size
            needs_restart = volume.attached_machine_id is not None
            self._record(app, "volume_extend", volume=volume_id, from_gb=old, to_gb=size)
            return volume, needs_restart

    # -- mutations (flyctl) --------------------------------------------------------------

    def image_labels(self, image: str) -> dict[str, str]:
        """The Docker labels of an image (empty for an image nobody labelled)."""
        spec = self.images.get(image)
        return dict(spec.labels) if spec else {}

    def deploy(
        self,
        app_name: str,
        image: str,
        *,
        strategy: str = "rolling",
        user: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> tuple[Release, str | None]:
        """``fly deploy --image``: a new release; machines move to the image unless it fails.
        ``labels``: the image was just built with these Docker labels (the registry keeps
        them with the image; a later build under the same tag replaces them)."""
        if not image:
            raise BadRequest("an image is required")
        with self.lock:
            app = self.app(app_name)
            if labels is not None:
                spec = self.images.setdefault(image, ImageSpec())
                spec.labels = dict(labels)
            version = max((r.version for r in app.releases), default=0) + 1
            spec = self.images.get(image)
            failed = bool(spec and spec.deploy_fails)
            release = Release(
                id=ids.ulid(app.rng),
                version=version,
                status="failed" if failed else "complete",
                image=image,
                created_at=now(),
                user=user or DEFAULT_USER,
                description=f"Deploy image {image}",
                strategy=strategy,
            )
            app.releases.append(release)
            app.add_log(f"Deploying {image} as release v{version} ({strategy})")
            if failed:
                assert spec is not None
                app.add_log(f"Release v{version} failed: {spec.deploy_error}", level="error")
                self._record(app, "deploy", image=image, version=version, status="failed")
                return release, spec.deploy_error
            for machine in app.machines.values():
                machine.config["image"] = image
                machine.config.setdefault("metadata", {})
                machine.config["metadata"]["fly_release_version"] = str(version)
                machine.config["metadata"]["fly_release_id"] = release.id
                machine.touch("update", "replacing", app.rng, new_version=True)
                machine.touch("start", "started", app.rng, new_version=False)
                if machine.state in ("started", "replacing"):
                    machine.state = "started"
            app.template["image"] = image
            app.add_log(f"Release v{version} complete: all machines run {image}")
            self._record(
                app, "deploy", image=image, version=version, status="complete", strategy=strategy
            )
            return release, None

    def scale_count(
        self,
        app_name: str,
        count: int,
        *,
        region: str | None = None,
        max_per_region: int | None = None,
        process_group: str | None = None,
    ) -> dict[str, Any]:
        """``fly scale count N``: clone or destroy machines of one process group."""
        if count < 0:
            raise BadRequest("count must be >= 0")
        if max_per_region is not None and max_per_region < 1:
            raise BadRequest("--max-per-region must be >= 1")
        with self.lock:
            app = self.app(app_name)
            group = process_group or app.template.get("metadata", {}).get(
                "fly_process_group", "app"
            )
            members = [m for m in app.machines.values() if m.process_group == group]
            regions = (
                [r.strip() for r in region.split(",") if r.strip()]
                if region
                else sorted({m.region for m in members}) or [app.region]
            )
            if max_per_region is not None and count > max_per_region * len(regions):
                raise BadRequest(
                    f"cannot place {count} machines in {len(regions)} region(s) "
                    f"{regions} with --max-per-region {max_per_region}"
                )
            before = len(members)
            added, removed = [], []
            template = next((copy.deepcopy(m.config) for m in members), copy.deepcopy(app.template))
            template.pop("mounts", None)
            template.setdefault("metadata", {})["fly_process_group"] = group
            while len(members) < count:
                per_region = Counter(m.region for m in members)
                target = min(regions, key=lambda r: (per_region[r], regions.index(r)))
                machine = self._new_machine(app, copy.deepcopy(template), target, "started")
                app.machines[machine.id] = machine
                members.append(machine)
                added.append(machine.id)
            while len(members) > count:
                machine = members.pop()
                del app.machines[machine.id]
                for volume in app.volumes.values():
                    if volume.attached_machine_id == machine.id:
                        volume.attached_machine_id = None
                removed.append(machine.id)
            app.template = copy.deepcopy(template)
            app.add_log(f"Scaled {group} from {before} to {count} machines")
            self._record(
                app, "scale_count", group=group, before=before, after=count,
                added=added, removed=removed,
            )  # fmt: skip
            return {"group": group, "before": before, "after": count, "added": added,
                    "removed": removed}  # fmt: skip

    def scale_vm(self, app_name: str, size: str, memory_mb: int | None = None) -> dict[str, Any]:
        """``fly scale vm SIZE [--vm-memory MB]``: every machine gets the new guest."""
        try:
            guest = guest_for(size, memory_mb)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        with self.lock:
            app = self.app(app_name)
            for machine in app.machines.values():
                machine.config["guest"] = dict(guest)
                machine.touch("update", "replacing", app.rng, new_version=True)
                machine.touch("start", "started", app.rng, new_version=False)
            app.template["guest"] = dict(guest)
            app.add_log(f"Scaled VM to {size} ({guest['memory_mb']}MB)")
            self._record(app, "scale_vm", size=size, **guest)
            return guest

    def restart_app(self, app_name: str) -> list[str]:
        """``fly apps restart``: restart every started machine."""
        with self.lock:
            app = self.app(app_name)
            restarted = []
            for machine in app.machines.values():
                if machine.state == "started":
                    machine.touch("restart", "started", app.rng, new_version=False)
                    restarted.append(machine.id)
                    app.add_log(f"Machine {machine.id} restarted", instance=machine.id)
            self._record(app, "restart", machines=restarted)
            return restarted

    # -- control API ---------------------------------------------------------------------

    def patch_app(self, app_name: str, body: Any) -> App:
        """``PATCH /_sim/apps/<app>``; validates everything before changing anything."""
        from pydantic import TypeAdapter, ValidationError

        allowed = {
            "endpoints", "metrics", "fault", "machines_add", "machine_states",
            "volumes_add", "releases_add",
        }  # fmt: skip
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        unknown = set(body) - allowed
        if unknown:
            raise BadRequest(f"unknown fields: {sorted(unknown)}; allowed: {sorted(allowed)}")
        try:
            endpoints = TypeAdapter(dict[str, EndpointSpec | None]).validate_python(
                body.get("endpoints") or {}
            )
            metrics = body.get("metrics") or {}
            bad = set(metrics) - set(METRIC_NAMES)
            if bad:
                raise BadRequest(f"unknown metrics {sorted(bad)}; known: {list(METRIC_NAMES)}")
            metrics = TypeAdapter(dict[str, float | None]).validate_python(metrics)
            machines = TypeAdapter(list[MachineSpec]).validate_python(
                body.get("machines_add") or []
            )
            volumes = TypeAdapter(list[VolumeSpec]).validate_python(body.get("volumes_add") or [])
            releases = TypeAdapter(list[ReleaseSpec]).validate_python(
                body.get("releases_add") or []
            )
        except ValidationError as exc:
            raise BadRequest(f"invalid body: {exc.errors(include_url=False)}") from None
        fault = Fault.parse(body["fault"]) if body.get("fault") is not None else None
        with self.lock:
            app = self.app(app_name)
            states = body.get("machine_states") or {}
            for mid, value in states.items():
                if mid not in app.machines:
                    raise NotFound(f"machine not found: {mid}")
                if not isinstance(value, str | dict):
                    raise BadRequest("machine_states values are a state or {state, check_status}")
            for path, endpoint in endpoints.items():
                if endpoint is None:
                    app.endpoint_patch.pop(path, None)
                    app.endpoints.pop(path, None)
                else:
                    app.endpoint_patch[path] = Endpoint.from_spec(endpoint)
            app.metric_patch.update(metrics)
            if "fault" in body:
                app.fault = fault
            for mspec in machines:
                self._add_machines(app, mspec)
            for mid, value in states.items():
                machine = app.machines[mid]
                if isinstance(value, str):
                    machine.state = value
                else:
                    machine.state = value.get("state", machine.state)
                    machine.check_status = value.get("check_status", machine.check_status)
            for vspec in volumes:
                self._add_volume(app, vspec)
            self._add_releases(app, releases)
            return app

    def create_app(self, body: Any) -> App:
        """``POST /_sim/apps``: an app from an app spec with a ``name``."""
        from pydantic import ValidationError

        try:
            spec = AppSpec.model_validate(body)
        except ValidationError as exc:
            raise BadRequest(f"invalid app spec: {exc.errors(include_url=False)}") from None
        if not spec.name:
            raise BadRequest("name is required")
        with self.lock:
            if spec.name in self.apps:
                raise Conflict(f'app "{spec.name}" already exists')
            app = self._build_app(spec.name, spec, len(self.apps) + 1)
            self.apps[spec.name] = app
            return app
