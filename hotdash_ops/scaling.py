"""Scaling Operations (runbook): what a scale request may change, checked against Fly's rules
before any fly command runs, and the app's before/after.

Fly's rules (docs/fly.md, "VM sizes", "flyctl" and "Auto-stop"):

* vm size: one of the presets of `fly platform vm-sizes`; memory per CPU: shared 256-2048 MB in
  steps of 256, performance 2048-8192 MB in steps of 2048 (`hotdash_ops.models.vm`);
* count: `fly scale count N` with N >= 0; `--max-per-region M` (M >= 1) must leave room for N
  machines in the regions the app runs in;
* min/max running replaced the removed `fly autoscale`: `autostop`, `autostart` and
  `min_machines_running` on the app's services. They act through Fly Proxy, so machines
  without services cannot use them, and they are changed as a release carrying the app config
  (`fly deploy -c`), which the next deploy keeps (hotdash_ops.fly.app_config).

Our own limit: a count above the configured maximum (inventory `scaling.max_count`, per app in
`scaling.apps.<app>.max_count`) is refused, so a typo cannot start 300 machines.

Only the settings given are changed. They are applied in the order vm, count, services, so new
machines are cloned with the new size and get the new service settings too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotdash_ops.fly.app_config import ServiceSettings
from hotdash_ops.models import VM_PRESETS, Guest, Machine, validate_vm
from hotdash_ops.validation import field_problems

# A hard ceiling whatever the inventory says (flyctl runner's guard is the same number).
ABSOLUTE_MAX_COUNT = 100
# flyctl leaves machines of these process groups alone (fly-go `flaps/flaps_machines.go`).
_INTERNAL_GROUPS = ("fly_app_release_command", "fly_app_console")


class VmSize(StrEnum):
    """Fly's VM presets (`fly platform vm-sizes`): the form shows them as a list."""

    SHARED_CPU_1X = "shared-cpu-1x"
    SHARED_CPU_2X = "shared-cpu-2x"
    SHARED_CPU_4X = "shared-cpu-4x"
    SHARED_CPU_6X = "shared-cpu-6x"
    SHARED_CPU_8X = "shared-cpu-8x"
    PERFORMANCE_1X = "performance-1x"
    PERFORMANCE_2X = "performance-2x"
    PERFORMANCE_4X = "performance-4x"
    PERFORMANCE_6X = "performance-6x"
    PERFORMANCE_8X = "performance-8x"
    PERFORMANCE_10X = "performance-10x"
    PERFORMANCE_12X = "performance-12x"
    PERFORMANCE_14X = "performance-14x"
    PERFORMANCE_16X = "performance-16x"


class AutoStop(StrEnum):
    """What Fly Proxy does with an idle machine (`auto_stop_machines`)."""

    OFF = "off"
    STOP = "stop"
    SUSPEND = "suspend"


class ScaleError(ValueError):
    """A scale request Fly (or our limits) would refuse; the message names each field and rule."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppScalingLimits(_Strict):
    """Limits for one app."""

    max_count: int = Field(ge=0, le=ABSOLUTE_MAX_COUNT)


class ScalingPolicy(_Strict):
    """The inventory's `scaling:` block."""

    max_count: int = Field(default=10, ge=0, le=ABSOLUTE_MAX_COUNT)
    apps: dict[str, AppScalingLimits] = Field(default_factory=dict)

    def max_count_for(self, app: str) -> int:
        """The most machines `app` may be scaled to."""
        limits = self.apps.get(app)
        return limits.max_count if limits else self.max_count


def scaling_policy(raw: Mapping[str, Any] | None) -> ScalingPolicy:
    """Parse the inventory's `scaling:` block; ValueError names the bad key."""
    try:
        return ScalingPolicy.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = field_problems(exc, "scaling")
        raise ValueError(problems) from None


class ScaleRequest(BaseModel):
    """What a person asked `scale-app` to change; None = leave as it is."""

    app: str
    vm_size: VmSize | None = None
    memory_mb: int | None = None
    count: int | None = None
    max_per_region: int | None = None
    min_running: int | None = None
    auto_stop: AutoStop | None = None

    def given(self) -> dict[str, Any]:
        """The settings that were given (for logs, artifacts and the audit record)."""
        return {
            k: (v.value if isinstance(v, StrEnum) else v)
            for k, v in self.model_dump().items()
            if k != "app" and v is not None
        }


