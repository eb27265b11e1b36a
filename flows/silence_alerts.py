"""Monitoring & Alerts / Alert Response: planned work. Silences, as Alertmanager has them.

* create: hold the alerts of one app or dependency (or `*`, every one) for `duration_minutes`,
  with the reason and who asks. The monitor still judges the app every tick, records its
  alerts in the alert history and shows them in its table as "silenced until ..." (a critical
  one on production included, with a warning in the run log); only the notifications and the
  incident events wait. When the silence ends, the next monitor run sends what still fires.
* list: the active silences and those that ended in the last week.
* expire: end a silence now (its alerts go out from the next monitor run).

Creating and expiring are audited (`silence.create`, `silence.expire`). The `silence-alerts`
table artifact shows the silences after the run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.states import Completed, State
from pydantic import Field

from hotdash_ops.monitor.silences import (
    MAX_MINUTES,
    SilenceAction,
    SilenceId,
    check_request,
)
from hotdash_ops.operator_input import Reason, Requester
from hotdash_ops.run_forms import EveryOrInventoryTarget, optional
from tasks import fly_access
from tasks.reports import publish_table
from tasks.silences import add_silence, end_silence, read_silences

ARTIFACT_KEY = "silence-alerts"


@flow(name="silence-alerts", log_prints=False)
async def silence_alerts(
    action: SilenceAction = "create",
    app: EveryOrInventoryTarget = "",
    duration_minutes: Annotated[int, Field(ge=1, le=MAX_MINUTES)] = 60,
    reason: optional(Reason) = "",
    requested_by: optional(Requester) = "",
    silence_id: optional(SilenceId) = "",
) -> State:
    """Silence an app's alerts for planned work, list the silences, or end one.

    Args:
        action: create | list | expire
        app: the app or dependency to silence, or * for every one (create)
        duration_minutes: how long the silence lasts (create), at most a week
        reason: why, e.g. "database migration" (create; audit log)
        requested_by: who asks (create, expire; audit log)
        silence_id: the silence to end (expire; see list)
    """
    logger = get_run_logger()
    inventory = fly_access.inventory()
    known = {a.name for a in inventory.apps} | {d.name for d in inventory.dependencies}
    check_request(
        action,
        app=app,
        reason=reason,
        requested_by=requested_by,
        silence_id=silence_id,
        known=known,
    )
    tz = ZoneInfo(inventory.timezone)
    if action == "create":
        assert app is not None and reason is not None and requested_by is not None
        silence = await add_silence(app, duration_minutes, reason=reason, requested_by=requested_by)
        summary = f"silenced {silence.describe(tz, datetime.now(UTC))}"
    elif action == "expire":
        assert silence_id is not None and requested_by is not None
        silence = await end_silence(
            silence_id, requested_by=requested_by, reason=reason or "expired by hand"
        )
        summary = (
            f"expired {silence.id} ({silence.app}) by {silence.expired_by}: its alerts are sent "
            "from the next monitor run"
        )
    else:
        summary = ""
    now = datetime.now(UTC)
    book = read_silences()
    active = book.active(now)
    if not summary:
        summary = f"{len(active)} active silence(s)" + (
            ": " + "; ".join(s.describe(tz, now) for s in active) if active else ""
        )
    rows = [
        {
            "id": s.id,
            "app": s.app,
            "state": "active" if s.active(now) else "ended",
            "from": s.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
            "until": s.ended_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
            "reason": s.reason,
            "requested by": s.requested_by,
            "expired by": s.expired_by or "",
        }
        for s in sorted(book.silences, key=lambda s: s.starts_at, reverse=True)
    ]
    await publish_table(ARTIFACT_KEY, rows, description=summary)
    logger.info(summary)
    return Completed(message=summary)


if __name__ == "__main__":
    import asyncio

    asyncio.run(silence_alerts(action="list"))
