"""What happened to alerts over time: every alert that fired, got worse or resolved, one JSON
line each in `<state>/alert-history.jsonl`.

The alert state (hotdash_ops.monitor.alert_state) holds only what is open now: a resolved alert
leaves it once its notice went out. The morning health check asks what fired or resolved
overnight, so the monitor appends each change here, under the alert state's lock, as the run
that saw it made it. Append-only; a line that cannot be read is skipped and counted, never
guessed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ValidationError

from hotdash_ops.monitor.alert_rules import RuleName, Severity

HISTORY_FILE = "alert-history.jsonl"


class Change(StrEnum):
    """What happened to an alert."""

    FIRED = "fired"
    WORSE = "worse"  # already firing, now worse (no data -> failing -> critical)
    RESOLVED = "resolved"


class AlertChange(BaseModel):
    """One change of one alert, as a monitor run saw it."""

    at: datetime
    app: str
    rule: RuleName
    change: Change
    condition: str  # failing | no_data
    severity: Severity
    detail: str
    silenced_until: datetime | None = None  # the alert was under a silence then

    @property
    def key(self) -> str:
        return f"{self.app}/{self.rule.value}"


class AlertHistoryRead(BaseModel):
    """The changes in a window, and how many lines could not be read."""

    changes: list[AlertChange]
    unreadable: int = 0


class AlertHistory:
    """The JSON-lines file. Writers hold the alert state's lock (one writer at a time)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, changes: Iterable[AlertChange]) -> None:
        lines = [c.model_dump_json() + "\n" for c in changes]
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())

    def between(self, start: datetime, end: datetime) -> AlertHistoryRead:
        """The changes with `start <= at <= end`, oldest first."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return AlertHistoryRead(changes=[])
        changes: list[AlertChange] = []
        unreadable = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                change = AlertChange.model_validate(json.loads(line))
            except (ValueError, ValidationError):
                unreadable += 1
                continue
            if start <= change.at <= end:
                changes.append(change)
        return AlertHistoryRead(changes=sorted(changes, key=lambda c: c.at), unreadable=unreadable)
