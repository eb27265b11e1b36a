"""`fly status -a APP --json` (PascalCase app fields, snake_case Machines)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, field_validator

from hotdash_ops.models._base import FlyModel
from hotdash_ops.models.machine import Machine


class StatusOrganization(FlyModel):
    """`Organization` in `fly status --json`."""

    slug: str | None = Field(default=None, validation_alias=AliasChoices("Slug", "slug"))
    name: str | None = Field(default=None, validation_alias=AliasChoices("Name", "name"))


class AppStatus(FlyModel):
    """An app's status with its (Fly-Launch-managed) machines."""

    id: str | None = Field(default=None, validation_alias=AliasChoices("ID", "id"))
    name: str = Field(validation_alias=AliasChoices("Name", "name"))
    deployed: bool | None = Field(
        default=None, validation_alias=AliasChoices("Deployed", "deployed")
    )
    status: str | None = Field(default=None, validation_alias=AliasChoices("Status", "status"))
    hostname: str | None = Field(
        default=None, validation_alias=AliasChoices("Hostname", "hostname")
    )
    version: int | None = Field(default=None, validation_alias=AliasChoices("Version", "version"))
    organization: StatusOrganization | None = Field(
        default=None, validation_alias=AliasChoices("Organization", "organization")
    )
    machines: list[Machine] = Field(
        default_factory=list, validation_alias=AliasChoices("Machines", "machines")
    )

    @field_validator("machines", mode="before")
    @classmethod
    def _null_machines(cls, value: Any) -> Any:
        return [] if value is None else value
