"""Fly VM size presets (fly-go `MachinePresets`, `fly platform vm-sizes`) and memory rules.

Rules (fly-go `MIN_/MAX_MEMORY_MB_PER_*`, Fly docs machine-sizing; docs/fly.md, "VM sizes"):
shared: 256-2048 MB per CPU, a multiple of 256; performance: 2048-8192 MB per CPU, a multiple
of 2048 (the docs' wording for performance sizes).
"""

from __future__ import annotations

from hotdash_ops.models.machine import Guest

_SHARED_CPUS = (1, 2, 4, 6, 8)
_PERFORMANCE_CPUS = (1, 2, 4, 6, 8, 10, 12, 14, 16)

# name -> default guest; memory default = minimum per CPU times CPUs.
VM_PRESETS: dict[str, Guest] = {
    **{
        f"shared-cpu-{n}x": Guest(cpu_kind="shared", cpus=n, memory_mb=256 * n)
        for n in _SHARED_CPUS
    },
    **{
        f"performance-{n}x": Guest(cpu_kind="performance", cpus=n, memory_mb=2048 * n)
        for n in _PERFORMANCE_CPUS
    },
}

# cpu_kind -> (min MB per CPU, max MB per CPU, step MB)
MEMORY_RULES: dict[str, tuple[int, int, int]] = {
    "shared": (256, 2048, 256),
    "performance": (2048, 8192, 2048),
}

DEFAULT_VM_SIZE = "shared-cpu-1x"


def validate_vm(size: str, memory_mb: int | None = None) -> Guest:
    """The guest for `fly scale vm SIZE [--vm-memory MB]`, or ValueError naming the broken rule."""
    preset = VM_PRESETS.get(size)
    if preset is None:
        raise ValueError(f"size: {size!r} is not a VM size (one of {', '.join(VM_PRESETS)})")
    if memory_mb is None:
        return preset.model_copy()
    if isinstance(memory_mb, bool) or not isinstance(memory_mb, int):
        raise ValueError("memory_mb: must be an integer number of MB")
    low, high, step = MEMORY_RULES[preset.cpu_kind]
    lo_total, hi_total = low * preset.cpus, high * preset.cpus
    if not lo_total <= memory_mb <= hi_total:
        raise ValueError(
            f"memory_mb: {size} takes {lo_total}-{hi_total} MB "
            f"({preset.cpu_kind}: {low}-{high} MB per CPU), not {memory_mb}"
        )
    if memory_mb % step:
        raise ValueError(
            f"memory_mb: {preset.cpu_kind} sizes need a multiple of {step} MB, not {memory_mb}"
        )
    return Guest(cpu_kind=preset.cpu_kind, cpus=preset.cpus, memory_mb=memory_mb)
