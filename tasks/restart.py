"""Restart an app's machines (runbook: Incident Response "If memory leak, restart"; Quick
Reference "Restart app"). The caller holds the app's lock."""

from __future__ import annotations

import asyncio

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import fly_access
from tasks.audit import audited


@task(name="restart-app", cache_policy=NO_CACHE)
async def restart_app(app: str, *, actor: str, reason: str) -> str:
    """`fly apps restart APP`: a rolling restart of the app's machines. Not retried (a second
    restart is a second outage window); audited whether it worked or not."""
    with audited(actor=actor, action="restart", target=app, reason=reason):
        result = await asyncio.to_thread(fly_access.flyctl().restart, app)
    get_run_logger().info("%s: restarted", app)
    return result.stdout.strip()
