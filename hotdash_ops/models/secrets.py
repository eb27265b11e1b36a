"""`fly secrets list --json` and Machines API `GET /apps/{app}/secrets` entries (names only)."""

from __future__ import annotations

from datetime import datetime

from hotdash_ops.models._base import FlyModel


class SecretInfo(FlyModel):
    """A secret's name and digest; its value is never read."""

    name: str
    digest: str | None = None
    status: str | None = None  # Deployed | Staged | Partial | Unknown (flyctl only)
    created_at: datetime | None = None
    updated_at: datetime | None = None
