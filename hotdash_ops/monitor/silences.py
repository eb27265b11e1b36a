"""Silences for planned work (runbook Alert Response; Alertmanager's silences, simplified), pure.

A silence covers one app (or dependency) of the inventory, or every one (`*`), from when it is
made until it ends (`duration_minutes`) or someone expires it. While it is active the monitor
still judges the app, records its alerts in the alert history and shows them in its table as
"silenced until ...", but holds their notifications and `hotdash.alert.fired` events back
(hotdash_ops.monitor.alert_state). When the silence ends, the first monitor run sends what is
still firing.

Stored in `<state>/silences.json` (a `LockedJsonFile`, like the alert state); ended silences
are kept for a week so `list` shows what was silenced recently.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from hotdash_ops.locked_file import LockedJsonFile
from hotdash_ops.validation import EVERY_APP

SilenceAction = Literal["create", "list", "expire"]
SilenceId = Annotated[str, Field(pattern=r"^sil-[0-9a-f]{8}$", description="sil-xxxxxxxx")]
MAX_MINUTES = 7 * 24 * 60  # a silence longer than a week is a muted monitor, not planned work
KEEP_ENDED = timedelta(days=7)
SILENCES_FILE = "silences.json"


class Silence(BaseModel):
    """One silence: what it covers, when, why, and who asked."""

    id: str
    app: str  # an app or dependency of the inventory, or "*"
    starts_at: datetime
    ends_at: datetime
    reason: str
    requested_by: str
    expired_at: datetime | None = None  # expired by hand before `ends_at`
    expired_by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.expired_at is None and self.starts_at <= now < self.ends_at

    def covers(self, app: str) -> bool:
        return self.app in (EVERY_APP, app)

    @property
    def ended_at(self) -> datetime:
        return self.expired_at or self.ends_at

    def describe(self, tz: tzinfo, now: datetime) -> str:
        """`hotdash-staging until 2025-10-14 14:05 PDT (bob: DB migration)` (or ended ...)."""
        what = "every app" if self.app == EVERY_APP else self.app
        if self.active(now):
            when = f"until {self.ends_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"
        else:
            when = f"ended {self.ended_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"
        return f"{self.id}: {what} {when} ({self.requested_by}: {self.reason})"


class SilenceBook(BaseModel):
    """Every silence that is active or ended less than a week ago."""

    version: int = 1
    silences: list[Silence] = Field(default_factory=list)

    def active(self, now: datetime) -> list[Silence]:
        return [s for s in self.silences if s.active(now)]

    def silenced(self, apps: Collection[str], now: datetime) -> dict[str, datetime]:
        """app -> when its silence ends (the latest, when several cover it), for the apps
        an active silence covers."""
        out: dict[str, datetime] = {}
        for silence in self.active(now):
            for app in apps:
                if silence.covers(app) and silence.ends_at > out.get(app, silence.starts_at):
                    out[app] = silence.ends_at
        return out


def check_request(
    action: str,
    *,
    app: str | None,
    reason: str | None,
    requested_by: str | None,
    silence_id: str | None,
    known: Collection[str],
) -> None:
    """What each action needs; ValueError names the first field that is missing or wrong."""
    if action == "create":
        if app is None:
            raise ValueError("app: required to create a silence (an app, or * for every app)")
        if app != EVERY_APP and app not in known:
            raise ValueError(
                f"app: {app!r} is not an app or dependency of the inventory "
                f"(known: {', '.join(sorted(known))}, or *)"
            )
        for name, value in (("reason", reason), ("requested_by", requested_by)):
            if not value:
                raise ValueError(f"{name}: required to create a silence")
        if silence_id is not None:
            raise ValueError("silence_id: only used by action expire")
    elif action == "expire":
        if not silence_id:
            raise ValueError("silence_id: required to expire a silence (see action list)")
        if not requested_by:
            raise ValueError("requested_by: required to expire a silence")
    elif action != "list":
        raise ValueError(f"action: must be create, list or expire, not {action!r}")


def new_silence_id() -> str:
    return f"sil-{secrets.token_hex(4)}"


def create_silence(
    book: SilenceBook,
    *,
    app: str,
    minutes: int,
    reason: str,
    requested_by: str,
    now: datetime,
    silence_id: str | None = None,
) -> tuple[SilenceBook, Silence]:
    """Add a silence from `now` for `minutes`; ValueError names the field that is wrong."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValueError(f"duration_minutes: must be between 1 and {MAX_MINUTES}, not {minutes}")
    silence = Silence(
        id=silence_id or new_silence_id(),
        app=app,
        starts_at=now,
        ends_at=now + timedelta(minutes=minutes),
        reason=reason,
        requested_by=requested_by,
    )
    kept = [s for s in book.silences if now - s.ended_at < KEEP_ENDED]
    return SilenceBook(silences=[*kept, silence]), silence


def expire_silence(
    book: SilenceBook, silence_id: str, *, by: str, now: datetime
) -> tuple[SilenceBook, Silence]:
    """End an active silence now; ValueError when there is no such active silence."""
    found = [s for s in book.silences if s.id == silence_id]
    if not found:
        raise ValueError(f"silence_id: no silence {silence_id!r} (see action list)")
    if not found[0].active(now):
        raise ValueError(f"silence_id: {silence_id} has already ended")
    ended = found[0].model_copy(update={"expired_at": now, "expired_by": by})
    silences = [ended if s.id == silence_id else s for s in book.silences]
    return SilenceBook(silences=silences), ended


class SilenceStore(LockedJsonFile[SilenceBook]):
    """`<state>/silences.json`."""

    def __init__(self, path: Path, *, lock_timeout: float = 60.0) -> None:
        super().__init__(path, SilenceBook, lock_timeout=lock_timeout)
