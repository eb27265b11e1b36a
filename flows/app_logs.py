"""Quick Reference: an app's logs (`fly logs --app <app>`, "last 100 lines"), on demand.

The last `lines` lines (default 100) of the app's logs over the last `since_minutes`, read
page by page through Fly's logs API from the start of that range (`next_token`,
hotdash_ops.fly.logs), optionally only those containing `filter` (case-insensitive, like
`grep -i`), of one machine (`instance`) or one region. A table artifact `app-logs-<app>` shows
them oldest first; its description says how much was read and whether the page cap stopped
the read early.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.states import Completed, State
from pydantic import Field

from hotdash_ops.fly.logs import MAX_PAGES
from hotdash_ops.monitor.log_review import matching
from hotdash_ops.operator_input import SearchText
from hotdash_ops.redaction import default_redactor
from hotdash_ops.run_forms import InventoryApp, optional
from hotdash_ops.validation import MachineId, Region
from tasks import fly_access
from tasks.fleet_reads import read_logs_between
from tasks.reports import publish_table


@flow(name="app-logs", log_prints=False)
async def app_logs(
    app: InventoryApp,
    lines: Annotated[int, Field(ge=1, le=5000)] = 100,
    filter: optional(SearchText) = "",
    since_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60,
    instance: optional(MachineId) = "",
    region: optional(Region) = "",
    max_pages: Annotated[int, Field(ge=1, le=500)] = MAX_PAGES,
) -> State:
    """The last lines of an app's logs, optionally filtered, of one machine or region.

    Args:
        app: the Fly app
        lines: how many of the latest lines to show
        filter: only lines containing this text (any case, like `grep -i`); empty: all
        since_minutes: the time range read: the last N minutes
        instance: only this machine's lines (machine id); empty: every machine
        region: only this region's lines (e.g. ord); empty: every region
        max_pages: (expert) log pages (100 lines each) read at most
    """
    logger = get_run_logger()
    text = filter
    tz = ZoneInfo(fly_access.inventory().timezone)
    end = datetime.now(UTC)
    start = end - timedelta(minutes=since_minutes)

    # Logs (`fly logs --app <app>`), paged through the time range.
    window = await read_logs_between(
        app, start, end, max_pages=max_pages, region=region, instance=instance
    )
    found = matching(window.entries, text)
    shown = found[-lines:]
    rows = [
        {
            "time": e.timestamp.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
            if e.timestamp
            else "",
            "region": e.region or "",
            "instance": e.instance or "",
            "level": e.level or "",
            "message": e.message,
        }
        for e in shown
    ]
    where = "".join(
        [
            f" matching {text!r}" if text else "",
            f" of {instance}" if instance else "",
            f" in {region}" if region else "",
        ]  # fmt: skip
    )
    summary = default_redactor().redact(
        f"{app}: last {len(shown)} of {len(found)} line(s){where} from "
        f"{start.astimezone(tz):%Y-%m-%d %H:%M} to {end.astimezone(tz):%H:%M %Z}; "
        f"{window.describe(max_pages)}"
    )
    await publish_table(f"app-logs-{app}", rows, description=summary)
    logger.info(summary)
    return Completed(message=summary)


if __name__ == "__main__":
    import asyncio
    import sys

    asyncio.run(app_logs(app=sys.argv[1]))
