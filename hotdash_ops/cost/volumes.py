"""Cost Management / Volume Management, pure: the volume table, which volumes are unused,
whether an extension is allowed, and the confirmation text for deleting.

Rules: only volumes attached to no machine are "unused" (volumes being destroyed are already
gone); a volume only grows (Fly cannot shrink one), and the size is checked against the
volume's current size before any fly command runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel

from hotdash_ops.cost.estimate import VOLUME_GONE_STATES
from hotdash_ops.cost.pricing import PriceTable
from hotdash_ops.fly.flyctl import MAX_VOLUME_GB
from hotdash_ops.models import Volume
from hotdash_ops.validation import EVERY_APP

Action = Literal["list", "extend", "delete-unused"]


class VolumeRow(BaseModel):
    """One volume as the list shows it."""

    app: str
    id: str
    name: str
    size_gb: int
    region: str
    state: str
    attached_machine_id: str | None
    monthly: float  # 0 for volumes being destroyed (no longer billed)

    @property
    def unused(self) -> bool:
        return _unused(self.attached_machine_id, self.state)


def _unused(attached_machine_id: str | None, state: str) -> bool:
    """Attached to no machine (an empty id counts as none) and not being destroyed."""
    return not attached_machine_id and state not in VOLUME_GONE_STATES


def is_unused(volume: Volume) -> bool:
    """Whether delete-unused may remove this volume (the same rule as `VolumeRow.unused`)."""
    return _unused(volume.attached_machine_id, volume.state)


def volume_rows(volumes: Mapping[str, Sequence[Volume]], prices: PriceTable) -> list[VolumeRow]:
    """`fly volumes list` of every app, priced."""
    return [
        VolumeRow(
            app=app,
            id=v.id,
            name=v.name,
            size_gb=v.size_gb,
            region=v.region,
            state=v.state,
            attached_machine_id=v.attached_machine_id or None,
            monthly=0.0 if v.state in VOLUME_GONE_STATES else prices.volume(v.size_gb),
        )
        for app, items in volumes.items()
        for v in items
    ]


def unused(rows: Sequence[VolumeRow]) -> list[VolumeRow]:
    """The volumes delete-unused may remove."""
    return [r for r in rows if r.unused]


def check_request(
    action: str, *, app: str | None, volume_id: str | None, size_gb: int | None
) -> None:
    """The parameters each action needs; ValueError names the missing or extra field."""
    if action == "extend" and app == EVERY_APP:
        raise ValueError("app: extend acts on one app's volume, not *")
    if action == "extend":
        missing = [
            n
            for n, v in (("app", app), ("volume_id", volume_id), ("size_gb", size_gb))
            if v is None
        ]
        if missing:
            raise ValueError(f"{missing[0]}: required for action extend")
        assert size_gb is not None
        if not 1 <= size_gb <= MAX_VOLUME_GB:
            raise ValueError(f"size_gb: must be between 1 and {MAX_VOLUME_GB}, not {size_gb}")
    elif action in ("list", "delete-unused"):
        for name, value in (("volume_id", volume_id), ("size_gb", size_gb)):
            if value is not None:
                raise ValueError(f"{name}: only used by action extend, not {action}")
        if action == "delete-unused" and app is None:
            # Never every app by leaving a field empty: `*` says so on purpose.
            raise ValueError(
                "app: required for delete-unused: the app whose unattached volumes to delete, "
                "or * for every app"
            )
    else:
        raise ValueError(f"action: must be list, extend or delete-unused, not {action!r}")


def check_extend(volume: Volume, size_gb: int) -> None:
    """Refuse a size that is not bigger than the volume's (Fly cannot shrink volumes)."""
    if volume.state in VOLUME_GONE_STATES:
        raise ValueError(f"volume_id: {volume.id} is being destroyed ({volume.state})")
    if size_gb <= volume.size_gb:
        raise ValueError(
            f"size_gb: {size_gb} GB is not bigger than volume {volume.id}'s current "
            f"{volume.size_gb} GB (volumes can only grow)"
        )


def needs_restart(reported: bool | None, volume: Volume) -> bool:
    """Whether the machine must restart to see the new size: what the Machines API reported,
    else (an answer without it) yes when a machine has the volume attached."""
    return reported if reported is not None else volume.attached


def money(value: float) -> str:
    return f"${value:,.2f}"


def choice_label(row: VolumeRow) -> str:
    """A volume's switch in the form: what it is and what it costs."""
    return (
        f"{row.app}: {row.name}, {row.size_gb} GB in {row.region}, {money(row.monthly)}/month "
        "(on: snapshot it, then delete it)"
    )


def confirmation_text(volumes: Sequence[VolumeRow]) -> str:
    """The pause form's description: the unattached volumes, what they cost, and how the
    choice works (one switch per volume, all off: nothing is deleted)."""
    total = sum(v.monthly for v in volumes)
    lines = [
        f"**{len(volumes)} unattached volume(s).** Choose below, one by one, which to delete; "
        "none is chosen until you switch it on. Each chosen volume is snapshotted first "
        "(`fly volumes snapshots create`; Fly keeps a snapshot for its retention period, "
        "5 days by default, also after the volume is gone), then deleted, and only if it is "
        "still unattached. Deleting cannot be undone otherwise.",
        "",
        "| app | volume | name | size | region | monthly cost |",
        "| --- | --- | --- | ---: | --- | ---: |",
    ]
    lines += [
        f"| {v.app} | `{v.id}` | {v.name} | {v.size_gb} GB | {v.region} | {money(v.monthly)} |"
        for v in volumes
    ]
    lines += [
        "",
        f"All of them: {money(total)} per month. Write your name in **confirmed_by**; it is "
        "recorded with each snapshot and deletion.",
    ]
    return "\n".join(lines)
