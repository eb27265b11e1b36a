"""Times shown to people: in the inventory's timezone (the project's one timezone), named.

Every report, form, notification and release tag a person reads says its times in one zone,
the inventory's `timezone`, with the zone's abbreviation on each time ("09:00 PDT") and its
IANA name where a text introduces its times ("times in America/Los_Angeles"). Stored
timestamps (audit log, events, artifacts' data) stay ISO 8601 with their offset.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo


def zone(tz: str | tzinfo) -> tzinfo:
    """The zone of an IANA name (the inventory's `timezone`) or a tzinfo."""
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def shown(at: datetime, tz: str | tzinfo, *, weekday: bool = False) -> str:
    """`2025-10-03 09:00 PDT` (`Fri 2025-10-03 09:00 PDT` with `weekday`): `at` in `tz`."""
    local = at.astimezone(zone(tz))
    return local.strftime("%a %Y-%m-%d %H:%M %Z" if weekday else "%Y-%m-%d %H:%M %Z")


def zone_name(tz: str | tzinfo) -> str:
    """The IANA name people read once per text ("times in America/Los_Angeles")."""
    return tz if isinstance(tz, str) else getattr(tz, "key", None) or str(tz)
