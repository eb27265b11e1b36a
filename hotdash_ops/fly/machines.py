"""Machines API client (`https://api.machines.dev`, paths `/v1/...`): the monitor's reads.

Similar to `fly apps list`, `fly machines list`, `fly volumes list`, `fly secrets list`, read
over HTTP so each monitor tick costs no process start.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter

from hotdash_ops import validation
from hotdash_ops.fly.http import FlyHttpClient
from hotdash_ops.models import (
    App,
    ListAppsResponse,
    Machine,
    MachineConfig,
    SecretInfo,
    Volume,
    VolumeExtendResult,
)

_MACHINES = TypeAdapter(list[Machine])
_VOLUMES = TypeAdapter(list[Volume])
_SECRETS = TypeAdapter(list[SecretInfo])


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
        """GET /v1/apps/{app}/volumes (like `fly volumes list -a APP --json`)."""
        validation.app_name(app)
        return _VOLUMES.validate_python(await self._get_json(f"/v1/apps/{_seg(app)}/volumes"))

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
    ) -> Machine:
        """POST /v1/apps/{app}/machines/{id} {"config": ...}: replaces the config whole.

        A MUTATION: sent once, never retried (a 503 may still have applied it). Used by
        Enable Auto-Stop to set `autostop`/`autostart`/`min_machines_running` on services.
        """
        validation.app_name(app)
        validation.machine_id(machine_id)
        payload: dict[str, Any] = {"config": config.to_api()}
        if current_version:
            payload["current_version"] = current_version
        body = await self._mutate_json(
            "POST", f"/v1/apps/{_seg(app)}/machines/{_seg(machine_id)}", json=payload
        )
        return Machine.model_validate(body)

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
