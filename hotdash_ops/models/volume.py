"""Machines API `Volume` (also `fly volumes list --json`)."""

from __future__ import annotations

from datetime import datetime

from hotdash_ops.models._base import FlyModel

# Volumes in Fly's destroy pipeline: the raw API still lists them, fly-go (and so flyctl's
# `fly volumes list`) leaves them out (superfly/fly-go flaps/flaps_volumes.go
# `destroyedVolumeStates`); docs volumes/volume-states: a destroyed volume is not billed.
DESTROYED_STATES = frozenset(
    {"scheduling_destroy", "fork_cleanup", "waiting_for_detach", "pending_destroy", "destroying"}
)


class Volume(FlyModel):
    """A Fly volume; billed while it exists, attached or not."""

    id: str
    name: str
    state: str
    size_gb: int
    region: str
    zone: str | None = None
    encrypted: bool | None = None
    attached_machine_id: str | None = None
    attached_alloc_id: str | None = None
    created_at: datetime | None = None
    fstype: str | None = None
    snapshot_retention: int | None = None
    auto_backup_enabled: bool | None = None
    host_status: str | None = None
    blocks: int | None = None
    block_size: int | None = None
    blocks_free: int | None = None
    blocks_avail: int | None = None

    @property
    def destroyed(self) -> bool:
        """On its way out (a destroy state): gone for every purpose, billing included."""
        return self.state in DESTROYED_STATES

    @property
    def attached(self) -> bool:
        """True when a machine has it attached (an empty id counts as detached)."""
        return bool(self.attached_machine_id or self.attached_alloc_id)

    @property
    def used_pct(self) -> float | None:
        """Used share of the filesystem, when Fly reports block counts."""
        if not self.blocks or self.blocks_free is None:
            return None
        return 100.0 * (self.blocks - self.blocks_free) / self.blocks


class VolumeExtendResult(FlyModel):
    """`PUT /volumes/{id}/extend` answer. flyctl's `fly volumes extend --json` prints only the
    Volume and drops `needs_restart`, so the extend goes through the Machines API."""

    needs_restart: bool | None = None
    volume: Volume


class VolumeSnapshot(FlyModel):
    """Machines API `VolumeSnapshot` (`fly volumes snapshots list VOL --json`)."""

    id: str | None = None  # flyctl shows a snapshot without one as "(pending)"
    status: str | None = None
    created_at: datetime | None = None
    digest: str | None = None
    retention_days: int | None = None
    size: int | None = None
    volume_size: int | None = None