class AppScale(BaseModel):
    """How an app is scaled now: what `fly scale show` and `fly status` tell a person."""

    app: str
    machines: int
    started: int
    regions: dict[str, int] = Field(default_factory=dict)
    sizes: dict[str, int] = Field(default_factory=dict)  # "shared-cpu-1x 256 MB" -> machines
    guests: list[Guest] = Field(default_factory=list)  # distinct guests, as found
    with_services: int = 0  # machines that have services (auto-stop needs them)
    autostop: dict[str, int] = Field(default_factory=dict)
    autostart: dict[str, int] = Field(default_factory=dict)
    min_running: dict[str, int] = Field(default_factory=dict)


def preset_name(guest: Guest) -> str | None:
    """The preset with this CPU kind and count (memory may differ), or None."""
    for name, preset in VM_PRESETS.items():
        if preset.cpu_kind == guest.cpu_kind and preset.cpus == guest.cpus:
            return name
    return None


def size_label(guest: Guest) -> str:
    """`shared-cpu-1x 256 MB` (or `shared x3 768 MB` for a guest that is not a preset)."""
    name = preset_name(guest) or f"{guest.cpu_kind} x{guest.cpus}"
    return f"{name} {guest.memory_mb} MB"


def scaled_machines(machines: Iterable[Machine]) -> list[Machine]:
    """The machines `fly scale` acts on (not flyctl's release-command or console machines)."""
    return [m for m in machines if m.process_group not in _INTERNAL_GROUPS]


def describe_app(app: str, machines: Iterable[Machine]) -> AppScale:
    """Summarise the machines of `app` as a person reads a scale."""
    ms = scaled_machines(machines)
    sizes: Counter[str] = Counter()
    guests: list[Guest] = []
    autostop: Counter[str] = Counter()
    autostart: Counter[str] = Counter()
    min_running: Counter[str] = Counter()
    with_services = 0
    for m in ms:
        if m.guest is not None:
            sizes[size_label(m.guest)] += 1
            if m.guest not in guests:
                guests.append(m.guest)
        cfg = m.config or m.incomplete_config
        services = cfg.services if cfg else []
        if services:
            with_services += 1
        for svc in services:
            autostop[svc.autostop or "off"] += 1
            autostart[str(bool(svc.autostart)).lower()] += 1
            min_running[str(svc.min_machines_running or 0)] += 1
    return AppScale(
        app=app,
        machines=len(ms),
        started=sum(1 for m in ms if m.state == "started"),
        regions=dict(sorted(Counter(m.region for m in ms).items())),
        sizes=dict(sizes),
        guests=guests,
        with_services=with_services,
        autostop=dict(autostop),
        autostart=dict(autostart),
        min_running=dict(min_running),
    )


class ScalePlan(BaseModel):
    """A checked request: what will be run, in order. Fields left None are not touched."""

    app: str
    vm_size: VmSize | None = None
    memory_mb: int | None = None  # passed as --vm-memory only when it was given
    guest: Guest | None = None  # the resulting guest when the size or memory changes
    count: int | None = None
    max_per_region: int | None = None
    min_running: int | None = None
    auto_stop: AutoStop | None = None

    @property
    def changes_services(self) -> bool:
        """Min running or auto-stop is asked for (a release carrying the app config)."""
        return self.min_running is not None or self.auto_stop is not None

    def service_settings(self) -> ServiceSettings:
        """The services' settings to set. Auto-stop without auto-start would leave stopped
        machines down for good, so turning auto-stop on turns auto-start on too (what
        `fly launch` writes)."""
        on = self.auto_stop is not None and self.auto_stop != AutoStop.OFF
        return ServiceSettings(
            autostop=self.auto_stop.value if self.auto_stop is not None else None,
            autostart=True if on else None,
            min_machines_running=self.min_running,
        )

    def commands(self) -> list[str]:
        """The steps as a person would type them, in the order they run."""
        steps = []
        if self.vm_size is not None:
            mem = f" --vm-memory {self.memory_mb}" if self.memory_mb is not None else ""
            steps.append(f"fly scale vm {self.vm_size.value} -a {self.app}{mem}")
        if self.count is not None:
            mpr = f" --max-per-region {self.max_per_region}" if self.max_per_region else ""
            steps.append(f"fly scale count {self.count} -a {self.app}{mpr} --yes")
        if self.changes_services:
            parts = []
            if self.auto_stop is not None:
                parts.append(f"autostop={self.auto_stop.value}")
                if self.auto_stop != AutoStop.OFF:
                    parts.append("autostart=true")
            if self.min_running is not None:
                parts.append(f"min_machines_running={self.min_running}")
            steps.append(
                f"fly config show -a {self.app}, set {', '.join(parts)} on its services, "
                f"fly deploy -a {self.app} -c <that config> --image <the running image> "
                "--strategy rolling --max-unavailable 1 --yes"
            )
        return steps


