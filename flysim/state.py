"""The simulated organisation's state and the logic that changes it (moto's ``models.py``).

One :class:`Backend` holds Org -> App -> machines, volumes, releases, secrets, endpoints,
metrics, logs and faults, built from a :class:`~flysim.scenario.Scenario`. ``reset()`` rebuilds
it from the scenario. Every read and change goes through ``backend.lock`` (a threading lock:
the HTTP handlers run in the event loop, tests may call in from other threads).

Fly takes time, and so does flysim (flysim/README.md lists each behaviour with its source).
State that changes with time is advanced lazily by :meth:`Backend.tick`, which every route
calls first: a machine started or updated is ``starting`` for the boot time of the image it
runs and answers nothing meanwhile, then ``started``; its checks report once it has been up
for their grace period; a deleted volume moves from ``scheduling_destroy`` to
``pending_destroy``; leases expire. Nothing runs in the background.

Effective endpoints and metrics of an app are layered: the app's own values, then the
overrides of the image (``images:`` in the scenario; per machine for endpoints, the image most
machines run for metrics), then values set through the control API (``PATCH
/_sim/apps/<app>``), which win until ``reset``.
"""

from __future__ import annotations

import copy
import hashlib
import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flysim import appconfig, ids
from flysim.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from flysim.scenario import (
    METRIC_NAMES,
    AppSpec,
    EndpointSpec,
    ImageSpec,
    LogSpec,
    MachineSpec,
    ReleaseSpec,
    Scenario,
    TimingSpec,
    VolumeSpec,
)

DEFAULT_USER = "flysim@example.com"
FAULT_MODES = ("500", "503", "429", "timeout")
FAULT_SCOPES = ("reads", "mutations", "all")
# fly-go flaps/flaps_volumes.go `destroyedVolumeStates`: what `fly volumes list` leaves out.
VOLUME_DESTROY_STATES = frozenset(
    {"scheduling_destroy", "fork_cleanup", "waiting_for_detach", "pending_destroy", "destroying"}
)
# Machines that run (or are about to) take an update as a reboot; the others start only
# without `skip_launch` (docs machines/api/machines-resource "Update a Machine").
RUNNING_STATES = frozenset({"started", "starting", "restarting", "replacing", "updating"})
EDGE_METRIC = "fly_edge_http_responses_count"


