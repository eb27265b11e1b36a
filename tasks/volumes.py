"""Cost Management / Volume Management: list, extend and delete volumes.

Listing reads the Machines API (`fly volumes list -a APP --json`; volumes being destroyed are
gone). Extending goes through the Machines API's extend, which answers `needs_restart`
(`fly volumes extend --json` prints only the Volume and drops it: flyctl
internal/command/volumes/extend.go); deleting through flyctl (`fly volumes delete`). Both under
the app's lock, audited, sent once. Every refusal (a size that does not grow the volume, a
volume that is attached) happens before any change.
"""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from hotdash_ops.cost import volumes
from hotdash_ops.errors import FlyError
from hotdash_ops.models import Volume
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
    """One volume of the confirmed list: deleted, or why not."""

    app: str
    volume_id: str
    deleted: bool
    note: str = ""


@task(name="delete-volume", retries=0, cache_policy=NO_CACHE)
async def delete_volume(
    app: str, volume_id: str, *, actor: str, reason: str | None = None
) -> DeleteOutcome:
    """Runbook: `fly volumes delete <volume-id> --app <app>`, only if still unattached."""
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
            with audited(
                actor=actor,
                action="volume.delete",
                target=app,
                detail=detail,
                reason=reason,
                errors=FlyError,
            ):
                await asyncio.to_thread(fly_access.flyctl().volume_delete, app, volume_id)
        except FlyError as exc:  # audited as failed; the other volumes still go
            return DeleteOutcome(app=app, volume_id=volume_id, deleted=False, note=str(exc))
    return DeleteOutcome(app=app, volume_id=volume_id, deleted=True)