def check_request(request: ScaleRequest, policy: ScalingPolicy) -> None:
    """The rules that need no knowledge of the app's machines; ScaleError lists every problem."""
    problems: list[str] = []
    if not request.given() or set(request.given()) == {"max_per_region"}:
        problems.append(
            "app: nothing to change; give at least one of vm_size, memory_mb, count, "
            "min_running, auto_stop"
        )
    if request.vm_size is not None:
        try:
            validate_vm(request.vm_size.value, request.memory_mb)
        except ValueError as exc:
            problems.append(str(exc))
    elif request.memory_mb is not None and request.memory_mb <= 0:
        problems.append(f"memory_mb: must be a positive number of MB, not {request.memory_mb}")
    if request.count is not None:
        limit = policy.max_count_for(request.app)
        if request.count < 0:
            problems.append(f"count: must be 0 or more, not {request.count}")
        elif request.count > limit:
            problems.append(
                f"count: {request.count} is over the maximum of {limit} machines for "
                f"{request.app} (inventory scaling.max_count)"
            )
    if request.max_per_region is not None:
        if request.count is None:
            problems.append(
                "max_per_region: only applies with count (fly scale count N --max-per-region M)"
            )
        if request.max_per_region < 1:
            problems.append(f"max_per_region: must be 1 or more, not {request.max_per_region}")
    if request.min_running is not None:
        if request.min_running < 0:
            problems.append(f"min_running: must be 0 or more, not {request.min_running}")
        if request.count is not None and request.min_running > request.count >= 0:
            problems.append(
                f"min_running: {request.min_running} is more than the {request.count} "
                "machines asked for (count)"
            )
    if problems:
        raise ScaleError(problems)


def plan_scale(request: ScaleRequest, current: AppScale, policy: ScalingPolicy) -> ScalePlan:
    """Check `request` against Fly's rules and the app as it is; ScaleError lists every problem."""
    check_request(request, policy)
    problems: list[str] = []
    guest: Guest | None = None
    if request.vm_size is not None:
        guest = validate_vm(request.vm_size.value, request.memory_mb)
    elif request.memory_mb is not None:
        # Memory alone keeps the machines' preset: `fly scale vm <current> --vm-memory MB`.
        presets = {preset_name(g) for g in current.guests}
        if not current.guests:
            problems.append(
                f"memory_mb: {current.app} has no machines to take the size from; give vm_size"
            )
        elif len(presets) != 1 or None in presets:
            problems.append(
                f"memory_mb: the machines of {current.app} have different or custom sizes "
                f"({', '.join(current.sizes)}); give vm_size"
            )
        else:
            size = presets.pop()
            assert size is not None
            try:
                guest = validate_vm(size, request.memory_mb)
            except ValueError as exc:
                problems.append(str(exc))
    if request.count is not None and request.max_per_region is not None:
        regions = max(1, len(current.regions))
        if request.count > request.max_per_region * regions:
            where = ", ".join(current.regions) or "the primary region"
            problems.append(
                f"max_per_region: {request.count} machines do not fit in {regions} region(s) "
                f"({where}) with at most {request.max_per_region} per region"
            )
    if request.min_running is not None or request.auto_stop is not None:
        field = "min_running" if request.min_running is not None else "auto_stop"
        if current.machines and current.with_services < current.machines:
            problems.append(
                f"{field}: {current.machines - current.with_services} machine(s) of "
                f"{current.app} have no services; auto-stop and min running act through Fly "
                "Proxy services ([http_service] in fly.toml)"
            )
        if current.machines == 0 and (request.count or 0) == 0:
            problems.append(f"{field}: {current.app} has no machines to set it on")
    if request.min_running is not None and request.count is None:
        if request.min_running > current.machines:
            problems.append(
                f"min_running: {request.min_running} is more than the {current.machines} "
                f"machines {current.app} has"
            )
    if problems:
        raise ScaleError(problems)
    size = request.vm_size
    if size is None and guest is not None:
        size = VmSize(preset_name(guest) or "")
    return ScalePlan(
        app=request.app,
        vm_size=size,
        memory_mb=request.memory_mb,
        guest=guest,
        count=request.count,
        max_per_region=request.max_per_region,
        min_running=request.min_running,
        auto_stop=request.auto_stop,
    )


