"""Quick Reference: list all apps (`fly apps list`), on demand.

Every app of the organisation (`FLY_ORG`) through the Machines API, each with its status, its
machines by state and its regions, and whether the inventory lists it; the inventory's apps
that Fly does not have are listed too (hotdash_ops.monitor.app_list). One table artifact,
`list-apps`. The run ends Failed only when the apps could not be read.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import Completed, State
from prefect.utilities.annotations import quote

from hotdash_ops.monitor.app_list import app_rows, summary
from tasks import fly_access
from tasks.fleet_reads import read_org_apps
from tasks.monitor_reads import read_fleet_machines
from tasks.reports import publish_table

ARTIFACT_KEY = "list-apps"


@flow(name="list-apps", log_prints=False)
async def list_apps() -> State:
    """Every app of the Fly organisation, against the inventory."""
    logger = get_run_logger()
    cfg = fly_access.settings()
    inventory = fly_access.inventory(cfg)
    # List all apps (`fly apps list`), and each one's machines (`fly status`).
    apps = await read_org_apps(cfg.fly_org)
    machines = await read_fleet_machines(quote([a.name for a in apps]))
    rows = app_rows(apps, machines, inventory)
    text = summary(cfg.fly_org, rows)
    await publish_table(ARTIFACT_KEY, [r.model_dump() for r in rows], description=text)
    logger.info(text)
    return Completed(message=text)


if __name__ == "__main__":
    import asyncio

    asyncio.run(list_apps())
