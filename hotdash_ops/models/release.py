"""`fly releases -a APP --json` elements (fly-go `Release`, PascalCase keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, Field, model_validator

from hotdash_ops.models._base import FlyModel


class Release(FlyModel):
    """One release; rollback targets the newest `complete` one older than the current."""

    id: str = Field(validation_alias=AliasChoices("ID", "id"))
    version: int = Field(validation_alias=AliasChoices("Version", "version"))
    stable: bool = Field(default=False, validation_alias=AliasChoices("Stable", "stable"))
    in_progress: bool = Field(
        default=False, validation_alias=AliasChoices("InProgress", "in_progress")
    )
    reason: str | None = Field(default=None, validation_alias=AliasChoices("Reason", "reason"))
    description: str | None = Field(
        default=None, validation_alias=AliasChoices("Description", "description")
    )
    status: str = Field(validation_alias=AliasChoices("Status", "status"))
    user_email: str | None = None
    user_name: str | None = None
    created_at: datetime = Field(validation_alias=AliasChoices("CreatedAt", "created_at"))
    image_ref: str | None = Field(
        default=None, validation_alias=AliasChoices("ImageRef", "image_ref")
    )

    @model_validator(mode="before")
    @classmethod
    def _flatten_user(cls, data: Any) -> Any:
        # User is nested ({"ID","Name","Email"}) in flyctl's JSON; we keep its email and name.
        if isinstance(data, dict):
            user = data.get("User") or data.get("user")
            if isinstance(user, dict):
                data = dict(data)
                data.setdefault("user_email", user.get("Email") or user.get("email") or None)
                data.setdefault("user_name", user.get("Name") or user.get("name") or None)
        return data

    @property
    def complete(self) -> bool:
        """The deploy finished successfully."""
        return self.status.lower() in ("complete", "succeeded")
