"""Scenario files: YAML loaded with pyyaml and validated with pydantic.

A scenario is the starting state of the simulated organisation::

    org: hotdash                    # org slug (Prometheus path /prometheus/<org>/...)
    token: flysim-token             # the API token the server accepts
    timing:                         # how long Fly takes (defaults: flyctl's own, realistic)
      boot_seconds: 5               # a started or updated machine answers nothing this long
      check_seconds: 5              # then its checks report after this (their grace_period)
      smoke_check_seconds: 10       # flyctl watches a new machine's uptime this long
      wait_timeout_seconds: 300     # flyctl's --wait-timeout default
      volume_destroy_seconds: 5     # a deleted volume: scheduling_destroy -> pending_destroy
    apps:
      <app-name>:
        region: ord
        role: web                   # free text (web | background), shown in /_sim/state
        machines:                   # one entry per machine (``count`` replicates it)
          - {state: started, cpu_kind: shared, cpus: 1, memory_mb: 512, region: ord,
             process_group: app, count: 1, check_status: null,
             services: {autostop: stop, autostart: true, min_machines_running: 1,
                        internal_port: 8080}}     # services: null = no public service
        volumes:
          - {name: data, size_gb: 10, attached: true}   # true = first machine, or a machine id
          - {name: old, size_gb: 1, state: pending_destroy}   # a state of Fly's destroy pipeline
        releases:                   # oldest first
          - {version: 1, status: complete, image: registry.fly.io/app:deployment-..,
             created_minutes_ago: 4320}
        secrets: [DATABASE_URL, SHOPIFY_API_KEY]
        endpoints:                  # the app's own HTTP paths (served under /_apps/<app>/)
          /health: {status: 200, latency_ms: 40, body: ok}
          /auth/callback: {status: 302, location: https://example.com/}
        metrics: {cpu_pct: 20, mem_pct: 40, p95_ms: 300, error_rate: 0.001, rps: 5}
        logs:
          - {level: error, message: "...", minutes_ago: 30}
    images:                         # per-image overrides, applied while an app runs the image
      registry.fly.io/app:bad: {endpoints: {...}, metrics: {...}, deploy_fails: false,
                                boot_seconds: 30}   # machines running it boot this long
    external:                       # other services, served under /_ext/<name>/
      supabase: {endpoints: {/rest/v1/: {status: 200}},
                 auth: {header: apikey, value: flysim-anon-key}}   # else 401
    generate: {apps: 200, prefix: bench-app-, endpoint_latency_ms: 200}   # synthetic apps
    instance_noise: 0.1             # per-instance samples vary +-10 % around their figures

An endpoint may be written as a bare status (``/health: 200``). A metric set to ``null`` (or
left out) has no data: Prometheus returns no series for it; ``rps`` null or 0 is an app that
never had traffic (no edge series at all), ``error_rate`` 0 one without 5xx series.
Per-instance series (``fly_app_http_*``) take each machine's figures from the image that
machine runs, so an image's ``metrics`` make a canary machine worse alone; its ``rps`` is the
app's rate were every machine to run it (each of ``n`` started machines serves ``rps / n``),
so a small one gives a canary little traffic.
``python -m flysim --timing boot_seconds=0.05,...`` overrides ``timing`` (the tests do).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MetricName = Literal["cpu_pct", "mem_pct", "p95_ms", "error_rate", "rps"]
METRIC_NAMES: tuple[str, ...] = ("cpu_pct", "mem_pct", "p95_ms", "error_rate", "rps")


class ScenarioError(ValueError):
    """The scenario file cannot be read or does not validate."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointSpec(_Model):
    """One HTTP path of an app or external service."""

    status: int = Field(200, ge=100, le=599)
    latency_ms: float = Field(0, ge=0)
    body: Any = ""
    location: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _bare_status(cls, data: Any) -> Any:
        return {"status": data} if isinstance(data, int) else data


