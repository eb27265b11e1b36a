"""Machines API `App` and `ListAppsResponse`."""

from __future__ import annotations

from pydantic import Field

from hotdash_ops.models._base import FlyModel


class Organization(FlyModel):
    """The org an app belongs to."""

    name: str | None = None
    slug: str | None = None


class App(FlyModel):
    """A Fly app as the Machines API shows it."""

    id: str | None = None
    name: str
    status: str | None = None
    machine_count: int | None = None
    volume_count: int | None = None
    network: str | None = None
    organization: Organization | None = None


class ListAppsResponse(FlyModel):
    """`GET /v1/apps?org_slug=`."""

    total_apps: int = 0
    apps: list[App] = Field(default_factory=list)