def current_min_running(current: AppScale) -> int:
    """The highest `min_machines_running` any of the app's machines' services asks for."""
    return max((int(k) for k in current.min_running), default=0)


def what_goes_down(request: ScaleRequest, current: AppScale, environment: str | None) -> str | None:
    """What a production scale-down takes away, as the confirmation says it; None when the
    request needs no confirmation (not production, no count, or a count that keeps the app up
    and at least `min_running` machines)."""
    if environment != "production" or request.count is None:
        return None
    floor = request.min_running if request.min_running is not None else current_min_running(current)
    if request.count > 0 and request.count >= floor:
        return None
    app, gone = current.app, max(0, current.machines - request.count)
    where = ", ".join(f"{r}: {n}" for r, n in current.regions.items()) or "no region"
    lines = [
        f"**Scale {app} (production) from {current.machines} machine(s) to {request.count}?**",
        "",
        f"- {gone} machine(s) are destroyed (now {current.started} started; regions {where}).",
    ]
    if request.count == 0:
        lines.append(
            f"- With no machine, {app} serves nothing: every request fails until it is "
            "scaled up again. Production is DOWN."
        )
    if request.count < floor:
        lines.append(
            f"- {request.count} is fewer than min_running {floor}: Fly Proxy cannot keep "
            f"{floor} machine(s) running, so capacity drops below what production is set to keep."
        )
    lines += ["", "Set **confirm** and your name in **confirmed_by** to go ahead."]
    return "\n".join(lines)


class DiffRow(BaseModel):
    """One setting before and after."""

    setting: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _counts(values: Mapping[str, int]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return next(iter(values))
    return ", ".join(f"{k} ×{n}" for k, n in sorted(values.items()))


def diff(before: AppScale, after: AppScale) -> list[DiffRow]:
    """Every setting a scale can touch, before and after (changed ones are marked by the caller)."""

    def rows(s: AppScale) -> dict[str, str]:
        return {
            "machines": str(s.machines),
            "started": str(s.started),
            "regions": ", ".join(f"{r} ×{n}" for r, n in s.regions.items()) or "-",
            "size": _counts(s.sizes),
            "auto-stop": _counts(s.autostop),
            "auto-start": _counts(s.autostart),
            "min running": _counts(s.min_running),
        }

    b, a = rows(before), rows(after)
    return [DiffRow(setting=k, before=b[k], after=a[k]) for k in b]


def render_diff(request: ScaleRequest, plan: ScalePlan | None, rows: list[DiffRow]) -> str:
    """The before/after artifact: what was asked, what ran, and each setting."""
    asked = ", ".join(f"`{k}={v}`" for k, v in request.given().items()) or "nothing"
    lines = [f"# Scale {request.app}", "", f"Asked: {asked}", ""]
    if plan is not None:
        lines += ["Steps:", ""] + [f"1. `{c}`" for c in plan.commands()] + [""]
    lines += ["| setting | before | after |", "| --- | --- | --- |"]
    for row in rows:
        mark = " **(changed)**" if row.changed else ""
        lines.append(f"| {row.setting} | {row.before} | {row.after}{mark} |")
    return "\n".join(lines) + "\n"
