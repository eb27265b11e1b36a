"""VM size presets and memory rules (fly-go ``machine_types.go``: ``MachinePresets`` and
``MIN_/MAX_MEMORY_MB_PER_*``)."""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    **{
        f"shared-cpu-{n}x": {"cpu_kind": "shared", "cpus": n, "memory_mb": 256 * n}
        for n in (1, 2, 4, 6, 8)
    },
    **{
        f"performance-{n}x": {"cpu_kind": "performance", "cpus": n, "memory_mb": 2048 * n}
        for n in (1, 2, 4, 6, 8, 10, 12, 14, 16)
    },
}

# (min MB per CPU, max MB per CPU, step MB)
MEMORY_RULES: dict[str, tuple[int, int, int]] = {
    "shared": (256, 2048, 256),
    "performance": (2048, 8192, 2048),
}


def guest_for(size: str, memory_mb: int | None = None) -> dict[str, Any]:
    """The guest config for a preset, with optional memory; ``ValueError`` says what is wrong."""
    preset = PRESETS.get(size)
    if preset is None:
        raise ValueError(f"VM size {size!r} is not valid; valid sizes are: {', '.join(PRESETS)}")
    guest = dict(preset)
    if memory_mb is not None:
        check_memory(guest["cpu_kind"], guest["cpus"], memory_mb)
        guest["memory_mb"] = memory_mb
    return guest


def check_memory(cpu_kind: str, cpus: int, memory_mb: int) -> None:
    """Refuse memory that breaks Fly's per-CPU limits and increments."""
    low, high, step = MEMORY_RULES[cpu_kind]
    if memory_mb < low * cpus:
        raise ValueError(
            f"memory size {memory_mb}MB is too low for {cpus} {cpu_kind} CPU(s); "
            f"{low * cpus}MB is the minimum"
        )
    if memory_mb > high * cpus:
        raise ValueError(
            f"memory size {memory_mb}MB is too high for {cpus} {cpu_kind} CPU(s); "
            f"{high * cpus}MB is the maximum"
        )
    if memory_mb % step:
        raise ValueError(
            f"memory size {memory_mb}MB must be a multiple of {step}MB for {cpu_kind} CPUs"
        )


def vm_sizes_json() -> dict[str, dict[str, Any]]:
    """``fly platform vm-sizes --json``: ``{name: MachineGuest}``."""
    return {name: dict(p) for name, p in PRESETS.items()}