class TimingSpec(_Model):
    """How long Fly takes; the defaults are Fly's and flyctl's own (flysim/README.md)."""

    boot_seconds: float = Field(5.0, ge=0)
    check_seconds: float = Field(5.0, ge=0)
    smoke_check_seconds: float = Field(10.0, ge=0)
    wait_timeout_seconds: float = Field(300.0, gt=0)
    volume_destroy_seconds: float = Field(5.0, ge=0)
    snapshot_seconds: float = Field(1.0, ge=0)  # an on-demand snapshot runs, then is created

    @classmethod
    def parse_overrides(cls, text: str) -> dict[str, float]:
        """``"boot_seconds=0.05,check_seconds=0"`` -> a dict; ScenarioError names a bad key."""
        out: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in cls.model_fields:
                known = ", ".join(cls.model_fields)
                raise ScenarioError(f"--timing: {part!r} is not KEY=SECONDS, KEY one of {known}")
            try:
                out[key.strip()] = float(value)
            except ValueError:
                raise ScenarioError(f"--timing: {key.strip()} must be a number") from None
        return out


VOLUME_STATES = (
    "creating", "created", "extending", "restoring", "enabling_remote_export", "hydrating",
    "recovering", "scheduling_destroy", "fork_cleanup", "waiting_for_detach",
    "pending_destroy", "destroying",
)  # fmt: skip


class ServicesSpec(_Model):
    """A machine's public service (fly.toml ``[http_service]``)."""

    autostop: Literal["off", "stop", "suspend"] | bool = "off"
    autostart: bool = True
    min_machines_running: int = Field(0, ge=0)
    internal_port: int = 8080


class MachineSpec(_Model):
    """A machine (or ``count`` identical machines)."""

    id: str | None = None
    state: str = "started"
    cpu_kind: Literal["shared", "performance"] = "shared"
    cpus: int = Field(1, ge=1)
    memory_mb: int = Field(256, ge=128)
    region: str | None = None
    process_group: str = "app"
    services: ServicesSpec | None = None
    check_status: Literal["passing", "warning", "critical"] | None = None
    count: int = Field(1, ge=1)


class VolumeSpec(_Model):
    """A volume; ``attached: true`` attaches it to the first machine without one."""

    id: str | None = None
    name: str
    size_gb: int = Field(ge=1)
    region: str | None = None
    attached: bool | str = False
    state: str = "created"

    @model_validator(mode="after")
    def _known_state(self) -> VolumeSpec:
        if self.state not in VOLUME_STATES:
            raise ValueError(f"state must be one of {list(VOLUME_STATES)}, not {self.state!r}")
        return self


class ReleaseSpec(_Model):
    """A release (list them oldest first)."""

    version: int = Field(ge=1)
    status: Literal["complete", "failed", "interrupted", "running", "pending"] = "complete"
    image: str
    created_minutes_ago: float | None = Field(None, ge=0)
    user: str | None = None
    description: str = ""


class LogSpec(_Model):
    """A log line already in the app's history."""

    message: str
    level: Literal["debug", "info", "warn", "warning", "error", "fatal"] = "info"
    minutes_ago: float | None = Field(None, ge=0)
    instance: str | None = None


