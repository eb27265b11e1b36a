"""One mutation of an app at a time: a Prefect global concurrency limit per app.

A deployment's own concurrency limit is not enough: a paused run releases its slot (Prefect's
`ReleaseFlowConcurrencySlots`; docs/prefect.md, "Concurrency"), and one app is changed by several
flows (deploy, rollback, scale, restart, auto-stop, volumes). The limit is created on first use
and acquired with strict=True, so a missing limit is an error, never a silent skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

DEFAULT_WAIT_SECONDS = 1800.0


def lock_name(app: str) -> str:
    return f"fly-app-{app}"


async def ensure_lock(app: str) -> None:
    """Create the app's limit (1 slot) if it does not exist; racing creators are fine."""
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(lock_name(app))
        except ObjectNotFound:
            try:
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=lock_name(app), limit=1)
                )
            except ObjectAlreadyExists:
                pass


@asynccontextmanager
async def app_lock(app: str, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> AsyncIterator[None]:
    """Hold the app's lock for the block; waits up to `wait_seconds` for another holder."""
    await ensure_lock(app)
    async with concurrency(lock_name(app), occupy=1, timeout_seconds=wait_seconds, strict=True):
        yield


async def locked_apps(apps: list[str]) -> set[str]:
    """The apps whose lock is held now (a deploy or another change is in progress)."""
    async with get_client() as client:
        limits = await client.read_global_concurrency_limits(limit=200, offset=0)
        held = {lim.name for lim in limits if lim.active_slots > 0}
        offset = 200
        while len(limits) == 200:
            limits = await client.read_global_concurrency_limits(limit=200, offset=offset)
            held |= {lim.name for lim in limits if lim.active_slots > 0}
            offset += 200
    return {app for app in apps if lock_name(app) in held}
