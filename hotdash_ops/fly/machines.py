"""Machines API client (`https://api.machines.dev`, paths `/v1/...`): the monitor's reads.

Similar to `fly apps list`, `fly machines list`, `fly volumes list`, `fly secrets list`, read
over HTTP so each monitor tick costs no process start. Volumes in Fly's destroy pipeline are
left out, as fly-go's `GetVolumes` leaves them out of `fly volumes list` (superfly/fly-go
flaps/flaps_volumes.go): for us they are gone, for cost, "unused" and deletion alike.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter

from hotdash_ops import validation
from hotdash_ops.errors import FlyBadRequest
from hotdash_ops.fly.http import FlyHttpClient
from hotdash_ops.models import (
    App,
    ListAppsResponse,
    Machine,
    MachineConfig,
    SecretInfo,
    Volume,
    VolumeExtendResult,
    VolumeSnapshot,
)

NONCE_HEADER = "fly-machine-lease-nonce"  # fly-go flaps/flaps_machines.go NonceHeader
_MACHINES = TypeAdapter(list[Machine])
_VOLUMES = TypeAdapter(list[Volume])
_SECRETS = TypeAdapter(list[SecretInfo])
_SNAPSHOTS = TypeAdapter(list[VolumeSnapshot])


def _seg(value: str) -> str:
    return quote(value, safe="")


class MachinesClient(FlyHttpClient):
    """Typed access to the Machines API; reads retry, mutations do not."""

    async def list_apps(self, org: str) -> list[App]:
        """GET /v1/apps?org_slug=ORG (like `fly apps list -o ORG`)."""
        body = await self._get_json("/v1/apps", params={"org_slug": org})
        return ListAppsResponse.model_validate(body).apps

    async def get_app(self, app: str) -> App:
        """GET /v1/apps/{app}."""
        validation.app_name(app)
        return App.model_validate(await self._get_json(f"/v1/apps/{_seg(app)}"))

    async def list_machines(self, app: str) -> list[Machine]:
        """GET /v1/apps/{app}/machines (like `fly machines list -a APP --json`)."""
        validation.app_name(app)
        return _MACHINES.validate_python(await self._get_json(f"/v1/apps/{_seg(app)}/machines"))

    async def get_machine(self, app: str, machine_id: str) -> Machine:
        """GET /v1/apps/{app}/machines/{id} (like `fly machine status ID`)."""
        validation.app_name(app)
        validation.machine_id(machine_id)
        body = await self._get_json(f"/v1/apps/{_seg(app)}/machines/{_seg(machine_id)}")
        return Machine.model_validate(body)

    async def list_volumes(self, app: str) -> list[Volume]:
        """GET /v1/apps/{app}/volumes without destroyed ones (like `fly volumes list`)."""
        validation.app_name(app)
        volumes = _VOLUMES.validate_python(await self._get_json(f"/v1/apps/{_seg(app)}/volumes"))
        return [v for v in volumes if not v.destroyed]

    async def list_volume_snapshots(self, app: str, volume_id: str) -> list[VolumeSnapshot]:
        """GET /v1/apps/{app}/volumes/{id}/snapshots (like `fly volumes snapshots list`)."""
        validation.app_name(app)
        validation.volume_id(volume_id)
        path = f"/v1/apps/{_seg(app)}/volumes/{_seg(volume_id)}/snapshots"
        return _SNAPSHOTS.validate_python(await self._get_json(path) or [])

    async def list_secrets(self, app: str) -> list[SecretInfo]:
        """GET /v1/apps/{app}/secrets -> names and digests (like `fly secrets list`)."""
        validation.app_name(app)
        body = await self._get_json(f"/v1/apps/{_seg(app)}/secrets")
        items = body.get("secrets", []) if isinstance(body, dict) else body
        return _SECRETS.validate_python(items or [])

    async def update_machine(
        self,
        app: str,
        machine_id: str,
        config: MachineConfig,
        *,
        current_version: str | None = None,
        lease_nonce: str | None = None,
        skip_launch: bool = False,
    ) -> Machine:
        """POST /v1/apps/{app}/machines/{id} {"config": ...}: replaces the config whole.

        A MUTATION: sent once, never retried (a 503 may still have applied it). Fly reboots a
        running machine and starts a stopped one unless `skip_launch`; `current_version` is
        the machine's `instance_id` as read (412 when it changed since), and a leased machine
        needs its lease's nonce (409 otherwise). The runbook's settings changes do not use it:
        they are releases (hotdash_ops.fly.app_config explains why).
        """
        validation.app_name(app)
        validation.machine_id(machine_id)
        payload: dict[str, Any] = {"config": config.to_api()}
        if current_version:
            payload["current_version"] = current_version
        if skip_launch:
            payload["skip_launch"] = True
        headers = {NONCE_HEADER: lease_nonce} if lease_nonce else None
        body = await self._mutate_json(
            "POST",
            f"/v1/apps/{_seg(app)}/machines/{_seg(machine_id)}",
            json=payload,
            headers=headers,
        )
        return Machine.model_validate(body)

    async def acquire_lease(self, app: str, machine_id: str, *, ttl_seconds: int) -> str:
        """POST /v1/apps/{app}/machines/{id}/lease {"ttl": N} -> the lease's nonce (409 when
        someone else holds it). Fly answers `{"status", "data": {nonce, ...}}` (fly-go
        MachineLease); the spec's Lease is the flat `data`: both are read."""
        validation.app_name(app)
        validation.machine_id(machine_id)
        body = await self._mutate_json(
            "POST",
            f"/v1/apps/{_seg(app)}/machines/{_seg(machine_id)}/lease",
            json={"ttl": ttl_seconds, "description": "hotdash-ops"},
        )
        data = body.get("data", body) if isinstance(body, dict) else {}
        nonce = data.get("nonce") if isinstance(data, dict) else None
        if not nonce:
            raise FlyBadRequest(f"lease on {machine_id}: the answer has no nonce")
        return str(nonce)

    async def release_lease(self, app: str, machine_id: str, nonce: str) -> None:
        """DELETE /v1/apps/{app}/machines/{id}/lease with the lease's nonce."""
        validation.app_name(app)
        validation.machine_id(machine_id)
        await self._mutate_json(
            "DELETE",
            f"/v1/apps/{_seg(app)}/machines/{_seg(machine_id)}/lease",
            headers={NONCE_HEADER: nonce},
        )

    async def extend_volume(self, app: str, volume_id: str, size_gb: int) -> VolumeExtendResult:
        """PUT /v1/apps/{app}/volumes/{id}/extend {"size_gb": N}. A mutation, not retried."""
        validation.app_name(app)
        validation.volume_id(volume_id)
        body = await self._mutate_json(
            "PUT",
            f"/v1/apps/{_seg(app)}/volumes/{_seg(volume_id)}/extend",
            json={"size_gb": size_gb},
        )
        return VolumeExtendResult.model_validate(body)