def _unit(key: str) -> float:
    """A number in [0, 1) fixed by `key` (flysim's noise is reproducible, not random)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64


def _jitter(key: str, value: float, noise: float) -> float:
    """`value` moved by up to +-`noise` of itself, fixed by `key`."""
    return value * (1 + noise * (2 * _unit(key) - 1))


def now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """RFC 3339 with a Z, second precision (like Fly's API)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_unix(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC))


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
class Lease:
    """A machine lease (docs machines-resource "Create a Machine lease"; fly-go MachineLease)."""

    nonce: str
    owner: str
    expires_at: float  # unix seconds
    description: str = ""
    version: str = ""  # the machine's instance_id when it was taken

    def to_json(self) -> dict[str, Any]:
        # The envelope Fly answers with (fly-go machine_types.go MachineLease{Status, Data}).
        return {
            "status": "success",
            "data": {
                "nonce": self.nonce,
                "expires_at": int(self.expires_at),
                "owner": self.owner,
                "description": self.description,
                "version": self.version,
            },
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
    instance_id: str
    private_ip: str
    check_status: str | None = None  # None: from the /health endpoint of its image
    events: list[dict[str, Any]] = field(default_factory=list)
    ready_at: float | None = None  # while `starting`: when it will be `started`
    started_at: float | None = None  # when it last became `started`
    lease: Lease | None = None
    cordoned: bool = False

    @property
    def image(self) -> str:
        return str(self.config.get("image", ""))

    @property
    def process_group(self) -> str:
        return str(self.config.get("metadata", {}).get("fly_process_group", "app"))

    def event(self, kind: str, status: str, rng: random.Random, at: float | None = None) -> None:
        """Record a lifecycle event (newest first, ten kept), timestamps in ms like Fly's."""
        ts = time.time() if at is None else at
        self.updated_at = datetime.fromtimestamp(ts, UTC)
        self.events.insert(
            0,
            {
                "id": ids.ulid(rng),
                "type": kind,
                "status": status,
                "source": "user" if kind in ("launch", "update") else "flyd",
                "timestamp": int(ts * 1000),
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
    destroyed_at: float | None = None  # when `scheduling_destroy` becomes `pending_destroy`
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # VolumeSnapshot JSON

    @property
    def gone(self) -> bool:
        """In Fly's destroy pipeline (fly-go leaves these out of `fly volumes list`)."""
        return self.state in VOLUME_DESTROY_STATES


@dataclass
class Mutation:
    """One applied change (for ``GET /_sim/state``)."""

    time: datetime
    app: str
    kind: str
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"time": iso(self.time), "app": self.app, "kind": self.kind, "detail": self.detail}


@dataclass
class Release:
    """A release record (what ``fly releases`` lists), with the app config it carries."""

    id: str
    version: int
    status: str
    image: str
    created_at: datetime
    config: dict[str, Any] = field(default_factory=dict)
    user: str = DEFAULT_USER
    description: str = ""
    strategy: str = "rolling"
    mutation: Mutation | None = None  # the `deploy` mutation it was recorded as


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
class Series:
    """One labelled counter series of Fly's Prometheus; it exists from ``since`` on, at
    ``rate`` per second now (a counter that stopped growing keeps its series, at rate 0)."""

    since: float
    rate: float = 0.0


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
    # edge series by status label ("200", "503"): `fly_edge_http_responses_count{status}`
    edge_series: dict[str, Series] = field(default_factory=dict)
    # every machine state change: {"time": unix, "machine": id, "state": s}
    timeline: list[dict[str, Any]] = field(default_factory=list)
    proxy_turn: int = 0  # round robin over started machines

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
        return [v for v in self.volumes.values() if not v.gone]

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


def machine_config(
    *,
    image: str,
    guest: dict[str, Any],
    process_group: str,
    release: Release | None,
    services: list[dict[str, Any]] | None,
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
    if services:
        config["services"] = copy.deepcopy(services)
    return config


def _service_of(spec: MachineSpec, timing: TimingSpec) -> dict[str, Any] | None:
    """The ``[http_service]`` a scenario machine's ``services`` describes."""
    if spec.services is None:
        return None
    autostop = spec.services.autostop
    if isinstance(autostop, bool):
        autostop = "stop" if autostop else "off"
    return appconfig.http_service(
        internal_port=spec.services.internal_port,
        autostop=autostop,
        autostart=spec.services.autostart,
        min_machines_running=spec.services.min_machines_running,
        check_seconds=timing.check_seconds,
    )


class Backend:
    """The whole simulated Fly.io organisation."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        token: str | None = None,
        timing: dict[str, float] | None = None,
    ) -> None:
        self.scenario = scenario.with_generated()
        if timing:
            merged = self.scenario.timing.model_dump() | timing
            self.scenario = self.scenario.model_copy(
                update={"timing": TimingSpec.model_validate(merged)}
            )
        self._token_override = token
        self._base_timing = self.scenario.timing
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
    def timing(self) -> TimingSpec:
        return self.scenario.timing

    @property
    def token(self) -> str:
        """The token the server accepts (``FLY_API_TOKEN`` of the server wins)."""
        return self._token_override or self.scenario.token

    def reset(self) -> None:
        """Back to the scenario's starting state (and its timing)."""
        with self.lock:
            self.scenario = self.scenario.model_copy(update={"timing": self._base_timing})
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
            # The scenario's traffic is not new: its counter series go back a day.
            for app in self.apps.values():
                self._update_edge_series(app, time.time() - 86400)
            self.tick()

    def _scenario_config(self, name: str, spec: AppSpec) -> dict[str, Any]:
        """The app config of a scenario's releases, from its first machine with services."""
        with_services = next((m for m in spec.machines if m.services is not None), None)
        service = _service_of(with_services, self.timing) if with_services else None
        mounts = [{"name": v.name, "path": "/data"} for v in spec.volumes if v.attached]
        return appconfig.app_config(name, spec.region, service=service, mounts=mounts[:1])

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
        self._add_releases(app, spec.releases, self._scenario_config(name, spec))
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

    def _add_releases(
        self, app: App, specs: list[ReleaseSpec], config: dict[str, Any] | None = None
    ) -> None:
        existing = {r.version for r in app.releases}
        clash = existing & {s.version for s in specs}
        if clash:
            raise Conflict(f"release versions already exist in {app.name}: {sorted(clash)}")
        if config is None:
            config = self.config_from_machines(app)
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
                    config=copy.deepcopy(config),
                    user=spec.user or DEFAULT_USER,
                    description=spec.description,
                )
            )
        app.releases.sort(key=lambda r: r.version)

    def _add_machines(self, app: App, spec: MachineSpec) -> list[Machine]:
        rel = app.current_release
        added = []
        service = _service_of(spec, self.timing)
        services = (
            appconfig.machine_services(
                appconfig.app_config(app.name, app.region, service=service), spec.process_group
            )
            if service
            else None
        )
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
                services=services,
            )
            machine = self._new_machine(app, config, spec.region or app.region, spec.state)
            del app.machines[machine.id]
            machine.id = mid
            machine.check_status = spec.check_status
            app.machines[mid] = machine
            app.template = copy.deepcopy(config)
            added.append(machine)
        return added

    def _new_machine(self, app: App, config: dict[str, Any], region: str, state: str) -> Machine:
        """A machine already in `state` (a scenario's, or a clone): no boot time."""
        rng = app.rng
        ts = now()
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
            instance_id=ids.ulid(rng),
            private_ip=ids.private_ip(rng),
        )
        machine.event("launch", "created", rng)
        if state == "started":
            # Up for long: its checks have reported already.
            machine.started_at = time.time() - 3600
            machine.event("start", "started", rng)
        app.machines[machine.id] = machine
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
            state=spec.state,
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

    # -- time ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Advance what time changes: boots end, destroyed volumes move on, leases expire,
        counter series appear. Called under the lock before every answer."""
        with self.lock:
            clock = time.time()
            for app in self.apps.values():
                for machine in app.machines.values():
                    if machine.state == "starting" and machine.ready_at is not None:
                        if clock >= machine.ready_at:
                            self._set_state(app, machine, "started", at=machine.ready_at)
                            machine.started_at = machine.ready_at
                            machine.ready_at = None
                            machine.event("start", "started", app.rng, at=machine.started_at)
                    if machine.lease is not None and machine.lease.expires_at <= clock:
                        machine.lease = None
                for volume in app.volumes.values():
                    if (
                        volume.state == "scheduling_destroy"
                        and volume.destroyed_at is not None
                        and clock >= volume.destroyed_at
                    ):
                        volume.state = "pending_destroy"
                self._update_edge_series(app, clock)

    def _set_state(self, app: App, machine: Machine, state: str, at: float | None = None) -> None:
        machine.state = state
        app.timeline.append(
            {"time": time.time() if at is None else at, "machine": machine.id, "state": state}
        )

    def boot_seconds(self, image: str) -> float:
        """How long a machine running `image` takes to start (the image's, else the app's)."""
        spec = self.image_by_ref(image)
        if spec is not None and spec.boot_seconds is not None:
            return spec.boot_seconds
        return self.timing.boot_seconds

    def _boot(self, app: App, machine: Machine, event: str) -> None:
        """(Re)start `machine`: it answers nothing until its image's boot time has passed."""
        clock = time.time()
        self._set_state(app, machine, "starting", at=clock)
        machine.started_at = None
        machine.ready_at = clock + self.boot_seconds(machine.image)
        machine.event(event, "starting", app.rng, at=clock)

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

    def image_by_ref(self, ref: str) -> ImageSpec | None:
        """The image `ref` names: by its tag reference, or by digest (``repo@sha256:...``)
        the image whose content has that digest (one image, two names: a deploy by digest
        runs what the tag ran, with its overrides and labels)."""
        spec = self.images.get(ref)
        if spec is not None or "@" not in ref:
            return spec
        digest = ids.image_digest(ref)
        return next((s for r, s in self.images.items() if ids.image_digest(r) == digest), None)

    def image_spec(self, app: App, image: str | None = None) -> ImageSpec | None:
        return self.image_by_ref(image if image is not None else app.current_image)

    def effective_endpoints(self, app: App, image: str | None = None) -> dict[str, Endpoint]:
        """App endpoints, then the image's overrides (default: the image most machines run),
        then control-API patches."""
        endpoints = dict(app.endpoints)
        spec = self.image_spec(app, image)
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

    def check_status(self, app: App, machine: Machine) -> tuple[str, str]:
        """A machine's service check ``(status, output)``: set explicitly, else "warning"
        until it is started and past the check's grace period, else from the ``/health``
        endpoint of the image it runs."""
        if machine.check_status:
            outputs = {"passing": "HTTP GET /health: 200 OK", "warning": "check warning",
                       "critical": "HTTP GET /health: 503 Service Unavailable"}  # fmt: skip
            return machine.check_status, outputs.get(machine.check_status, "")
        if machine.state != "started" or machine.started_at is None:
            return "warning", f"machine is {machine.state}"
        services = machine.config.get("services") or [{}]
        grace = max(appconfig.check_grace_seconds(s) for s in services)
        if time.time() < machine.started_at + grace:
            return "warning", "waiting for the grace period before the first check"
        health = self.effective_endpoints(app, machine.image).get("/health")
        if health is not None and health.status >= 400:
            return "critical", f"HTTP GET /health: {health.status}"
        return "passing", "HTTP GET /health: 200 OK"

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

    def _record(self, app: App, kind: str, **detail: Any) -> Mutation:
        mutation = Mutation(now(), app.name, kind, detail)
        self.mutations.append(mutation)
        return mutation

    def config_from_machines(self, app: App) -> dict[str, Any]:
        """An app config read back from its machines (flyctl's fallback when the current
        release has none: internal/appconfig/remote.go ``getAppV2ConfigFromMachines``)."""
        first = next((m for m in app.machines.values() if m.config.get("services")), None)
        service = None
        if first is not None:
            svc = first.config["services"][0]
            service = {
                "internal_port": svc.get("internal_port", 8080),
                "force_https": any(p.get("force_https") for p in svc.get("ports", [])),
                "auto_stop_machines": svc.get("autostop", "off"),
                "auto_start_machines": svc.get("autostart", True),
                "min_machines_running": svc.get("min_machines_running", 0),
                "processes": [first.process_group],
                "checks": [
                    {k: v for k, v in c.items() if k not in ("type", "port")}
                    for c in svc.get("checks", [])
                ],
            }
        mounts = next((m.config.get("mounts") for m in app.machines.values()
                       if m.config.get("mounts")), None)  # fmt: skip
        return appconfig.app_config(app.name, app.region, service=service, mounts=mounts)

    def current_config(self, app_name: str) -> dict[str, Any]:
        """``fly config show``: the current release's config (or the machines')."""
        with self.lock:
            app = self.app(app_name)
            rel = app.current_release
            if rel is not None and rel.config:
                return copy.deepcopy(rel.config)
            return self.config_from_machines(app)

    # -- leases (docs machines/api/machines-resource: "Create/Get/Release a Machine lease") -----

    def _check_lease(self, machine: Machine, nonce: str | None) -> None:
        """409 unless the machine is free or `nonce` is its lease's (flyctl's plan.go matches
        the text "lease currently held by")."""
        lease = machine.lease
        if lease is None or lease.expires_at <= time.time() or nonce == lease.nonce:
            return
        raise Conflict(
            f"machine ID {machine.id} lease currently held by {lease.owner}, "
            f"expires at {datetime.fromtimestamp(lease.expires_at, UTC):%Y-%m-%d %H:%M:%S} UTC"
        )

    def acquire_lease(
        self, app_name: str, machine_id: str, *, ttl: float, description: str, nonce: str | None
    ) -> Lease:
        """``POST .../lease``: a new lease, or a refresh with the holder's nonce."""
        if ttl <= 0:
            raise BadRequest("ttl must be a positive number of seconds")
        with self.lock:
            app = self.app(app_name)
            machine = self.machine(app_name, machine_id)
            self._check_lease(machine, nonce)
            clock = time.time()
            if machine.lease is not None and nonce == machine.lease.nonce:
                machine.lease.expires_at = clock + ttl
                return machine.lease
            machine.lease = Lease(
                nonce=f"{app.rng.getrandbits(48):012x}",
                owner=DEFAULT_USER,
                expires_at=clock + ttl,
                description=description,
                version=machine.instance_id,
            )
            return machine.lease

    def lease_of(self, app_name: str, machine_id: str) -> Lease:
        with self.lock:
            machine = self.machine(app_name, machine_id)
            if machine.lease is None:
                raise NotFound(f"no lease found for machine {machine_id}")
            return machine.lease

    def release_lease(self, app_name: str, machine_id: str, nonce: str | None) -> None:
        """``DELETE .../lease``: only with the holder's nonce (400 otherwise, as documented)."""
        with self.lock:
            machine = self.machine(app_name, machine_id)
            if machine.lease is None:
                return
            if nonce != machine.lease.nonce:
                raise BadRequest("the fly-machine-lease-nonce header does not match the lease")
            machine.lease = None

    # -- mutations (Machines API) --------------------------------------------------------

    def update_machine(
        self, app_name: str, machine_id: str, body: Any, *, nonce: str | None = None
    ) -> Machine:
        """``POST /apps/{app}/machines/{id}``: full config replace and a new instance_id; a
        running machine reboots, a stopped one starts unless ``skip_launch``."""
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
            raise BadRequest("invalid request: config is required")
        with self.lock:
            app = self.app(app_name)
            machine = self.machine(app_name, machine_id)
            self._check_lease(machine, nonce)
            current = body.get("current_version")
            if current and current != machine.instance_id:
                raise PreconditionFailed(
                    f"machine {machine_id}: current_version {current} is not its latest "
                    f"instance_id {machine.instance_id}; read the machine again"
                )
            was = machine.state
            machine.config = copy.deepcopy(body["config"])
            machine.instance_id = ids.ulid(app.rng)
            machine.event("update", "replacing", app.rng)
            if was in RUNNING_STATES or not body.get("skip_launch"):
                self._boot(app, machine, "launch")
            if machine.lease is not None:
                machine.lease.version = machine.instance_id
            app.template = copy.deepcopy(machine.config)
            self._record(
                app, "machine_update", machine=machine_id, image=machine.image,
                previous_state=was, state=machine.state,
            )  # fmt: skip
            return machine

    def set_machine_state(
        self, app_name: str, machine_id: str, action: str, *, nonce: str | None = None
    ) -> str:
        """start | stop | restart a machine; returns the previous state."""
        with self.lock:
            app = self.app(app_name)
            machine = self.machine(app_name, machine_id)
            self._check_lease(machine, nonce)
            previous = machine.state
            if action == "start":
                if previous not in RUNNING_STATES:
                    self._boot(app, machine, "start")
            elif action == "stop":
                self._set_state(app, machine, "stopped")
                machine.started_at = machine.ready_at = None
                machine.event("exit", "stopped", app.rng)
            else:
                if previous != "started":
                    raise Conflict(f"machine {machine_id} is {previous}, cannot restart")
                self._boot(app, machine, "restart")
            app.add_log(f"Machine {machine_id} {action} requested", instance=machine_id)
            self._record(app, f"machine_{action}", machine=machine_id, previous_state=previous)
            return previous

    def create_machine(self, app_name: str, body: Any) -> tuple[Machine, Lease | None]:
        """``POST /apps/{app}/machines``: a new machine (booting unless ``skip_launch``;
        ``skip_service_registration`` keeps it out of the proxy until uncordoned)."""
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
            raise BadRequest("invalid request: config is required")
        with self.lock:
            app = self.app(app_name)
            region = str(body.get("region") or app.region)
            machine = self._new_machine(app, copy.deepcopy(body["config"]), region, "created")
            self._set_state(app, machine, "created")
            machine.cordoned = bool(body.get("skip_service_registration"))
            if not body.get("skip_launch"):
                self._boot(app, machine, "start")
            lease = None
            ttl = body.get("lease_ttl")
            if isinstance(ttl, int) and ttl > 0:
                lease = self.acquire_lease(
                    app_name, machine.id, ttl=ttl, description="created", nonce=None
                )
            self._record(app, "machine_create", machine=machine.id, image=machine.image)
            return machine, lease

    def destroy_machine(
        self, app_name: str, machine_id: str, *, force: bool, nonce: str | None = None
    ) -> None:
        """``DELETE /apps/{app}/machines/{id}``: a running machine only with ``force``."""
        with self.lock:
            app = self.app(app_name)
            machine = self.machine(app_name, machine_id)
            self._check_lease(machine, nonce)
            if machine.state in RUNNING_STATES and not force:
                raise PreconditionFailed(
                    f"unable to destroy machine {machine_id}, not currently stopped"
                )
            self._set_state(app, machine, "destroyed")
            del app.machines[machine_id]
            for volume in app.volumes.values():
                if volume.attached_machine_id == machine_id:
                    volume.attached_machine_id = None
            self._record(app, "machine_destroy", machine=machine_id)

    def cordon(self, app_name: str, machine_id: str, cordoned: bool, nonce: str | None) -> None:
        """``POST .../cordon`` / ``.../uncordon``: route proxy traffic away or back."""
        with self.lock:
            machine = self.machine(app_name, machine_id)
            self._check_lease(machine, nonce)
            machine.cordoned = cordoned

    def delete_volume(self, app_name: str, volume_id: str) -> Volume:
        """``DELETE /apps/{app}/volumes/{id}``: ``scheduling_destroy``, then ``pending_destroy``
        (docs volumes/volume-states: "Destroy a volume")."""
        with self.lock:
            app = self.app(app_name)
            volume = self.volume(app_name, volume_id)
            if volume.gone:
                raise NotFound(f"volume not found: {volume_id}")
            if volume.attached_machine_id:
                raise Conflict(
                    f"volume {volume_id} is attached to machine {volume.attached_machine_id}; "
                    "destroy the machine before deleting the volume"
                )
            volume.state = "scheduling_destroy"
            volume.destroyed_at = time.time() + self.timing.volume_destroy_seconds
            self._record(app, "volume_delete", volume=volume_id, size_gb=volume.size_gb)
            return volume

    def snapshot_volume(self, app_name: str, volume_id: str) -> dict[str, Any]:
        """``POST /apps/{app}/volumes/{id}/snapshots``: an on-demand snapshot. It is
        ``running`` for the timing's ``snapshot_seconds``, then ``created`` (docs
        volumes/snapshots: "The state of the new snapshot will go from waiting to running to
        created"), and kept
        ``snapshot_retention`` days (5, Fly's default) also after the volume is deleted
        (docs volumes/volume-manage, "Restore a deleted volume")."""
        with self.lock:
            app = self.app(app_name)
            volume = self.volume(app_name, volume_id)
            if volume.gone:
                raise NotFound(f"volume not found: {volume_id}")
            snapshot = {
                "_at": now().timestamp(),  # full precision; created_at is in whole seconds
                "id": ids.snapshot_id(app.rng),
                "created_at": iso(now()),
                "digest": ids.digest(f"{volume_id}:{len(volume.snapshots)}"),
                "retention_days": 5,
                "size": volume.size_gb * 1024**3 // 2,
                "status": "running",
                "volume_size": volume.size_gb * 1024**3,
            }
            volume.snapshots.append(snapshot)
            self._record(app, "volume_snapshot", volume=volume_id, snapshot=snapshot["id"])
            return {k: v for k, v in snapshot.items() if not k.startswith("_")}

    def volume_snapshots(self, app_name: str, volume_id: str) -> list[dict[str, Any]]:
        """The volume's snapshots, each ``created`` once ``snapshot_seconds`` have passed."""
        with self.lock:
            volume = self.volume(app_name, volume_id)
            done = now().timestamp() - self.timing.snapshot_seconds
            for snap in volume.snapshots:
                if snap["status"] == "running" and snap["_at"] <= done:
                    snap["status"] = "created"
            return [{k: v for k, v in s.items() if not k.startswith("_")} for s in volume.snapshots]

    def extend_volume(self, app_name: str, volume_id: str, body: Any) -> tuple[Volume, bool]:
        """``PUT /apps/{app}/volumes/{id}/extend``: grow only; returns (volume, needs_restart)."""
        size = body.get("size_gb") if isinstance(body, dict) else None
        if not isinstance(size, int) or isinstance(size, bool):
            raise BadRequest("size_gb must be an integer")
        with self.lock:
            app = self.app(app_name)
            volume = self.volume(app_name, volume_id)
            if volume.gone:
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

    # -- Fly Proxy -------------------------------------------------------------------------

    def route(
        self, app_name: str, instance: str | None = None
    ) -> tuple[dict[str, Endpoint], float] | None:
        """Where Fly Proxy sends a request: a started machine (its image's endpoints), else a
        stopped one it starts because a service autostarts (the request waits for its boot:
        docs launch/autostop-autostart), else nowhere (None). Returns (endpoints, wait).

        `instance` is the `fly-force-instance-id` header: that machine only, "no fallback if
        Machine is ultimately unavailable" (docs networking/dynamic-request-routing)."""
        with self.lock:
            app = self.apps.get(app_name)
            if app is None:
                return None
            candidates = [m for m in app.machines.values() if instance is None or m.id == instance]
            serving = [m for m in candidates
                       if m.state == "started" and not m.cordoned]  # fmt: skip
            if serving:
                app.proxy_turn += 1
                machine = serving[app.proxy_turn % len(serving)]
                return self.effective_endpoints(app, machine.image), 0.0
            wakeable = [
                m for m in candidates
                if m.state in ("stopped", "suspended") and not m.cordoned
                and any(s.get("autostart", True) for s in m.config.get("services", []))
            ]  # fmt: skip
            if not wakeable:
                return None
            machine = wakeable[0]
            self._boot(app, machine, "start")
            app.add_log(f"Machine {machine.id} started by Fly Proxy", instance=machine.id)
            self._record(app, "machine_start", machine=machine.id, by="fly-proxy autostart")
            assert machine.ready_at is not None
            return self.effective_endpoints(app, machine.image), machine.ready_at - time.time()

    # -- Prometheus series -------------------------------------------------------------------

    def _update_edge_series(self, app: App, clock: float) -> None:
        """`fly_edge_http_responses_count{app, region, status}` counters: a status series
        exists once a response with that status was served, and keeps existing (at rate 0)
        when responses stop (docs monitoring/metrics; a counter's series is not deleted)."""
        metrics = self.effective_metrics(app)
        rps, error_rate = metrics.get("rps"), metrics.get("error_rate") or 0.0
        rates = {"200": 0.0, "503": 0.0}
        if rps:
            rates = {"200": rps * (1 - error_rate), "503": rps * error_rate}
        for status, rate in rates.items():
            series = app.edge_series.get(status)
            if series is None and rate > 0:
                app.edge_series[status] = Series(since=clock, rate=rate)
            elif series is not None:
                series.rate = rate

    def instance_metrics(self, app: App, machine: Machine) -> dict[str, float | None]:
        """One machine's figures: the app's, the overrides of the image *it* runs, then
        control-API patches (a canary machine on a worse image is worse alone)."""
        metrics = {k: app.metrics.get(k) for k in METRIC_NAMES}
        spec = self.images.get(machine.image)
        if spec:
            metrics.update({str(k): v for k, v in spec.metrics.items()})
        metrics.update(app.metric_patch)
        return metrics

    def instance_samples(
        self, app: App, figure: str, at: float, window: float
    ) -> list[tuple[str, float, float]]:
        """``fly_app_http_*`` series per instance (machine id), as ``(instance, since,
        value)`` at time `at` for a query over `window` seconds: ``rps`` (responses/s),
        ``errors_5xx`` (5xx responses/s) or ``p95_ms`` (seconds; NaN with no requests).

        Fly Proxy spreads the app's requests over its started machines, so each gets the
        ``rps`` of its image's figures divided by their number; with fewer than one request
        expected in the window a window has one request or none (a quiet instance has many
        empty windows). Each sample varies by up to +-``instance_noise`` of its figure,
        deterministically per instance, figure and time (a statistical judge needs spread). An
        instance whose figures have no 5xx has no 5xx series (docs monitoring/metrics)."""
        serving = [
            m for m in app.machines.values()
            if m.state == "started" and m.started_at is not None and not m.cordoned
        ]  # fmt: skip
        out: list[tuple[str, float, float]] = []
        for machine in serving:
            metrics = self.instance_metrics(app, machine)
            rps = (metrics.get("rps") or 0.0) / len(serving)
            expected = rps * window
            if expected <= 0:
                continue  # never had traffic: no series at all
            assert machine.started_at is not None
            key = f"{app.name}|{machine.id}|{at:.3f}"
            busy = expected >= 1 or _unit(key + "|traffic") < expected
            rate = (rps if expected >= 1 else 1 / window) if busy else 0.0
            noise = self.scenario.instance_noise
            if figure == "rps":
                value = _jitter(f"{key}|rps", rate, noise)
            elif figure == "errors_5xx":
                error_rate = metrics.get("error_rate") or 0.0
                if error_rate <= 0:
                    continue
                value = min(rate, _jitter(f"{key}|errors", rate * error_rate, noise))
            elif figure == "p95_ms":
                p95 = metrics.get("p95_ms")
                if p95 is None:
                    continue
                value = _jitter(f"{key}|p95", p95 / 1000, noise) if busy else math.nan
            else:
                raise ValueError(f"figure: no instance series for {figure!r}")
            out.append((machine.id, machine.started_at, value))
        return out

    def started_since(self, app: App) -> list[float]:
        """When each started machine started (each has `fly_instance_*` series since then)."""
        return [m.started_at for m in app.machines.values()
                if m.state == "started" and m.started_at is not None]  # fmt: skip

    def image_labels(self, image: str) -> dict[str, str]:
        """The Docker labels of an image (empty for an image nobody labelled)."""
        spec = self.image_by_ref(image)
        return dict(spec.labels) if spec else {}

    # -- releases and deploys (what flyctl does over GraphQL) ------------------------------

    def create_release(
        self,
        app_name: str,
        *,
        image: str,
        config: dict[str, Any],
        strategy: str,
        user: str | None,
        labels: dict[str, str] | None = None,
    ) -> tuple[Release, str | None]:
        """A new release, ``running`` (flyctl's ``updateReleaseInBackend(ctx, "running")``).
        An image whose scenario says ``deploy_fails`` fails here, before any machine moves,
        as a failing release command does (release v<N> failed: <deploy_error>).
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
            spec = self.image_by_ref(image)
            failed = bool(spec and spec.deploy_fails)
            release = Release(
                id=ids.ulid(app.rng),
                version=version,
                status="failed" if failed else "running",
                image=image,
                created_at=now(),
                config=copy.deepcopy(config),
                user=user or DEFAULT_USER,
                description=f"Deploy image {image}",
                strategy=strategy,
            )
            app.releases.append(release)
            app.add_log(f"Deploying {image} as release v{version} ({strategy})")
            release.mutation = self._record(
                app, "deploy", image=image, version=version, strategy=strategy,
                status=release.status,
            )  # fmt: skip
            if failed:
                assert spec is not None
                app.add_log(f"Release v{version} failed: {spec.deploy_error}", level="error")
                return release, spec.deploy_error
            return release, None

    def finish_release(self, app_name: str, version: int, status: str) -> Release:
        """The release's final status, as flyctl sets it: complete, failed or interrupted."""
        if status not in ("complete", "failed", "interrupted"):
            raise BadRequest(f"status must be complete, failed or interrupted, not {status!r}")
        with self.lock:
            app = self.app(app_name)
            release = next((r for r in app.releases if r.version == version), None)
            if release is None:
                raise NotFound(f"release v{version} not found")
            release.status = status
            if release.mutation is not None:
                release.mutation.detail["status"] = status
            app.add_log(f"Release v{version} {status}", level="info" if status == "complete"
                        else "error")  # fmt: skip
            return release

    def scale_count(
        self,
        app_name: str,
        count: int,
        *,
        region: str | None = None,
        max_per_region: int | None = None,
        process_group: str | None = None,
    ) -> dict[str, Any]:
        """``fly scale count N``: clone (booting) or destroy machines of one process group."""
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
                machine = self._new_machine(app, copy.deepcopy(template), target, "created")
                self._boot(app, machine, "start")
                members.append(machine)
                added.append(machine.id)
            while len(members) > count:
                machine = members.pop()
                self._set_state(app, machine, "destroyed")
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
                if isinstance(value, dict):
                    machine.check_status = value.get("check_status", machine.check_status)
                    value = value.get("state", machine.state)
                if value != machine.state:
                    # Set at once, no boot: a started machine is up long since.
                    self._set_state(app, machine, str(value))
                    machine.ready_at = None
                    machine.started_at = time.time() - 3600 if value == "started" else None
            for vspec in volumes:
                self._add_volume(app, vspec)
            self._add_releases(app, releases)
            return app

    def patch_timing(self, body: Any) -> TimingSpec:
        """``PATCH /_sim/timing``: change how long things take, until ``reset``."""
        from pydantic import ValidationError

        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        unknown = set(body) - set(TimingSpec.model_fields)
        if unknown:
            raise BadRequest(f"unknown timing fields {sorted(unknown)}; known: "
                             f"{list(TimingSpec.model_fields)}")  # fmt: skip
        with self.lock:
            try:
                timing = TimingSpec.model_validate({**self.timing.model_dump(), **body})
            except ValidationError as exc:
                raise BadRequest(f"invalid timing: {exc.errors(include_url=False)}") from None
            self.scenario = self.scenario.model_copy(update={"timing": timing})
            return timing

    def patch_image(self, ref: str, body: Any) -> ImageSpec:
        """``PATCH /_sim/images/<ref>``: merge `body` into the image's overrides."""
        from pydantic import ValidationError

        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        with self.lock:
            current = self.images.get(ref, ImageSpec()).model_dump()
            try:
                spec = ImageSpec.model_validate({**current, **body})
            except ValidationError as exc:
                raise BadRequest(f"invalid image: {exc.errors(include_url=False)}") from None
            self.images[ref] = spec
            return spec

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
