"""Machines API `Machine` (also `fly machines list --json` and `fly status --json` Machines)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator

from hotdash_ops.models._base import FlyModel

Autostop = Literal["off", "stop", "suspend"]


class Guest(FlyModel):
    """A machine's CPU and memory (`config.guest`); other keys kept for the config round-trip."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    cpu_kind: str = "shared"
    cpus: int = 1
    memory_mb: int = 256
    gpu_kind: str | None = None
    gpus: int | None = None


class MachineService(FlyModel):
    """One entry of `config.services` (what fly.toml's `[http_service]` becomes)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    protocol: str = "tcp"
    internal_port: int | None = None
    autostop: Autostop | None = None
    autostart: bool | None = None
    min_machines_running: int | None = None
    ports: list[dict[str, Any]] = Field(default_factory=list)
    concurrency: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("autostop", mode="before")
    @classmethod
    def _autostop_bool(cls, value: object) -> object:
        # The API accepts "off|stop|suspend" but still answers booleans for off/stop.
        if value is True:
            return "stop"
        if value is False:
            return "off"
        return value


class MachineMount(FlyModel):
    """A volume mounted into the machine."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    volume: str | None = None
    path: str
    name: str | None = None


class MachineConfig(FlyModel):
    """A machine's config. Updates replace it whole, so unknown keys are kept for round-trip."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    image: str = ""
    guest: Guest | None = None
    env: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, str] = Field(default_factory=dict)
    services: list[MachineService] = Field(default_factory=list)
    mounts: list[MachineMount] = Field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        """The JSON to send back in an update: what we read, changed fields applied, no nulls."""
        return self.model_dump(mode="json", exclude_none=True)


class ImageRef(FlyModel):
    """The image a machine runs, as the API splits it."""

    registry: str | None = None
    repository: str | None = None
    tag: str | None = None
    digest: str | None = None
    labels: dict[str, str] | None = None

    @property
    def reference(self) -> str:
        """`registry/repository:tag` (what `fly deploy --image` takes)."""
        name = "/".join(p for p in (self.registry, self.repository) if p)
        if self.tag:
            name += f":{self.tag}"
        elif self.digest:
            name += f"@{self.digest}"
        return name


class MachineCheck(FlyModel):
    """A health check's latest result on one machine."""

    name: str
    status: str  # passing | warning | critical
    output: str | None = None
    updated_at: datetime | None = None


class MachineEvent(FlyModel):
    """A machine lifecycle event (timestamp in milliseconds since the epoch)."""

    type: str | None = None
    status: str | None = None
    source: str | None = None
    timestamp: int | None = None


class Machine(FlyModel):
    """A Fly Machine. `config` may be absent when the host is unreachable.

    Its version is `instance_id`, new on every update; the spec's Machine has no `version`
    field, and an update guarded by `current_version` must send the `instance_id`
    (docs machines/api/machines-resource, "Update a Machine")."""

    id: str
    name: str | None = None
    state: str
    region: str
    instance_id: str | None = None
    private_ip: str | None = None
    config: MachineConfig | None = None
    incomplete_config: MachineConfig | None = None
    image_ref: ImageRef | None = None
    checks: list[MachineCheck] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    events: list[MachineEvent] = Field(default_factory=list)
    host_status: str | None = None

    @field_validator("checks", "events", mode="before")
    @classmethod
    def _null_list(cls, value: object) -> object:
        return [] if value is None else value

    @property
    def _metadata(self) -> dict[str, str]:
        cfg = self.config or self.incomplete_config
        return cfg.metadata if cfg else {}

    @property
    def process_group(self) -> str | None:
        """`fly_process_group` metadata ("app" for the default group)."""
        return self._metadata.get("fly_process_group")

    @property
    def release_version(self) -> int | None:
        """`fly_release_version` metadata as an int, None when absent or not a number."""
        raw = self._metadata.get("fly_release_version")
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None

    @property
    def image(self) -> str | None:
        """The image reference the machine runs (config first, then image_ref)."""
        cfg = self.config or self.incomplete_config
        if cfg and cfg.image:
            return cfg.image
        return self.image_ref.reference if self.image_ref else None

    @property
    def guest(self) -> Guest | None:
        """CPU and memory, when the config is known."""
        cfg = self.config or self.incomplete_config
        return cfg.guest if cfg else None

    def check_counts(self) -> dict[str, int]:
        """How many checks are passing / warning / critical."""
        counts = {"passing": 0, "warning": 0, "critical": 0}
        for check in self.checks:
            counts[check.status] = counts.get(check.status, 0) + 1
        return counts
