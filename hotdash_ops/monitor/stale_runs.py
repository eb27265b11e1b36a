"""A scheduled run that starts long after its time is a backlog, not a check: skip it.

After a worker or server outage Prefect still holds every missed 15-minute run; running them
all would check the same present state N times and re-send nothing useful. The monitor asks
`stale_reason` first and ends Completed ("skipped: stale") without checking anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hotdash_ops.local_time import shown


def stale_reason(
    scheduled_at: datetime | None, now: datetime, max_age_minutes: float, tz: str = "UTC"
) -> str | None:
    """Why a run scheduled at `scheduled_at` should be skipped at `now` (said in `tz`, the
    inventory's timezone); None to go ahead.

    `max_age_minutes` <= 0 disables the check (a person started the run and wants it).
    """
    if scheduled_at is None or max_age_minutes <= 0:
        return None
    late = now - scheduled_at
    if late <= timedelta(minutes=max_age_minutes):
        return None
    minutes = late.total_seconds() / 60
    return (
        f"skipped: stale (scheduled for {shown(scheduled_at, tz)}, "
        f"started {minutes:.0f} min late > {max_age_minutes:g} min; a newer run will check)"
    )
