"""Cost Management / Volume Management: list, extend and delete volumes.

Listing reads the Machines API (`fly volumes list -a APP --json`; volumes being destroyed are
gone). Extending goes through the Machines API's extend, which answers `needs_restart`
(`fly volumes extend --json` prints only the Volume and drops it: flyctl
internal/command/volumes/extend.go); snapshotting and deleting through flyctl (`fly volumes
snapshots create`, `fly volumes delete`). All under the app's lock, audited, sent once. Every
refusal (a size that does not grow the volume, a volume that is attached) happens before any
change. A volume is deleted only after a snapshot of it exists: flyctl only schedules one, so
it is read back (Machines API) until it is created, and a volume whose snapshot did not finish
is kept.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from hotdash_ops.cost import volumes
from hotdash_ops.errors import FlyError
from hotdash_ops.models import Volume, VolumeSnapshot
from tasks import fly_access
from tasks.app_lock import app_lock
from tasks.audit import audited
from tasks.fleet_reads import for_each_app


@task(name="list-volumes", cache_policy=NO_CACHE)
async def list_volumes(apps: list[str]) -> dict[str, list[Volume] | str]:
    """Runbook: `fly volumes list --app <app>` for each app (errors per app as text)."""
    async with fly_access.machines_client() as client:
        return await for_each_app(apps, client.list_volumes)


async def _current(app: str, volume_id: str) -> Volume:
    async with fly_access.machines_client() as client:
        for volume in await client.list_volumes(app):
            if volume.id == volume_id:
                return volume
    raise ValueError(f"volume_id: {volume_id} is not a volume of {app}")


class ExtendOutcome(BaseModel):
    """A volume extended: its new size and whether its machine must restart to see it."""

    app: str
    volume_id: str
    from_gb: int
    to_gb: int
    needs_restart: bool
    attached_machine_id: str | None


@task(name="extend-volume", retries=0, cache_policy=NO_CACHE)
async def extend_volume(
    app: str, volume_id: str, size_gb: int, *, actor: str, reason: str | None = None
) -> ExtendOutcome:
    """Runbook: `fly volumes extend <volume-id> --size N --app <app>`: grow only, through the
    Machines API (`PUT /v1/apps/{app}/volumes/{id}/extend`, which says `needs_restart`)."""
    volume = await _current(app, volume_id)
    volumes.check_extend(volume, size_gb)  # refuses before any fly command
    detail = {"volume_id": volume_id, "from_gb": volume.size_gb, "to_gb": size_gb}
    async with app_lock(app):
        with audited(
            actor=actor, action="volume.extend", target=app, detail=detail, reason=reason
        ) as step:
            async with fly_access.machines_client() as client:
                result = await client.extend_volume(app, volume_id, size_gb)
            outcome = ExtendOutcome(
                app=app,
                volume_id=volume_id,
                from_gb=volume.size_gb,
                to_gb=result.volume.size_gb,
                needs_restart=volumes.needs_restart(result.needs_restart, result.volume),
                attached_machine_id=result.volume.attached_machine_id,
            )
            step.detail = outcome.model_dump()
    return outcome


class DeleteOutcome(BaseModel):
    """One volume of the chosen ones: deleted (after its snapshot), or why not."""

    app: str
    volume_id: str
    deleted: bool
    snapshot_id: str | None = None
    note: str = ""


class SnapshotNotReady(RuntimeError):
    """The snapshot flyctl scheduled was not created in time: the volume is kept."""


SNAPSHOT_POLL_SECONDS = 1.0
SNAPSHOT_DONE = "created"


async def _new_snapshot(
    app: str, volume_id: str, known: set[str], wait_seconds: float
) -> VolumeSnapshot:
    """The snapshot that was not in `known` once it is created (`fly volumes snapshots list`);
    SnapshotNotReady after `wait_seconds`."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    async with fly_access.machines_client() as client:
        while True:
            for snap in await client.list_volume_snapshots(app, volume_id):
                if snap.id not in known and (snap.status or "").lower() == SNAPSHOT_DONE:
                    return snap
            if asyncio.get_running_loop().time() >= deadline:
                raise SnapshotNotReady(
                    f"the snapshot of {volume_id} was not created within {wait_seconds:g} s"
                )
            await asyncio.sleep(SNAPSHOT_POLL_SECONDS)


@task(name="snapshot-and-delete-volume", retries=0, cache_policy=NO_CACHE)
async def snapshot_and_delete(
    app: str, volume_id: str, *, actor: str, reason: str | None, snapshot_wait_seconds: float
) -> DeleteOutcome:
    """Runbook: Delete unused volume (`fly volumes delete <volume-id> --app <app>`), after
    `fly volumes snapshots create <volume-id> --app <app>`; only if still unattached. Both
    steps are audited (`volume.snapshot`, `volume.delete`)."""
    logger = get_run_logger()
    async with app_lock(app):
        try:
            volume = await _current(app, volume_id)
        except ValueError:
            return DeleteOutcome(app=app, volume_id=volume_id, deleted=False, note="already gone")
        if not volumes.is_unused(volume):
            note = f"not deleted: now {volume.state}, attached to {volume.attached_machine_id}"
            logger.warning("%s %s", volume_id, note)
            return DeleteOutcome(app=app, volume_id=volume_id, deleted=False, note=note)
        detail = {"volume_id": volume_id, "name": volume.name, "size_gb": volume.size_gb}
        try:
            async with fly_access.machines_client() as client:
                known = {s.id or "" for s in await client.list_volume_snapshots(app, volume_id)}
            with audited(
                actor=actor,
                action="volume.snapshot",
                target=app,
                detail={**detail, "requested_at": datetime.now(UTC).isoformat()},
                reason=reason,
                errors=(FlyError, SnapshotNotReady),
            ) as step:
                await asyncio.to_thread(fly_access.flyctl().volume_snapshot, app, volume_id)
                snapshot = await _new_snapshot(app, volume_id, known, snapshot_wait_seconds)
                step.detail["snapshot_id"] = snapshot.id
        except (FlyError, SnapshotNotReady) as exc:  # audited as failed; the volume stays
            return DeleteOutcome(
                app=app, volume_id=volume_id, deleted=False, note=f"kept, no snapshot: {exc}"
            )
        try:
            with audited(
                actor=actor,
                action="volume.delete",
                target=app,
                detail={**detail, "snapshot_id": snapshot.id},
                reason=reason,
                errors=FlyError,
            ):
                await asyncio.to_thread(fly_access.flyctl().volume_delete, app, volume_id)
        except FlyError as exc:  # audited as failed; the other volumes still go
            return DeleteOutcome(
                app=app, volume_id=volume_id, deleted=False, snapshot_id=snapshot.id,
                note=str(exc),
            )  # fmt: skip
    return DeleteOutcome(app=app, volume_id=volume_id, deleted=True, snapshot_id=snapshot.id)