class AppSpec(_Model):
    """One Fly app."""

    name: str | None = None  # only in POST /_sim/apps; the apps map key otherwise
    region: str = "ord"
    role: str = "web"
    machines: list[MachineSpec] = Field(default_factory=list)
    volumes: list[VolumeSpec] = Field(default_factory=list)
    releases: list[ReleaseSpec] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list)
    endpoints: dict[str, EndpointSpec] = Field(default_factory=dict)
    metrics: dict[MetricName, float | None] = Field(default_factory=dict)
    logs: list[LogSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _releases_in_order(self) -> AppSpec:
        versions = [r.version for r in self.releases]
        if versions != sorted(set(versions)):
            raise ValueError(f"releases must be listed oldest first, versions unique: {versions}")
        return self


class ImageSpec(_Model):
    """Overrides that apply while an app runs this image, and the image's Docker labels (a
    build with `fly deploy --label K=V` writes them; machines show them in `image_ref`)."""

    labels: dict[str, str] = Field(default_factory=dict)
    endpoints: dict[str, EndpointSpec] = Field(default_factory=dict)
    metrics: dict[MetricName, float | None] = Field(default_factory=dict)
    deploy_fails: bool = False
    deploy_error: str = (
        "smoke checks for the new machines failed: health check on port 8080 has failed"
    )
    boot_seconds: float | None = Field(None, ge=0)


class ExternalAuthSpec(_Model):
    """The key an outside service requires in a header: without it, or with another value,
    every path answers 401 (Supabase's API gateway without `apikey`: "No API key found in
    request", supabase/supabase-flutter#190; Shopify's Admin API without
    `X-Shopify-Access-Token`)."""

    header: str
    value: str
    missing_body: Any = Field(
        default_factory=lambda: {
            "message": "No API key found in request",
            "hint": "No `apikey` request header or url param was found.",
        }
    )
    invalid_body: Any = Field(default_factory=lambda: {"message": "Invalid API key"})


class ExternalSpec(_Model):
    """A service outside Fly (e.g. Supabase)."""

    endpoints: dict[str, EndpointSpec] = Field(default_factory=dict)
    auth: ExternalAuthSpec | None = None


BENCH_METRICS: dict[MetricName, float | None] = {
    "cpu_pct": 25.0,
    "mem_pct": 40.0,
    "p95_ms": 250.0,
    "error_rate": 0.001,
    "rps": 3.0,
}


class GenerateSpec(_Model):
    """Synthetic apps for benchmarks."""

    apps: int = Field(ge=1, le=10000)
    prefix: str = "bench-app-"
    region: str = "ord"
    endpoint_latency_ms: float = Field(0, ge=0)
    metrics: dict[MetricName, float | None] = Field(default_factory=lambda: dict(BENCH_METRICS))


class Scenario(_Model):
    """A whole scenario file."""

    org: str = "personal"
    token: str = "flysim-token"
    timing: TimingSpec = Field(default_factory=TimingSpec)
    apps: dict[str, AppSpec] = Field(default_factory=dict)
    images: dict[str, ImageSpec] = Field(default_factory=dict)
    external: dict[str, ExternalSpec] = Field(default_factory=dict)
    generate: GenerateSpec | None = None
    # How much each per-instance sample (`fly_app_http_*`) varies around its figure, +-share.
    instance_noise: float = Field(0.1, ge=0, le=1)

    def with_generated(self) -> Scenario:
        """A copy with the ``generate`` block expanded into apps."""
        if self.generate is None:
            return self
        apps = dict(self.apps)
        apps.update(generated_apps(self.generate))
        return self.model_copy(update={"apps": apps, "generate": None})


def generated_apps(gen: GenerateSpec) -> dict[str, AppSpec]:
    """``gen.apps`` identical web apps, one started machine each, /health answering 200."""
    width = max(3, len(str(gen.apps)))
    apps: dict[str, AppSpec] = {}
    for i in range(1, gen.apps + 1):
        name = f"{gen.prefix}{i:0{width}d}"
        apps[name] = AppSpec.model_validate(
            {
                "region": gen.region,
                "machines": [
                    {"services": {"autostop": "stop", "min_machines_running": 1}},
                ],
                "releases": [
                    {"version": v, "image": f"registry.fly.io/{name}:deployment-v{v}"}
                    for v in (1, 2, 3)
                ],
                "secrets": ["DATABASE_URL"],
                "endpoints": {"/health": {"status": 200, "latency_ms": gen.endpoint_latency_ms}},
                "metrics": gen.metrics,
            }
        )
    return apps


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate already-parsed YAML/JSON data; ``ScenarioError`` lists every problem."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ScenarioError(f"{source}: invalid scenario:\n{problems}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    return parse_scenario(data, str(path))
